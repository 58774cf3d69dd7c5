"""Precision/recall, density/coverage, pairwise distance and memorization on point sets."""

import numpy as np
import pytest

from metrics import diversity
from metrics.errors import MetricsError


def test_identical_sets():
    x = np.random.default_rng(0).normal(size=(500, 8))
    got = diversity.manifold_scores(x, x.copy())
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    # each real ball strictly holds its own centre and its 4 nearest neighbours; the 5th
    # lies on the edge (it defines the radius) and is outside: 5 per ball, density 5 / 5
    assert got["density"] == 1.0


def test_a_sample_on_a_ball_edge_is_inside_for_precision_outside_for_density():
    # real {0, 1, 2, 3} with k = 1: every real radius is 1.
    # samples {2, 10} with k = 1: each sample's radius is 8 (the other sample).
    # precision (<=): 2 is in the ball of 2 (and on the edges of 1 and 3) -> 1/2
    # recall: every real point is within 8 of the sample 2 -> 1
    # density (<): 2 lies strictly inside the ball of 2 only -> 1 / (1 * 2); counting the
    #   edges would give 3 / 2
    # coverage (<): only the ball of 2 holds a sample strictly inside -> 1/4 (edges: 3/4)
    real, samples = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[2.0], [10.0]])
    got = diversity.manifold_scores(real, samples, k_pr=1, k_dc=1)
    assert got == {"precision": 0.5, "recall": 1.0, "density": 0.5, "coverage": 0.25}


# offset 40: |x|^2 ~ 16,000 against squared distances ~ 20, where float32's |x|^2 + |y|^2 - 2x.y
# is off by ~0.01-0.1: most decisions go to the float64 recomputation, which must settle them
@pytest.mark.parametrize("k, offset", [(3, 0.0), (5, 0.0), (3, 40.0)])
def test_agrees_with_the_reference_implementation_prdc(k, offset, capsys, monkeypatch):
    prdc = pytest.importorskip("prdc", reason="prdc is a dev dependency: pip install -e .[dev]")
    monkeypatch.setattr(diversity, "SELECT_COLUMNS", 16)  # the candidate step, not a full sort
    rng = np.random.default_rng(k)
    real = rng.normal(size=(400, 10)) + offset
    fake = rng.normal(size=(300, 10)) * 1.2 + 0.2 + offset
    ours = diversity.manifold_scores(real, fake, k_pr=k, k_dc=k)
    theirs = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    assert ours == pytest.approx({key: float(v) for key, v in theirs.items()}, abs=1e-12)
    assert 0.0 < ours["density"] < 1.0 < diversity.manifold_scores(real, real)["density"] + 1e-9


def test_same_distribution_density_near_one():
    rng = np.random.default_rng(1)
    got = diversity.manifold_scores(rng.normal(size=(3000, 4)), rng.normal(size=(3000, 4)))
    assert got["density"] == pytest.approx(1.0, abs=0.1)
    assert got["precision"] > 0.9 and got["recall"] > 0.9 and got["coverage"] > 0.9


def test_far_apart_sets_score_zero():
    x = np.random.default_rng(2).normal(size=(300, 8))
    got = diversity.manifold_scores(x, x + 100.0)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_hand_worked_one_dimensional_case():
    # real {0, 1, 2, 3} with k = 1: every real radius is 1.
    # samples {0.5, 10} with k = 1: each sample's radius is 9.5 (the other sample).
    # precision: 0.5 is within 1 of 0 -> in; 10 is not -> 1/2
    # recall: every real point is within 9.5 of 0.5 -> 1
    # density: 0.5 lies in the balls of 0 and 1 (distance 0.5), not 2 (1.5) -> 2 / (1 * 2)
    # coverage: 0 and 1 have a sample within 1, 2 and 3 do not -> 1/2
    real, samples = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0]])
    got = diversity.manifold_scores(real, samples, k_pr=1, k_dc=1)
    assert got == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.5}


def test_precomputed_radii_give_the_same_answer():
    rng = np.random.default_rng(3)
    real, samples = rng.normal(size=(400, 5)), rng.normal(size=(300, 5)) * 1.3
    radii = {k: diversity.kth_neighbour_radii(real, k) for k in (3, 5)}
    assert diversity.manifold_scores(real, samples, real_radii=radii) == (
        diversity.manifold_scores(real, samples))


def test_chunking_does_not_change_results(monkeypatch):
    rng = np.random.default_rng(4)
    real, samples = rng.normal(size=(200, 3)), rng.normal(size=(250, 3)) + 0.3
    whole = diversity.manifold_scores(real, samples)
    monkeypatch.setattr(diversity, "BLOCK_BYTES", 4 * 7 * 250)
    assert diversity.manifold_scores(real, samples) == whole


@pytest.mark.parametrize("offset", [0.0, 300.0])
def test_kth_radii_and_nearest_distances_equal_a_full_float64_sort(offset, monkeypatch):
    # small blocks and few head columns: every stage (blocks, the candidates' bound, the
    # float64 recomputation) is crossed; offset 300 makes float32 distances meaningless
    monkeypatch.setattr(diversity, "BLOCK_BYTES", 4 * 37 * 500)
    monkeypatch.setattr(diversity, "SELECT_COLUMNS", 9)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 6)) + offset
    x[10] = x[11]  # a duplicate: its nearest other point is at 0
    q = rng.normal(size=(120, 6)) * 1.5 + offset
    full = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    for k in (1, 3, 5):
        np.testing.assert_allclose(diversity.kth_neighbour_radii(x, k),
                                   np.sort(full, axis=1)[:, k], rtol=1e-12, atol=1e-12)
    assert diversity.kth_neighbour_radii(x, 1)[10] == 0.0
    to_x = np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(diversity.nearest_distances(q, x), to_x, rtol=1e-12)


def test_collapsed_samples_lose_recall_and_coverage():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(1000, 4))
    collapsed = real[:1] + rng.normal(scale=1e-3, size=(1000, 4))
    got = diversity.manifold_scores(real, collapsed)
    assert got["precision"] == 1.0  # every sample looks real ...
    assert got["recall"] < 0.01 and got["coverage"] < 0.01  # ... but covers one spot


def test_mean_pairwise_distance():
    # points 0, 1, 3: pair distances 1, 3, 2 -> mean 2
    assert diversity.mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2)
    # a 3-4-5 triangle: mean (3 + 4 + 5) / 3 = 4, each pair counted once
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert diversity.mean_pairwise_distance(triangle) == pytest.approx(4.0, rel=1e-15)
    # scipy's pdist mean is the old full-matrix sum over n (n - 1) ordered pairs
    x = np.random.default_rng(3).normal(size=(40, 6))
    full = np.linalg.norm(x[:, None] - x[None, :], axis=-1)
    assert diversity.mean_pairwise_distance(x) == pytest.approx(
        full.sum() / (40 * 39), rel=1e-12)
    assert diversity.mean_pairwise_distance(np.ones((10, 4))) == pytest.approx(0.0, abs=1e-6)
    # the subset is seeded: the same answer twice
    x = np.random.default_rng(6).normal(size=(5000, 3))
    assert diversity.mean_pairwise_distance(x, max_n=500) == diversity.mean_pairwise_distance(
        x, max_n=500)


def test_memorization():
    train = np.array([[0.0], [10.0]])
    # distances of test images to their nearest training image: 1..100; 5th percentile 5.95
    threshold = diversity.memorization_threshold(np.arange(1.0, 101.0))
    assert threshold == pytest.approx(5.95)
    samples = np.array([[0.0], [10.5], [3.0], [7.0]])  # nearest distances 0, 0.5, 3, 3
    to_train = diversity.nearest_distances(samples, train)
    np.testing.assert_allclose(to_train, [0.0, 0.5, 3.0, 3.0])
    assert diversity.memorization(to_train, threshold) == 1.0
    assert diversity.memorization(to_train, 1.0) == 0.5


@pytest.mark.parametrize("bad", [np.zeros((5, 2, 2)), np.full((5, 2), np.nan)])
def test_bad_features_raise(bad):
    with pytest.raises(MetricsError):
        diversity.manifold_scores(np.zeros((10, 2)), bad)


def test_too_few_points_for_k_raise():
    with pytest.raises(MetricsError, match="more than k"):
        diversity.kth_neighbour_radii(np.zeros((3, 2)), k=3)


def test_k_is_capped_at_a_tenth_of_the_real_points():
    assert [diversity.capped_k(5, n) for n in (10000, 50, 49, 24, 19, 2)] == [5, 5, 4, 2, 1, 1]
    assert [diversity.capped_k(3, n) for n in (30, 29, 24)] == [3, 2, 2]
    # with the capped k a real set of 24 points has radii (k = 5 would still work, with balls
    # holding a fifth of the set; below 6 points it could not)
    real = np.arange(24, dtype=float)[:, None]  # points 1 apart on a line
    radii = diversity.kth_neighbour_radii(real, diversity.capped_k(5, 24))
    assert radii[0] == 2.0 and radii[12] == 1.0  # an end point's 2nd neighbour is 2 away


def test_samples_collapsed_onto_one_point_keep_memory_flat():
    """Every pair of identical samples is a float32 tie the float64 check must settle: all
    N x N of them. They are settled in BLOCK_BYTES chunks; a 40k-step Table 3 generator's
    25,600 identical samples asked 40 GB in one array before (2,000 here asked 2 GB)."""
    import tracemalloc

    from metrics.diversity import BLOCK_BYTES, kth_neighbour_radii, manifold_scores

    point = np.random.default_rng(0).normal(size=(1, 64))
    same = np.repeat(point, 2000, axis=0)
    tracemalloc.start()
    try:
        radii = kth_neighbour_radii(same, 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(radii, 0.0)
    # the block's candidate pairs (all 4M, as int64 rows and columns) and their float64
    # distances: about 365 MB here; the differences alone were 2 GB (4M x 64 float64) before
    assert peak < 16 * BLOCK_BYTES, peak / 2**20
    real = np.random.default_rng(1).normal(size=(500, 64))
    scores = manifold_scores(real, same)
    assert scores["recall"] == 0.0  # balls of radius 0 (and the slack) hold no real point
