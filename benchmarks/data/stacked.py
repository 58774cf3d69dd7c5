"""Stacked MNIST: three independent MNIST digits as the three channels of one image, so 1,000
modes (every digit triple) where MNIST has 10.

The mode-collapse benchmark of Metz et al. 2017 (Unrolled GAN), Srivastava et al. 2017
(VEEGAN) and Lin et al. 2018 (PacGAN), built as PacGAN's code builds it
(stacked_MNIST_experiments/VEEGAN_experiment/model.py, ``load_mnist``): each image draws three
MNIST indices uniformly, independently and with replacement, and channel c holds digit c. The
label is the triple read as a number, 100·d1 + 10·d2 + d3 (channel 0 the hundreds), the order
PacGAN's ``log_metrics`` zips the three channels' predictions in.

One departure: PacGAN draws from MNIST's 70,000 images pooled (train + test). Here the
training split draws only from MNIST's 60,000 training digits and the test split only from
its 10,000 test digits, so the test split stays held out, as every other dataset's is: the
classifier's triple accuracy is measured on digits it never learned from, and a generator that
memorised training digits cannot meet them in the real test set.

Sizes: the papers' 128,000 training images (PacGAN's ``num_training_sample``); 26,000 test
images, the number of samples the papers score (``num_test_sample``), so the real test split
is one draw of the protocol itself: 26 images per triple on average, every triple present
(each is missed with probability (1 - 1/1000)^26000 = e^-26), and its KL from uniform is the
sampling noise a perfect generator shows at that count, about 999 / (2 · 26000) = 0.019 nats.
The 10,000 test digits are reused across the 26,000 triples (each in about 7.8 of them, in
other company each time): the triples, not the digits, are the test set's units.

Everything is vectorised numpy indexing (three fills of the output, no loop per image): the
training split is 128,000 × 28 × 28 × 3 bytes = 301 MB of uint8.

Trained on the fly (``--draw on-the-fly``, the ``pacgan-table3`` presets: Metz et al.'s
setting, as PacGAN's Table 3 code draws), a model never sees the fixed training split: every
batch draws its images' three digits afresh from MNIST's 60,000 training digits
(``benchmarks.harness.onthefly``). The dataset is the same one, scored the same way; its fixed
training split is then only the scoring's memorization set and real-data pool.
"""

from __future__ import annotations

import hashlib

import numpy as np

VERSION = 1  # bump whenever the construction below changes: the checksum (and caches) key on it
TRAIN_SIZE = 128000  # the papers' training set
TEST_SIZE = 26000  # the papers' sample count (see the module docstring)
SEED = 0  # the training split's draw; the test split's is SEED + 1
NUM_MODES = 1000
DIGITS = 3  # MNIST digits per image, one a channel
# The MNIST classifier is held to MNIST's 99 % per digit; three independent digits right is then
# about 0.99^3 = 97 % of triples, the gate its triple accuracy must reach on the stacked test split
GATE = 97.0
GATE_SOURCE = ("Stacked MNIST: 97 % of triples (MNIST's 99 % gate per digit, cubed: the "
               "MNIST classifier labels each channel)")
CLASS_NAMES = tuple(f"{i:03d}" for i in range(NUM_MODES))  # "000" .. "999": the triple itself


def stack(images_u8: np.ndarray, labels: np.ndarray, n: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` stacked images from MNIST-like ``images_u8`` (N, 28, 28, 1) uint8 and their digit
    ``labels`` (N,): (x uint8 (n, 28, 28, 3), y int64 (n,) = 100·d1 + 10·d2 + d3).

    The three source indices of each image are independent uniform draws with replacement
    (``np.random.default_rng(seed).integers``, shape (n, 3)), as PacGAN draws them.
    """
    images_u8, labels = np.asarray(images_u8), np.asarray(labels)
    if images_u8.ndim != 4 or images_u8.shape[-1] != 1 or images_u8.dtype != np.uint8:
        raise ValueError(f"stack takes uint8 (N, H, W, 1) digit images; got {images_u8.dtype} "
                         f"{images_u8.shape}")
    if len(labels) != len(images_u8) or len(images_u8) == 0:
        raise ValueError(f"stack takes one label per image and at least one image; got "
                         f"{len(images_u8)} images and {len(labels)} labels")
    source = np.random.default_rng(seed).integers(0, len(images_u8), size=(n, DIGITS))
    x = np.empty((n, *images_u8.shape[1:3], DIGITS), np.uint8)
    for channel in range(DIGITS):  # three whole-array fills, not one per image
        x[..., channel] = images_u8[source[:, channel], :, :, 0]
    digits = labels.astype(np.int64)[source]
    return x, digits @ np.array([100, 10, 1], np.int64)


def checksum(mnist_checksum: str, seed: int = SEED, train_size: int = TRAIN_SIZE,
             test_size: int = TEST_SIZE) -> str:
    """Identifies the stacked data: the MNIST copy it is built from and how it was built."""
    recipe = f"stacked-mnist-v{VERSION}-{mnist_checksum}-seed{seed}-{train_size}-{test_size}"
    return hashlib.sha256(recipe.encode()).hexdigest()


def stacked_arrays(mnist_arrays: tuple, seed: int = SEED, train_size: int = TRAIN_SIZE,
                   test_size: int = TEST_SIZE) -> tuple:
    """MNIST's ``(x_tr, y_tr, x_te, y_te, checksum)`` (uint8 NHWC, as the IDX reader gives
    them) -> Stacked MNIST's, the tuple the registry's ``_build`` takes. Training triples come
    from MNIST's training digits only, test triples from its test digits only."""
    x_tr, y_tr, x_te, y_te, mnist_checksum = mnist_arrays
    sx_tr, sy_tr = stack(x_tr, y_tr, train_size, seed)
    sx_te, sy_te = stack(x_te, y_te, test_size, seed + 1)
    return sx_tr, sy_tr, sx_te, sy_te, checksum(mnist_checksum, seed, train_size, test_size)
