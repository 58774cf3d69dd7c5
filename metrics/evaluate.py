"""evaluate(samples, reference) -> {metric key: float}: every figure in one call."""

from __future__ import annotations

import numpy as np

from metrics.classifier import check_images
from metrics.errors import MetricsError
from metrics.info import METRICS, Inputs
from metrics.reference import Reference

# Fewer samples than this make the covariance, the k-NN balls and the z-tests meaningless.
MIN_SAMPLES = 50


def evaluate(samples: np.ndarray, reference: Reference, *,
             reconstructions: tuple[np.ndarray, np.ndarray] | None = None,
             fast: bool = False) -> dict:
    """Score ``samples`` (N, H, W, C) in [-1, 1] against ``reference``.

    Returns floats under the keys of ``METRICS`` (with ``fast=True`` only ``FAST_KEYS``;
    ``recon_*`` only with ``reconstructions`` = (originals, reconstructed), fast or not) plus
    ``class_histogram``, the share of samples predicted as each class.
    """
    samples = check_images(samples, reference.image_shape)
    if len(samples) < MIN_SAMPLES:
        raise MetricsError(f"got {len(samples)} samples; need at least {MIN_SAMPLES} "
                           "(10,000 for comparable figures)")
    x = Inputs(samples, reference, reference.classifier(samples), reconstructions)
    done: dict = {}  # compute function -> its value: a group's function runs once
    result = {}
    for key, info in METRICS.items():
        wanted = (reconstructions is not None if info.from_reconstructions
                  else info.fast or not fast)
        if not wanted:
            continue
        if info.compute not in done:
            done[info.compute] = info.compute(x)
        value = done[info.compute]
        result[key] = value[key] if isinstance(value, dict) else value
    result["class_histogram"] = [float(s) for s in x.shares]
    return result


def real_floor(reference: Reference, n: int = 10000) -> dict:
    """``evaluate`` of ``n`` held-out real training images: the best a model could expect."""
    pool = reference.holdout_index
    rng = np.random.default_rng(reference.seed + 1)  # not the subsets the reference drew
    index = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return evaluate(reference.train_images[index], reference)
