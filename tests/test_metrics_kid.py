"""KID: unbiased MMD^2 with the cubic kernel, against hand-worked values and an independent
implementation (torch-fidelity's ``mmd2`` formula, written here with plain loops)."""

import numpy as np
import pytest

from metrics import kid
from metrics.errors import MetricsError


def kernel_by_loops(a, b):
    """(a.b / d + 1)^3, as torch-fidelity's polynomial_kernel (gamma = 1/d, coef0 = 1)."""
    d = len(a)
    return (sum(a[t] * b[t] for t in range(d)) / d + 1.0) ** 3


def mmd2_by_loops(x, y):
    """torch-fidelity's mmd2: (sum_{i != j} k(x_i, x_j) + same for y) / (m (m - 1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2, for subsets of equal size m."""
    m = len(x)
    xx = sum(kernel_by_loops(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(kernel_by_loops(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(kernel_by_loops(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2.0 * xy / (m * m)


@pytest.mark.parametrize("gram_rows", [kid.GRAM_ROWS, 0], ids=["kernels-once", "per-subset"])
def test_kid_in_four_dimensions_matches_an_independent_implementation(gram_rows, monkeypatch):
    monkeypatch.setattr(kid, "GRAM_ROWS", gram_rows)  # both ways of computing the kernels
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) * 1.5 + 0.4
    # the subsets kid() draws: one generator, x's rows then y's, per subset
    draw = np.random.default_rng(3)
    values = []
    for _ in range(5):
        xi, yi = draw.choice(30, 10, replace=False), draw.choice(25, 10, replace=False)
        values.append(mmd2_by_loops(x[xi], y[yi]))
    # mean and population std of the five subset values, as computed by mmd2_by_loops
    # (stored so a change in either implementation shows): the values are 4.979, 5.585,
    # 2.295, 1.346, 2.941, whose median (2.941) and ddof=1 std (1.797) differ from these
    expected_mean, expected_std = 3.4291814504772327, 1.6072363003741736
    assert np.mean(values) == pytest.approx(expected_mean, rel=1e-12)
    assert np.std(values) == pytest.approx(expected_std, rel=1e-12)
    mean, std = kid.kid(x, y, subsets=5, subset_size=10, seed=3)
    assert mean == pytest.approx(expected_mean, rel=1e-9)
    assert std == pytest.approx(expected_std, rel=1e-9)


def test_the_kernel_is_sklearns_polynomial_kernel_with_the_papers_parameters():
    """scikit-learn's polynomial_kernel with degree 3, gamma 1/d and coef0 1 is the
    (x.y / d + 1)^3 of Binkowski et al. and torch-fidelity (kernel_by_loops)."""
    from sklearn.metrics.pairwise import polynomial_kernel

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(4, 5))
    by_loops = np.array([[kernel_by_loops(a, b) for b in y] for a in x])
    np.testing.assert_allclose(polynomial_kernel(x, y, degree=3, gamma=1 / 5, coef0=1),
                               by_loops, rtol=1e-12)
    np.testing.assert_allclose(kid.polynomial_kernel(x, y), by_loops, rtol=1e-12)


def test_polynomial_kernel_scales_by_the_dimension():
    # d = 2: x.y = 1 * 3 + 2 * 4 = 11 -> (11 / 2 + 1)^3 = 6.5^3 = 274.625
    got = kid.polynomial_kernel(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    assert got[0, 0] == pytest.approx(274.625)


def test_mmd_hand_worked_tiny_case():
    # d = 1, k(a, b) = (a b + 1)^3; x = {1, 2}, y = {0, 1}
    # within x (i != j): k(1, 2) = 27; within y: k(0, 1) = 1
    # across: k(1,0) = 1, k(1,1) = 8, k(2,0) = 1, k(2,1) = 27 -> mean 37/4 = 9.25
    # MMD^2 = 27 + 1 - 2 * 9.25 = 9.5
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
    assert kid.mmd2_unbiased(x, y) == pytest.approx(9.5)
    # subsets of the full size are permutations of the sets: the same 9.5 every time
    mean, std = kid.kid(x, y, subsets=5)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_of_a_set_with_itself_is_near_zero():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 16))
    same, _ = kid.kid(x, x, subsets=20, subset_size=500)
    shifted, _ = kid.kid(x, x + 0.5, subsets=20, subset_size=500)
    assert abs(same) < 0.01 * shifted
    assert shifted > 0.05


def test_kid_seeded():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(500, 8)), rng.normal(size=(400, 8)) + 0.1
    assert kid.kid(x, y, subsets=10, subset_size=100, seed=7) == kid.kid(
        x, y, subsets=10, subset_size=100, seed=7)


def test_kid_rejects_mismatched_features():
    with pytest.raises(MetricsError):
        kid.kid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(MetricsError, match="at least 2"):
        kid.kid(np.zeros((1, 3)), np.zeros((10, 3)))
