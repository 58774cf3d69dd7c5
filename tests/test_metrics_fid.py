"""Fréchet distance against closed forms and a scipy.linalg.sqrtm reference; its interval."""

import numpy as np
import pytest
import scipy.linalg

from metrics import fid
from metrics.errors import MetricsError


def random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.5 * np.eye(d)  # well conditioned: eigenvalues >= 0.5


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 0.0, 1.0), (1.0, 2.0, -0.5, 0.3),
                                         (3.0, 0.1, 3.0, 5.0)])
def test_1d_gaussians_closed_form(m1, s1, m2, s2):
    expected = (m1 - m2) ** 2 + s1**2 + s2**2 - 2 * s1 * s2
    assert fid.frechet_distance([m1], [[s1**2]], [m2], [[s2**2]]) == pytest.approx(expected,
                                                                                    abs=1e-12)


def test_diagonal_gaussians_sum_per_dimension():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((m1 - m2) ** 2 + s1**2 + s2**2 - 2 * s1 * s2)
    got = fid.frechet_distance(m1, np.diag(s1**2), m2, np.diag(s2**2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_set_with_itself_is_zero():
    features = np.random.default_rng(1).normal(size=(2000, 64)).astype(np.float32)
    assert abs(fid.fid_from_features(features, features)) < 1e-6


def test_eigenvalue_route_matches_sqrtm():
    rng = np.random.default_rng(2)
    for d in (2, 16, 64):
        s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
        m1, m2 = rng.normal(size=d), rng.normal(size=d)
        trace_sqrt = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
        expected = (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
        assert fid.frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-6)


def test_symmetric():
    rng = np.random.default_rng(3)
    s1, s2 = random_covariance(rng, 10), random_covariance(rng, 10)
    m1, m2 = rng.normal(size=10), rng.normal(size=10)
    assert fid.frechet_distance(m1, s1, m2, s2) == pytest.approx(
        fid.frechet_distance(m2, s2, m1, s1), rel=1e-9)


def test_statistics_are_unbiased_mean_and_covariance():
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = fid.statistics(x)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    # by hand: deviations (-2, 0, 2) and (-1, -1, 2); var = 8/2 = 4 and 6/2 = 3;
    # cov = ((-2)(-1) + 0 + (2)(2)) / 2 = 3
    np.testing.assert_allclose(sigma, [[4.0, 3.0], [3.0, 3.0]])


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((1, 4)), np.zeros((2, 2, 2))])
def test_statistics_reject_bad_shapes(bad):
    with pytest.raises(MetricsError):
        fid.statistics(bad)


def test_mismatched_statistics_raise():
    with pytest.raises(MetricsError, match="do not match"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def plain_bootstrap(x, mu, sigma, resamples, seed):
    """The same resamples as fid_interval (one generator, N indices each), by the plain route."""
    rng = np.random.default_rng(seed)
    values = [fid.frechet_distance(*fid.statistics(x[rng.integers(0, len(x), len(x))]), mu,
                                   sigma) for _ in range(resamples)]
    return np.asarray(values)


def test_fid_interval_matches_a_plain_bootstrap():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(2000, 6))
    x = rng.normal(size=(300, 6)) * 1.2 + 0.3
    mu, sigma = fid.statistics(real)
    values = plain_bootstrap(x, mu, sigma, resamples=50, seed=9)
    point = fid.fid_from_features(x, real)
    # the percentile range of the resampled FIDs around their mean, placed at the estimate
    low, high = point + np.percentile(values - values.mean(), [2.5, 97.5])
    got = fid.fid_interval(x, mu, sigma, resamples=50, seed=9)
    assert got == pytest.approx((low, high), rel=1e-5)
    assert values.mean() > point  # resamples repeat rows: the bias the centring removes


def test_fid_interval_contains_the_estimate_shrinks_with_n_and_is_seeded():
    rng = np.random.default_rng(7)
    real = rng.normal(size=(5000, 16))
    mu, sigma = fid.statistics(real)
    widths = []
    for n in (200, 800, 3200):
        x = rng.normal(size=(n, 16)) * 1.1 + 0.1
        low, high = fid.fid_interval(x, mu, sigma, seed=1)
        assert low < fid.fid_from_features(x, real) < high
        assert fid.fid_interval(x, mu, sigma, seed=1) == (low, high)
        widths.append(high - low)
    # sampling noise falls like 1 / sqrt(N): four times the samples, about half the width
    assert widths[0] > 1.5 * widths[1] > 2.25 * widths[2]


def test_fid_interval_covers_fids_expectation_at_its_n_as_often_as_it_claims():
    # Gaussians of known FID: samples N(mu_g, sigma_g) against the fixed real N(0, I). Over
    # many draws of n samples, FID's estimate averages the true FID plus its bias at n; the
    # interval (sampling noise at n, placed at the estimate) should hold that average in
    # about 95 % of draws, and be as wide as the estimates' own 95 % spread
    rng = np.random.default_rng(11)
    d, n, trials = 6, 400, 150
    mu_r, sigma_r = np.zeros(d), np.eye(d)
    a = rng.normal(size=(d, d)) * 0.3
    mu_g, sigma_g = np.full(d, 0.3), 0.8 * np.eye(d) + a @ a.T
    true = fid.frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
    root = np.linalg.cholesky(sigma_g)
    estimates, intervals = [], []
    for t in range(trials):
        x = mu_g + rng.normal(size=(n, d)) @ root.T
        estimates.append(fid.frechet_distance(*fid.statistics(x), mu_r, sigma_r))
        intervals.append(fid.fid_interval(x, mu_r, sigma_r, seed=t))
    expected = np.mean(estimates)
    assert expected > true  # the bias at n, which the interval does not claim to hold
    covered = np.mean([low <= expected <= high for low, high in intervals])
    assert 0.89 <= covered <= 0.99  # 95 % nominal; 150 draws give a standard error of 0.018
    width = np.mean([high - low for low, high in intervals])
    spread = np.subtract(*np.percentile(estimates, [97.5, 2.5]))
    assert width == pytest.approx(spread, rel=0.2)


def test_fid_interval_rejects_bad_arguments():
    with pytest.raises(MetricsError, match="resamples"):
        fid.fid_interval(np.zeros((10, 2)), np.zeros(2), np.eye(2), resamples=1)
    with pytest.raises(MetricsError, match="level"):
        fid.fid_interval(np.zeros((10, 2)), np.zeros(2), np.eye(2), level=95)
