"""scikit-learn's 1,797 8x8 digits, framed into 28x28 the way MNIST frames its digits: the
dataset that needs no files and no network (the fallback when MNIST is absent)."""

from __future__ import annotations

import hashlib

import numpy as np

DIGITS_TEST_SIZE = 0.2  # stratified, fixed seed: 1,437 train / 360 test images
DIGITS_SPLIT_SEED = 0
SOURCE = "scikit-learn load_digits (embedded, 8x8 scaled to 28x28)"


def frame_like_mnist(img8: np.ndarray) -> np.ndarray:
    """Frame 8x8 digits (values 0..16) the way MNIST was made: the ink's bounding box scaled,
    aspect kept, to fit a 20x20 box, then placed in a 28x28 frame so that its centre of mass
    sits at the centre. Returns floats in [0, 1], shape (n, 28, 28)."""
    from scipy import ndimage

    out = np.zeros((len(img8), 28, 28), dtype=np.float64)
    for i, img in enumerate(np.asarray(img8, dtype=np.float64).reshape(-1, 8, 8) / 16.0):
        rows, cols = np.nonzero(img.any(axis=1))[0], np.nonzero(img.any(axis=0))[0]
        box = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        scale = 20.0 / max(box.shape)
        box = np.clip(ndimage.zoom(box, scale, order=1, grid_mode=True, mode="grid-constant"),
                      0.0, 1.0)
        h, w = box.shape
        top, left = (28 - h) // 2, (28 - w) // 2
        out[i, top:top + h, left:left + w] = box
        cy, cx = ndimage.center_of_mass(out[i])
        out[i] = ndimage.shift(out[i], (13.5 - cy, 13.5 - cx), order=1, mode="constant")
    return np.clip(out, 0.0, 1.0)


def load_arrays() -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test, checksum); images float32 (N, 28, 28, 1) in [-1, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    framed = frame_like_mnist(digits.images.astype(np.float64))
    x = (framed * 2 - 1).astype(np.float32)[..., None]  # grayscale: one channel
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    checksum = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return x_tr, y_tr, x_te, y_te, checksum
