"""evaluate(samples, reference) -> {metric key: float}: every figure in one call."""

from __future__ import annotations

import numpy as np

from metrics.classifier import check_images
from metrics.errors import MetricsError
from metrics.info import Inputs, applicable
from metrics.reference import Reference, check_points

# Fewer samples than this make the covariance, the k-NN balls and the z-tests meaningless.
MIN_SAMPLES = 50


def evaluate(samples: np.ndarray, reference: Reference, *,
             reconstructions: tuple[np.ndarray, np.ndarray] | None = None,
             fast: bool = False) -> dict:
    """Score ``samples`` (N, H, W, C) in [-1, 1] against ``reference`` (or (N, D) points
    against a mixture's ``PointsReference``).

    Returns floats under the keys of the metrics that apply to the reference's kind
    (``info.applicable``; with ``fast=True`` only ``info.fast_keys``; ``recon_*`` only with
    ``reconstructions`` = (originals, reconstructed), fast or not) plus ``class_histogram``,
    the share of samples in each class (for a mixture: of the high-quality samples in each
    component).
    """
    if reference.kind == "mixture":
        samples = check_points(samples, reference.image_shape)
    else:
        samples = check_images(samples, reference.image_shape)
    if len(samples) < MIN_SAMPLES:
        raise MetricsError(f"got {len(samples)} samples; need at least {MIN_SAMPLES} "
                           "(10,000 for comparable figures)")
    x = Inputs(samples, reference, reconstructions)
    done: dict = {}  # compute function -> its value: a group's function runs once
    result = {}
    for key, info in applicable(reference.kind).items():
        wanted = (reconstructions is not None if info.from_reconstructions
                  else info.fast or not fast)
        if not wanted:
            continue
        if info.compute not in done:
            done[info.compute] = info.compute(x)
        value = done[info.compute]
        result[key] = value[key] if isinstance(value, dict) else value
    result["class_histogram"] = [float(s) for s in reference.histogram(x)]
    return result


def real_floor(reference: Reference, n: int = 10000) -> dict:
    """``evaluate`` of ``n`` held-out real training images: the best a model could expect."""
    pool = reference.holdout_index
    rng = np.random.default_rng(reference.seed + 1)  # not the subsets the reference drew
    index = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return evaluate(reference.train_images[index], reference)
