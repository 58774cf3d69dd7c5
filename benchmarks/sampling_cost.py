"""What a model pays at sampling time: images/s of ``sample()`` and the network evaluations
(NFE) per image, for every model; and, for the iterative ones (flow, ddpm), the final
weights scored at each NFE of ``NFE_SWEEP`` (the report's quality against sampling cost)."""

from __future__ import annotations

import math
import time

import numpy as np

SPEED_SEED = 4242  # the noise the speed is timed on (any: speed does not depend on it)
MIN_CALLS, MIN_SECONDS = 3, 1.0  # timed calls: at least this many, and this long
NFE_SWEEP = (1, 2, 4, 8, 16, 32, 64)  # the counts the iterative models are scored at


def sampling_speed(model, batch: int) -> dict:
    """Images/s of ``model.sample(batch)`` after one untimed call (which compiles or builds
    the sampler), and ``model.nfe``: throughput's ``sampling_images_per_s`` and ``nfe``. Call
    after ``prepare_sampling``."""
    model.sample(batch, SPEED_SEED)
    calls, started = 0, time.perf_counter()
    while calls < MIN_CALLS or time.perf_counter() - started < MIN_SECONDS:
        model.sample(batch, SPEED_SEED)
        calls += 1
    elapsed = time.perf_counter() - started
    return {"sampling_images_per_s": calls * batch / elapsed, "nfe": int(model.nfe)}


def nfe_sweep(model, reference, samples: int, seed: int, counts=NFE_SWEEP) -> dict | None:
    """Every metric of the reference's kind on ``samples`` samples drawn at each NFE of
    ``counts`` from the model's current weights (reports.schema.NfeSweep); None for a model
    that samples in one evaluation."""
    import metrics

    if not model.iterative:
        return None
    scores: dict[str, list] = {}
    for i, nfe in enumerate(counts):
        figures = metrics.evaluate(model.sample_at(samples, seed, nfe), reference)
        for key, value in figures.items():
            if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
                column = scores.setdefault(key, [None] * len(counts))
                column[i] = float(value) if math.isfinite(value) else None
    return {"nfe": list(counts), "samples": samples, "metrics": scores}
