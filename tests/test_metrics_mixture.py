"""The 2-D ring and grid (VEEGAN, PacGAN) and their figures, on hand-worked point sets."""

import math

import numpy as np
import pytest
from scipy import stats

from metrics import mixture as mx
from metrics.errors import MetricsError

RING, GRID = mx.Mixture.ring(), mx.Mixture.grid()


def test_ring_and_grid_are_the_papers_mixtures():
    assert RING.num_modes == 8 and RING.sigma == 0.01
    np.testing.assert_allclose(np.hypot(*RING.centres.T), 1.0)
    np.testing.assert_allclose(RING.centres[1], [math.sqrt(0.5), math.sqrt(0.5)])
    np.testing.assert_allclose(RING.centres[2], [0.0, 1.0], atol=1e-15)
    assert GRID.num_modes == 25 and GRID.sigma == 0.05
    assert sorted(map(tuple, GRID.centres.tolist())) == [
        (float(i), float(j)) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)]
    assert not RING.centres.flags.writeable


@pytest.mark.parametrize("centres, sigma", [
    (np.zeros((3, 3)), 0.1), (np.zeros((0, 2)), 0.1), ([[0.0, np.nan]], 0.1),
    (np.zeros((2, 2)), 0.0), (np.zeros((2, 2)), float("inf")), (np.zeros((2, 2)), "0.1"),
])
def test_mixture_refuses_bad_centres_or_sigma(centres, sigma):
    with pytest.raises(MetricsError, match=r"mixture 'm': (centres|sigma)"):
        mx.Mixture("m", centres, sigma)


def test_points_at_k_centres_cover_k_modes_evenly():
    for mixture, chosen in ((RING, [0, 3, 5]), (GRID, list(range(0, 25, 3)))):
        points = np.repeat(mixture.centres[chosen], 4, axis=0)  # 4 points at each
        scores = mx.mixture_scores(mixture, points)
        k, big_k = len(chosen), mixture.num_modes
        assert scores["mixture_modes"] == k == mx.modes_covered(mixture, points)
        assert scores["high_quality"] == 1.0 == mx.high_quality_share(mixture, points)
        assert scores["reverse_kl"] == pytest.approx(math.log(big_k / k), rel=1e-12)
        index, distance = mx.nearest_modes(mixture, points)
        assert index.tolist() == np.repeat(chosen, 4).tolist()
        np.testing.assert_allclose(distance, 0.0, atol=1e-12)
    all_modes = np.repeat(GRID.centres, 2, axis=0)
    assert mx.reverse_kl(GRID, all_modes) == pytest.approx(0.0, abs=1e-12)


def test_reverse_kl_of_an_uneven_split():
    # 3:1 over two of the ring's 8 modes: 3/4 ln(3/4 * 8) + 1/4 ln(1/4 * 8)
    points = RING.centres[[0, 0, 0, 5]]
    assert mx.reverse_kl(RING, points) == pytest.approx(0.75 * math.log(6) + 0.25 * math.log(2),
                                                        rel=1e-12)
    np.testing.assert_array_equal(mx.mode_counts(RING, points), [3, 0, 0, 0, 0, 1, 0, 0])


def test_total_collapse_is_one_mode_and_ln_k():
    points = np.repeat(GRID.centres[[7]], 50, axis=0)
    scores = mx.mixture_scores(GRID, points)
    assert scores["mixture_modes"] == 1 and scores["high_quality"] == 1.0
    assert scores["reverse_kl"] == pytest.approx(math.log(25), rel=1e-12)


def test_points_far_from_every_mode_are_not_high_quality():
    points = np.zeros((10, 2))  # the ring's centre: 100 sigma from each mode
    scores = mx.mixture_scores(RING, points)
    assert scores["mixture_modes"] == 0 and scores["high_quality"] == 0.0
    assert scores["reverse_kl"] == math.log(8)  # no high-quality sample: the worst KL, ln K
    np.testing.assert_allclose(mx.nearest_modes(RING, points)[1], 100.0)


def test_reverse_kl_and_modes_count_only_high_quality_samples():
    # half the points on mode 4, half 10 sigma off mode 9 (nearest to it, not high quality)
    points = np.concatenate([np.repeat(GRID.centres[[4]], 3, axis=0),
                             np.repeat(GRID.centres[[9]] + [0.0, 10 * GRID.sigma], 3, axis=0)])
    scores = mx.mixture_scores(GRID, points)
    assert scores["high_quality"] == 0.5 and scores["mixture_modes"] == 1
    assert scores["reverse_kl"] == pytest.approx(math.log(25), rel=1e-12)
    assert mx.nearest_modes(GRID, points)[0].tolist() == [4, 4, 4, 9, 9, 9]


@pytest.mark.parametrize("sigmas, inside", [(2.9, True), (3.1, False)])
def test_the_three_sigma_edge(sigmas, inside):
    for mixture, mode in ((RING, 2), (GRID, 12)):
        direction = np.array([0.6, -0.8])  # a unit vector off the axes
        point = (mixture.centres[mode] + sigmas * mixture.sigma * direction)[None]
        index, distance = mx.nearest_modes(mixture, point.astype(np.float32))
        assert index.tolist() == [mode] and distance[0] == pytest.approx(sigmas, rel=1e-5)
        assert mx.high_quality_share(mixture, point) == float(inside)
        assert mx.modes_covered(mixture, point) == int(inside)


def test_log_likelihood_at_a_centre_is_the_hand_value():
    for mixture in (RING, GRID):
        k, s = mixture.num_modes, mixture.sigma
        hand = math.log(1 / k * 1 / (2 * math.pi * s * s))
        # the other modes add exp(-d^2 / 2) with d >= 40 sigma (the grid's spacing over sigma;
        # the ring's neighbours are 76.5 sigma apart): below 1e-300 of the own mode's term
        nearest_other = np.sort(np.hypot(*(mixture.centres - mixture.centres[0]).T))[1] / s
        assert math.exp(-nearest_other ** 2 / 2) < 1e-300
        assert mx.log_likelihood(mixture, mixture.centres[[0]]) == pytest.approx(hand, rel=1e-12)
    assert mx.log_likelihood(RING, RING.centres) == pytest.approx(5.293021763887, rel=1e-12)
    assert mx.log_likelihood(GRID, GRID.centres) == pytest.approx(0.934711655830, rel=1e-11)


def test_log_likelihood_matches_scipy_over_components():
    rng = np.random.default_rng(5)
    for mixture in (RING, GRID):
        # samples, and points midway between modes where two components weigh about the same
        near = mixture.sample(200, seed=3).astype(np.float64)
        midway = (mixture.centres[:-1] + mixture.centres[1:]) / 2 + rng.normal(0, 0.01, (1, 2))
        points = np.concatenate([near, midway])
        cov = mixture.sigma ** 2 * np.eye(2)
        density = sum(stats.multivariate_normal(c, cov).pdf(points) for c in mixture.centres)
        want = np.mean(np.log(density / mixture.num_modes))
        assert mx.log_likelihood(mixture, points) == pytest.approx(want, rel=1e-10)


def test_log_likelihood_of_far_points_stays_finite():
    point = np.array([[100.0, 100.0]])  # ~14,000 sigma from the ring: every pdf underflows
    d = np.hypot(*(point - RING.centres).T).min() / RING.sigma
    hand = -d * d / 2 - math.log(8) - math.log(2 * math.pi * RING.sigma ** 2)
    assert mx.log_likelihood(RING, point) == pytest.approx(hand, rel=1e-12)


def test_samples_of_the_mixture_score_as_real_data():
    for mixture in (RING, GRID):
        points = mixture.sample(10_000, seed=0)
        assert points.shape == (10_000, 2) and points.dtype == np.float32
        scores = mx.mixture_scores(mixture, points)
        assert scores["mixture_modes"] == mixture.num_modes
        # P(chi2_2 < 9) = 1 - e^-4.5; its standard error at 10,000 samples is 0.00105
        assert scores["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.004)
        # a uniform histogram's KL from uniform is (K - 1) / (2n) on average: 0.0004, 0.0012
        assert 0 <= scores["reverse_kl"] < 0.005
        at_centre = -math.log(mixture.num_modes) - math.log(2 * math.pi * mixture.sigma ** 2)
        assert scores["log_likelihood"] == pytest.approx(at_centre - 1, abs=0.03)
        index, distance = mx.nearest_modes(mixture, points)
        offsets = points - mixture.centres[index]
        assert offsets.std(axis=0) == pytest.approx([mixture.sigma] * 2, rel=0.03)
        shares = np.bincount(index, minlength=mixture.num_modes) / len(points)
        assert shares == pytest.approx(np.full(mixture.num_modes, 1 / mixture.num_modes),
                                       abs=0.01)


def test_sample_is_deterministic_for_a_seed():
    a, b, c = GRID.sample(500, seed=7), GRID.sample(500, seed=7), GRID.sample(500, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert mx.mixture_scores(GRID, a) == mx.mixture_scores(GRID, b)


def test_scores_agree_with_the_single_figures():
    points = GRID.sample(400, seed=1) * 1.02  # outer modes moved 0.8 to 1.6 sigma: some out
    scores = mx.mixture_scores(GRID, points)
    assert tuple(scores) == mx.SCORE_KEYS
    assert scores == {"mixture_modes": mx.modes_covered(GRID, points),
                      "high_quality": mx.high_quality_share(GRID, points),
                      "reverse_kl": mx.reverse_kl(GRID, points),
                      "log_likelihood": mx.log_likelihood(GRID, points)}
    assert 0.3 < scores["high_quality"] < 0.95  # the case is mixed, not all in or all out


@pytest.mark.parametrize("points, message", [
    (np.zeros((5, 3)), r"shaped \(n >= 1, 2\).*got \(5, 3\)"),
    (np.zeros(5), r"shaped \(n >= 1, 2\).*got \(5,\)"),
    (np.zeros((0, 2)), r"shaped \(n >= 1, 2\).*got \(0, 2\)"),
    (np.zeros((2, 2, 2)), r"got \(2, 2, 2\)"),
    ([[0.0, np.nan], [1.0, 1.0], [np.inf, 0.0]], r"2 of 3 mixture samples contain NaN or inf"),
    ([["a", "b"]], r"numeric \(n, 2\) array"),
])
def test_bad_samples_are_one_clear_line(points, message):
    for figure in (mx.mixture_scores, mx.nearest_modes, mx.log_likelihood, mx.reverse_kl):
        with pytest.raises(MetricsError, match=message) as caught:
            figure(RING, points)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_refuses_a_bad_count(n):
    with pytest.raises(MetricsError, match="sample count must be a positive integer"):
        RING.sample(n, seed=0)
