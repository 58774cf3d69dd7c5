"""Reconstruction error for models that reconstruct (autoencoders).

Images live in [-1, 1], so the peak-to-peak range is 2 and PSNR = 10 log10(2^2 / MSE) dB.
Both figures pool every pixel of every image (PSNR of the pooled MSE, not a mean of per-image
PSNRs, which would be dominated by the best-reconstructed images).
"""

from __future__ import annotations

import numpy as np

from metrics.errors import MetricsError

PEAK_TO_PEAK = 2.0  # images in [-1, 1]


def mse(originals: np.ndarray, reconstructed: np.ndarray) -> float:
    a, b = np.asarray(originals, np.float64), np.asarray(reconstructed, np.float64)
    if a.shape != b.shape or a.size == 0:
        raise MetricsError(f"originals {a.shape} and reconstructions {b.shape} must have the "
                           "same non-empty shape")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricsError("reconstructions contain NaN or inf")
    return float(np.mean((a - b) ** 2))


def psnr(mse_value: float) -> float:
    """PSNR in dB for images in [-1, 1]; inf for a perfect reconstruction."""
    if mse_value < 0:
        raise MetricsError(f"MSE cannot be negative; got {mse_value}")
    if mse_value == 0:
        return float("inf")
    return float(10.0 * np.log10(PEAK_TO_PEAK**2 / mse_value))
