"""Fréchet distance between Gaussians fitted to features, and its bootstrap interval.

FID is two pure functions, features -> (mu, sigma) and statistics -> distance. The trace of
sqrt(sigma1 sigma2) comes from the eigenvalues of sigma1 @ sigma2 (similar to the symmetric
PSD matrix sqrt(sigma1) sigma2 sqrt(sigma1), so they are real and >= 0 up to round-off):
exact, faster than scipy.linalg.sqrtm, and free of its spurious imaginary parts.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from metrics.errors import MetricsError


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N-1) covariance of (N, D) features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise MetricsError(f"features must be (N >= 2, D); got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))."""
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise MetricsError(f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, "
                           f"sigma {sigma1.shape} vs {sigma2.shape}")
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2)
    # negative or complex parts are round-off of a PSD spectrum; clipping keeps sqrt real
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))  # it is a squared distance; -1e-12 is round-off


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    return frechet_distance(*statistics(features1), *statistics(features2))


FID_RESAMPLES = 200  # about 5 resamples beyond each 95 % endpoint: coarse but cheap and seeded
FID_LEVEL = 0.95


def fid_interval(features: np.ndarray, mu: np.ndarray, sigma: np.ndarray, *,
                 resamples: int = FID_RESAMPLES, level: float = FID_LEVEL, seed: int = 0,
                 sample_stats: tuple[np.ndarray, np.ndarray] | None = None,
                 ) -> tuple[float, float]:
    """How much FID would move with another draw of as many samples: a bootstrap interval.

    The samples' features (N, D) are resampled with replacement ``resamples`` times (seeded)
    and FID to the fixed real statistics (mu, sigma) recomputed. A resample repeats samples,
    so its FID sits above the point estimate (a bias of order tr(sigma)/N); the interval is
    the percentile range of the resampled FIDs around their own mean, placed at the point
    estimate: it measures the sampling noise at this N, not FID's bias at this N. At small N
    in many dimensions the bootstrap overstates the noise (wider, never narrower).
    The trace term uses the eigenvalues of sqrt(sigma) S sqrt(sigma) (symmetric: eigvalsh),
    with sqrt(sigma) factored once; each resample costs one weighted (N, D) Gram product.
    Checked by simulation (test_metrics_fid): 6-d Gaussians, 400 samples, 150 draws; the
    interval held FID's mean estimate at that N in 94.7 % of draws (the true FID, below it by
    the bias, in 91.3 %), and its mean width was the estimates' own 95 % spread within 3 %.
    ``sample_stats``: the samples' (mean, covariance) where already computed (FID's own).
    """
    # one BLAS thread: ~1.5 s of CPU for N = 10k, D = 128; with threads, on a shared CPU,
    # many small products and eigenproblems measured 10x slower
    with threadpool_limits(1):
        x = np.asarray(features, np.float64)
        return _fid_interval(x, sample_stats or statistics(x), mu, sigma, resamples, level, seed)


def _fid_interval(x, stats, mu, sigma, resamples, level, seed) -> tuple[float, float]:
    mu_s, sigma_s = stats
    point = frechet_distance(mu_s, sigma_s, mu, sigma)
    if resamples < 2 or not 0.0 < level < 1.0:
        raise MetricsError(f"need >= 2 resamples and a level in (0, 1); got {resamples}, {level}")
    w, v = np.linalg.eigh(np.asarray(sigma, np.float64))
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    n, d = x.shape
    centred = x - mu_s
    # the Gram products in float32: their round-off (~1e-7 relative) is far below the noise
    projected = (centred @ root).astype(np.float32)
    squares = np.einsum("ij,ij->i", centred, centred)
    rng = np.random.default_rng(seed)
    cov_r, trace_s = np.empty((resamples, d, d)), np.empty(resamples)
    shift = np.empty((resamples, d))
    for b in range(resamples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        drawn = np.flatnonzero(counts)  # about 63 % of rows: the rest weigh 0
        c, p = counts[drawn], projected[drawn]
        # resample mean minus sample mean: a product over every row costs a third of one
        # over the drawn rows, which must first be copied out
        shift[b] = counts @ centred / n
        shift_r = shift[b] @ root
        cov_r[b] = ((p.T * c.astype(np.float32)) @ p - n * np.outer(shift_r, shift_r)) / (n - 1)
        trace_s[b] = (c @ squares[drawn] - n * shift[b] @ shift[b]) / (n - 1)
    eigenvalues = np.linalg.eigvalsh(cov_r)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum(axis=1)
    mean_diff = mu_s - np.asarray(mu, np.float64) + shift
    values = np.sum(mean_diff**2, axis=1) + trace_s + np.trace(sigma) - 2.0 * trace_sqrt
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(values - values.mean(), [tail, 100.0 - tail])
    return float(max(point + low, 0.0)), float(point + high)
