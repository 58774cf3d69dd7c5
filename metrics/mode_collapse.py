"""Mode collapse: which classes the samples fall in, and NDB/K over k-means cells.

NDB (Richardson & Weiss, 2018): pixel space is cut into K k-means cells fitted on training
images; a cell is a "statistically different bin" when the share of samples in it differs
from the share of real images by a two-proportion z-test at level alpha.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.cluster import KMeans

from metrics.errors import MetricsError

MODE_FRACTION = 0.25  # a class is covered when its share is >= 1/4 of its real share
# Added to every class share before KL (then renormalised), so an empty class gives a large
# finite KL instead of inf or 0 * log 0; 1e-10 changes non-empty terms by < 1e-8.
KL_EPSILON = 1e-10
NDB_CELLS = 100  # Richardson & Weiss's K, for datasets of thousands of images
NDB_ALPHA = 0.05
# A cell's z-test compares shares by a normal approximation, which wants about 5 images per
# cell on average in each set counted (the rule of thumb n p >= 5); 2 cells at the least.
NDB_IMAGES_PER_CELL = 5
NDB_MIN_CELLS = 2


def class_histogram(predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Share of samples predicted as each class (sums to 1)."""
    counts = np.bincount(np.asarray(predicted, np.int64), minlength=num_classes)
    return counts / max(counts.sum(), 1)


def modes_covered(sample_shares, real_shares, fraction: float = MODE_FRACTION) -> int:
    """Classes whose sample share reaches ``fraction`` of their share in the real data."""
    sample_shares, real_shares = np.asarray(sample_shares), np.asarray(real_shares)
    if sample_shares.shape != real_shares.shape:
        raise MetricsError(f"histograms differ in length: {sample_shares.shape} vs "
                           f"{real_shares.shape}")
    present = real_shares > 0  # a class absent from the real data is no mode to cover
    return int(np.sum(present & (sample_shares >= fraction * real_shares)))


def kl_divergence(p, q, eps: float = KL_EPSILON) -> float:
    """KL(p || q) in nats, after adding ``eps`` to every share and renormalising."""
    p, q = np.asarray(p, np.float64) + eps, np.asarray(q, np.float64) + eps
    if p.shape != q.shape:
        raise MetricsError(f"histograms differ in length: {p.shape} vs {q.shape}")
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def js_divergence(p, q) -> float:
    """Jensen-Shannon divergence in nats (0 for equal histograms, at most ln 2)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl_to_m(a):
        nz = a > 0
        return np.sum(a[nz] * np.log(a[nz] / m[nz]))

    return float(max(0.5 * kl_to_m(p) + 0.5 * kl_to_m(q), 0.0))


def ndb_cells(n: int, k: int = NDB_CELLS) -> int:
    """How many cells NDB uses when the smaller of the images the cells are fitted on and the
    real images counted in them is ``n``: ``k``, or fewer so that a cell holds
    ``NDB_IMAGES_PER_CELL`` of those images on average, and at least ``NDB_MIN_CELLS``."""
    return int(max(NDB_MIN_CELLS, min(k, n // NDB_IMAGES_PER_CELL)))


def fit_cells(images: np.ndarray, k: int = NDB_CELLS, seed: int = 0) -> np.ndarray:
    """K-means centres (k, pixels) of flattened training images."""
    if len(images) < k:
        raise MetricsError(f"NDB's {k} cells need at least {k} images to fit on; got "
                           f"{len(images)} (ndb_cells says how many cells that many allow)")
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    model = KMeans(n_clusters=k, n_init=1, max_iter=100, random_state=seed).fit(x)
    return model.cluster_centers_.astype(np.float32)


def cell_counts(centers: np.ndarray, images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """How many images fall in each cell (nearest centre, Euclidean in pixel space)."""
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    if x.shape[1] != centers.shape[1]:
        raise MetricsError(f"images have {x.shape[1]} pixels; the NDB cells {centers.shape[1]}")
    c_sq = (centers.astype(np.float64) ** 2).sum(axis=1)
    labels = np.concatenate([
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 is the same for every centre
        np.argmin(c_sq[None, :] - 2.0 * (x[i:i + chunk] @ centers.T), axis=1)
        for i in range(0, len(x), chunk)
    ])
    return np.bincount(labels, minlength=len(centers))


def ndb(real_counts, sample_counts, alpha: float = NDB_ALPHA) -> tuple[int, float]:
    """(number of statistically different bins, NDB/K) by a two-proportion z-test per cell."""
    n1, n2 = np.asarray(real_counts, np.float64), np.asarray(sample_counts, np.float64)
    if n1.shape != n2.shape or n1.sum() == 0 or n2.sum() == 0:
        raise MetricsError(f"NDB needs two non-empty histograms over the same cells; got "
                           f"{n1.shape} ({n1.sum():.0f}) and {n2.shape} ({n2.sum():.0f})")
    t1, t2 = n1.sum(), n2.sum()
    p1, p2 = n1 / t1, n2 / t2
    pooled = (n1 + n2) / (t1 + t2)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / t1 + 1.0 / t2))
    # a cell empty in both sets has se = 0 and no difference: never significant
    z = np.divide(p1 - p2, se, out=np.zeros_like(se), where=se > 0)
    different = int(np.sum(np.abs(z) > stats.norm.ppf(1.0 - alpha / 2.0)))
    return different, different / len(n1)
