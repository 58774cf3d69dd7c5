"""Points drawn from a known 2-D Gaussian mixture (the ring and grid of VEEGAN and PacGAN):
generated in process, deterministic, offline, and scored by the mixture itself
(``metrics.mixture``), not by a classifier.

PacGAN trains on 100,000 points drawn once (its configs' ``num_sample``); so do we, and
10,000 more from another seed are the test split (the real data ``real_floor`` is scored on
is the training split, since no classifier ever saw it). The labels are the component each
point lies nearest, which at these sigmas is the one it was drawn from.
"""

from __future__ import annotations

import hashlib

import numpy as np

from metrics import mixture as mixtures

SOURCE = "generated in process (no files)"
TRAIN_SIZE = mixtures.TRAIN_POINTS  # PacGAN's num_sample
TEST_SIZE = 10000
TRAIN_SEED, TEST_SEED = 0, 1
VERSION = 1  # bump whenever what draw() returns changes: caches key on the checksum

MIXTURES = {"ring": mixtures.Mixture.ring, "grid": mixtures.Mixture.grid}


def class_names(mixture) -> tuple[str, ...]:
    """One name per component: its centre, e.g. "(1, 0)" or "(-4, 2)"."""
    return tuple(f"({x:.3g}, {y:.3g})" for x, y in np.round(mixture.centres, 3) + 0.0)


def draw(mixture) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train, y_train, x_test, y_test, checksum): float32 (N, 2) points, int64 components."""
    x_tr, y_tr = _labelled(mixture, TRAIN_SIZE, TRAIN_SEED)
    x_te, y_te = _labelled(mixture, TEST_SIZE, TEST_SEED)
    digest = hashlib.sha256(f"{mixture.name}-v{VERSION}".encode())
    for a in (x_tr, y_tr, x_te, y_te):
        digest.update(np.ascontiguousarray(a).tobytes())
    return x_tr, y_tr, x_te, y_te, digest.hexdigest()


def _labelled(mixture, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = mixture.sample(n, seed)
    index, _ = mixtures.nearest_modes(mixture, x)
    return x.astype(np.float32), index.astype(np.int64)
