"""Class histogram, modes covered, KL, NDB and JS on hand-built histograms."""

import numpy as np
import pytest

from metrics import mode_collapse as mc
from metrics.errors import MetricsError

UNIFORM = np.full(10, 0.1)


def test_class_histogram_shares():
    shares = mc.class_histogram([0, 0, 1, 3], num_classes=5)
    np.testing.assert_allclose(shares, [0.5, 0.25, 0.0, 0.25, 0.0])


def test_kl_of_identical_histograms_is_zero():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert mc.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert mc.kl_divergence(UNIFORM, UNIFORM) == pytest.approx(0.0, abs=1e-12)


def test_kl_known_values():
    # all mass on one of two equally likely classes: KL = 1 * ln(1 / 0.5) = ln 2
    assert mc.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2), rel=1e-6)
    # one digit out of ten: ln 10
    one_digit = np.eye(10)[3]
    assert mc.kl_divergence(one_digit, UNIFORM) == pytest.approx(np.log(10), rel=1e-6)


def test_kl_with_an_empty_real_class_is_finite():
    assert np.isfinite(mc.kl_divergence([0.5, 0.5], [1.0, 0.0]))


@pytest.mark.parametrize("shares,expected", [
    (UNIFORM, 10),
    (np.eye(10)[7], 1),
    (np.r_[0.5, 0.5, np.zeros(8)], 2),
    # 0.03 >= 0.25 * 0.1 counts; 0.02 does not
    (np.r_[0.03, 0.02, 0.95, np.zeros(7)], 2),
])
def test_modes_covered(shares, expected):
    assert mc.modes_covered(shares, UNIFORM) == expected


def test_modes_covered_ignores_classes_absent_from_real_data():
    assert mc.modes_covered([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 2


def test_modes_covered_rejects_mismatched_lengths():
    with pytest.raises(MetricsError):
        mc.modes_covered(np.full(9, 1 / 9), UNIFORM)


def test_ndb_hand_worked():
    # cell 0: 50/100 real vs 90/100 samples; pooled p = 0.7,
    # se = sqrt(0.7 * 0.3 * (1/100 + 1/100)) = 0.0648, z = -0.4 / 0.0648 = -6.2 -> different;
    # cell 1 is the complement, equally different
    assert mc.ndb([50, 50], [90, 10]) == (2, 1.0)
    # 50 vs 52 of 100: z = 0.02 / sqrt(0.51 * 0.49 * 0.02) = 0.28 < 1.96 -> same
    assert mc.ndb([50, 50], [52, 48]) == (0, 0.0)
    # cells empty in both sets are never different
    assert mc.ndb([50, 50, 0], [90, 10, 0]) == (2, pytest.approx(2 / 3))


def test_ndb_uses_shares_not_counts():
    # same proportions, ten times the samples: no difference
    assert mc.ndb([10, 20, 70], [100, 200, 700])[0] == 0


def test_ndb_rejects_empty_histograms():
    with pytest.raises(MetricsError):
        mc.ndb([0, 0], [1, 1])


def test_js_divergence():
    assert mc.js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-12)
    assert mc.js_divergence([1, 0], [0, 1]) == pytest.approx(np.log(2))


def test_cells_fit_and_assign():
    rng = np.random.default_rng(0)
    # two well separated blobs of "images": k-means with k=2 puts each in its own cell
    a = rng.normal(-0.8, 0.05, size=(60, 4, 4, 1))
    b = rng.normal(0.8, 0.05, size=(40, 4, 4, 1))
    centers = mc.fit_cells(np.concatenate([a, b]), k=2, seed=0)
    assert sorted(mc.cell_counts(centers, np.concatenate([a, b])).tolist()) == [40, 60]
    assert sorted(mc.cell_counts(centers, a).tolist()) == [0, 60]
    with pytest.raises(MetricsError, match="pixels"):
        mc.cell_counts(centers, np.zeros((3, 5, 5, 1)))


def test_cells_work_in_colour():
    rng = np.random.default_rng(1)
    # red and blue "images" (3 channels): the same brightness, told apart only by colour
    red = np.full((30, 5, 5, 3), -1.0) + rng.normal(0, 0.02, (30, 5, 5, 3))
    red[..., 0] = 1.0
    blue = np.full((50, 5, 5, 3), -1.0) + rng.normal(0, 0.02, (50, 5, 5, 3))
    blue[..., 2] = 1.0
    centers = mc.fit_cells(np.concatenate([red, blue]), k=2, seed=0)
    assert centers.shape == (2, 5 * 5 * 3)
    assert sorted(mc.cell_counts(centers, np.concatenate([red, blue])).tolist()) == [30, 50]
    assert mc.ndb(mc.cell_counts(centers, red), mc.cell_counts(centers, blue)) == (2, 1.0)
    with pytest.raises(MetricsError, match="pixels"):
        mc.cell_counts(centers, red[..., :1])


def test_ndb_cells_keep_five_images_per_cell_on_average():
    # min(100, n // 5), at least 2: 100 from 500 images on, as many as fit below
    assert [mc.ndb_cells(n) for n in (10000, 500, 499, 360, 51, 24, 10, 9, 0)] == [
        100, 100, 99, 72, 10, 4, 2, 2, 2]
    assert mc.ndb_cells(24, k=3) == 3  # never more than asked for


def test_fitting_more_cells_than_images_is_one_line():
    # the small-folder crash: scikit-learn's "n_samples=72 should be >= n_clusters=100"
    with pytest.raises(MetricsError, match="NDB's 100 cells need at least 100 images to fit "
                                           "on; got 72"):
        mc.fit_cells(np.zeros((72, 4, 4, 1)), k=100)
    images = np.random.default_rng(0).uniform(-1, 1, (72, 4, 4, 1))
    assert mc.fit_cells(images, k=mc.ndb_cells(72)).shape == (14, 16)
