"""Fréchet distance and KID against closed forms and a scipy.linalg.sqrtm reference."""

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


def test_mmd_hand_worked_tiny_case():
    # d = 1, k(a, b) = (a b + 1)^3; x = {1, 2}, y = {0, 1}
    # within x (i != j): k(1, 2) = 27; within y: k(0, 1) = 1
    # across: k(1,0) = 1, k(1,1) = 8, k(2,0) = 1, k(2,1) = 27 -> mean 37/4 = 9.25
    # MMD^2 = 27 + 1 - 2 * 9.25 = 9.5
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
    assert fid.mmd2_unbiased(x, y) == pytest.approx(9.5)
    # subsets of the full size are permutations of the sets: the same 9.5 every time
    mean, std = fid.kid(x, y, subsets=5)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_of_a_set_with_itself_is_near_zero():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 16))
    same, _ = fid.kid(x, x, subsets=20, subset_size=500)
    shifted, _ = fid.kid(x, x + 0.5, subsets=20, subset_size=500)
    assert abs(same) < 0.01 * shifted
    assert shifted > 0.05


def test_kid_seeded():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(500, 8)), rng.normal(size=(400, 8)) + 0.1
    assert fid.kid(x, y, subsets=10, subset_size=100, seed=7) == fid.kid(
        x, y, subsets=10, subset_size=100, seed=7)


def test_kid_rejects_mismatched_features():
    with pytest.raises(MetricsError):
        fid.kid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(MetricsError, match="at least 2"):
        fid.kid(np.zeros((1, 3)), np.zeros((10, 3)))
