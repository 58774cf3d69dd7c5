"""MSE and PSNR for images in [-1, 1] (peak-to-peak range 2)."""

import numpy as np
import pytest

from metrics import reconstruction
from metrics.errors import MetricsError


def test_psnr_of_known_mse():
    # 10 log10(4 / 0.04) = 10 log10(100) = 20 dB
    assert reconstruction.psnr(0.04) == pytest.approx(20.0)
    assert reconstruction.psnr(4.0) == pytest.approx(0.0)
    assert reconstruction.psnr(0.0) == float("inf")


def test_mse_pools_every_pixel():
    originals = np.zeros((2, 28, 28, 1))
    reconstructed = np.concatenate([np.full((1, 28, 28, 1), 0.2), np.zeros((1, 28, 28, 1))])
    # half the pixels off by 0.2: (0.04 + 0) / 2
    assert reconstruction.mse(originals, reconstructed) == pytest.approx(0.02)


def test_bad_reconstructions_raise():
    with pytest.raises(MetricsError, match="same"):
        reconstruction.mse(np.zeros((2, 28, 28, 1)), np.zeros((3, 28, 28, 1)))
    with pytest.raises(MetricsError, match="NaN"):
        reconstruction.mse(np.zeros((2, 2)), np.full((2, 2), np.nan))
    with pytest.raises(MetricsError):
        reconstruction.psnr(-1.0)
