"""What drawing Stacked MNIST on the fly costs (docs/mode-collapse.md): metz (PacGAN Table 3's
D = 1/4 G) at batch 128, one step as train() runs it, on a fixed set of stacked images against
60,000 digits drawn three an image and stacked on the device; rounds of each interleaved in
one run so the machine's drifting load falls on both.

    pytest tests/perf/test_onthefly_speed.py --benchmark-only -s

The fixed set here is 16,384 random images, not Stacked MNIST's 128,000 (1.2 GB as float32):
a gather's cost is the rows it reads, not the rows it could have read.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

import models
from benchmarks.harness import build
from benchmarks.harness.loop import BatchOrder, engine_module

PAIRS, STEPS, BATCH = 12, 10, 128  # rounds of each, steps per round, Table 3's batch


def uniform(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)


def metz_step(images: np.ndarray, stack: int | None):
    """One metz step (d_filters 2) as train() runs it: compiled, its batch gathered on the
    device (and, with ``stack``, each image's parts stacked), its logs fetched."""
    model = build("metz", models.get("metz").Config(d_filters=2), seed=0,
                  image_shape=(28, 28, 3))
    engine = engine_module().Engine(model, images, batch_size=BATCH, jit=False,
                                    steps_per_call=1, stack=stack)
    order = BatchOrder(len(images), BATCH, seed=0, rows=16, stack=stack)
    block = engine.put_block(order.next_block())
    positions = itertools.cycle(range(16))
    return lambda: engine.run(block, next(positions), 1)


@pytest.mark.benchmark(group="onthefly")
def test_metz_step_on_the_fixed_set_and_drawn_on_the_fly(benchmark):
    pairs, steps = (1, 1) if benchmark.disabled else (PAIRS, STEPS)  # make test: once, quickly
    calls = {"fixed": metz_step(uniform(16384, 28, 28, 3), None),
             "on the fly": metz_step(uniform(60000, 28, 28, 1), 3)}  # MNIST's training count
    for call in calls.values():
        call()  # compiles
    seconds = {name: [] for name in calls}
    for _ in range(pairs):
        for name, call in calls.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                call()
            seconds[name].append((time.perf_counter() - t0) / steps)
    ms = {name: 1000 * float(np.median(s)) for name, s in seconds.items()}
    ratio = float(np.median(np.asarray(seconds["on the fly"]) / np.asarray(seconds["fixed"])))
    benchmark.extra_info.update(step_ms_fixed=ms["fixed"], step_ms_on_the_fly=ms["on the fly"],
                                ratio=ratio)
    print(f"\nmetz step at batch {BATCH}: {ms['fixed']:.1f} ms on the fixed set, "
          f"{ms['on the fly']:.1f} ms drawn on the fly: ratio {ratio:.3f}")
    benchmark.pedantic(calls["on the fly"], rounds=3, iterations=1)
    assert all(np.isfinite(v) for v in ms.values())
