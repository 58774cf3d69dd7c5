"""Training steps per second of the 2-D GAN (gan's PacGAN networks on vectors) with PacGAN's
settings (noise_dim 2, Adam 1e-4 / 0.8, no dropout, batch 100), unpacked and packed (pack 2),
through the harness's ``train`` on TensorFlow (in process) and JAX (in a subprocess: the
backend is fixed per process; a fresh one per case when timed, the session's JAX worker,
tests/jaxworker.py, when untimed), one step a call and 50; and the same two MLPs' bare
tf.function step, one a call and 50 in a tf.range loop, to show what bounds the harness:
per-call overhead (dispatch, the logs' fetch) or the step's compute.

    pytest tests/perf/test_points_speed.py --benchmark-only -s

Each case prints one line: steps/s and ms/step, the median over its timed calls (those after
the compiling one) as ``TrainLog.step_ms_median`` measures them, which is the figure; the
benchmark's own time is the whole train() call, compiling included. Untimed
(``--benchmark-disable``, what CI runs) each case trains 3 calls of at most 5 steps.
"""

from __future__ import annotations

import importlib.util
import time
from functools import partial

import numpy as np
import pytest

from tests.jaxworker import run_process

BATCH = 100  # PacGAN's 2-D batch: discriminator inputs a step (x pack points)
PACKS = (1, 2)
CALL_STEPS = (1, 50)
# timed calls per case: the one-step calls are short, so more of them
CALLS = {1: 400, 50: 20}
# untimed: 3 calls, and the many-step calls 5 steps long: JAX unrolls a call's steps, and
# compiling 50 unrolled steps of these MLPs took 50-66 s on this 2-core CPU (5: a few)
UNTIMED_CALLS, UNTIMED_STEPS = 3, 5


def points(n: int = 10_000, seed: int = 0) -> np.ndarray:
    """PacGAN's ring: 8 Gaussians on the unit circle, sigma 0.01, as (n, 2) float32."""
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * rng.integers(0, 8, n) / 8
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + 0.01 * rng.standard_normal((n, 2))).astype(np.float32)


def config(pack: int):
    import models

    return models.get("gan").Config(noise_dim=2, lr=1e-4, beta_1=0.8, dropout=0.0, pack=pack)


def harness_case(pack: int, k: int, calls: int) -> dict:
    """train() for 1 + calls calls of k steps; the figures of its timed calls."""
    import keras

    from benchmarks.harness import build, train

    model = build("gan", config(pack), seed=0, image_shape=(2,))
    log = train(model, points(), steps=k * (calls + 1), batch_size=BATCH, seed=0,
                steps_per_call=k)
    assert log.diverged_at is None and log.steps_done == k * (calls + 1)
    return {"backend": keras.backend.backend(), "ms_per_step": log.step_ms_median,
            "compile_s": log.compile_s, "calls": calls}


def bare_case(pack: int, k: int, calls: int) -> dict:
    """The same two networks, losses and optimizers in one hand-written tf.function of k
    steps (a tf.range loop), called on one fixed batch: no harness at all."""
    import keras
    import tensorflow as tf

    from models import packing
    from models.gan import vector_networks

    keras.utils.set_random_seed(0)
    nets = vector_networks(2, 2, pack)
    generator, discriminator = nets["generator"], nets["discriminator"]
    g_opt, d_opt = keras.optimizers.Adam(1e-4, beta_1=0.8), keras.optimizers.Adam(1e-4,
                                                                                 beta_1=0.8)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    real = tf.constant(packing.pack(points()[:BATCH * pack], pack))

    def one_step():
        noise = tf.random.normal([BATCH * pack, 2])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = packing.generate(generator, noise, pack)
            real_out = discriminator(real, training=True)
            fake_out = discriminator(fake, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out),
                                                                 fake_out)
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars, strict=True))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars, strict=True))
        return d_loss

    @tf.function
    def steps():
        loss = one_step()
        for _ in tf.range(1, k):
            loss = one_step()
        return loss

    start = time.perf_counter()
    float(steps())  # traces and compiles
    compile_s = time.perf_counter() - start
    per_call = []
    for _ in range(calls):
        start = time.perf_counter()
        float(steps())  # fetched, as the harness fetches its logs
        per_call.append(time.perf_counter() - start)
    return {"backend": "tensorflow", "ms_per_step": 1000 * float(np.median(per_call)) / k,
            "compile_s": compile_s, "calls": calls}


CASE_SCRIPT = ("import json, sys\nfrom tests.perf.test_points_speed import harness_case\n"
               "print('RESULT' + json.dumps(harness_case(*(int(a) for a in sys.argv[1:4]))))")


def report(benchmark, what: str, pack: int, k: int, result: dict) -> None:
    ms = result["ms_per_step"]
    benchmark.extra_info.update(steps_per_s=round(1000 / ms, 1), ms_per_step=round(ms, 3),
                                compile_s=round(result["compile_s"], 2), pack=pack,
                                steps_per_call=k, backend=result["backend"])
    print(f"\n{result['backend']:<10} {what:<7} pack={pack} steps_per_call={k:>2}: "
          f"{1000 / ms:7.1f} steps/s, {ms:6.2f} ms/step (median of {result['calls']} calls; "
          f"compiling {result['compile_s']:.1f} s)")


def _case(benchmark, pack: int, k: int) -> tuple[int, int, int]:
    """(pack, steps a call, calls): short when untimed."""
    if benchmark.disabled:
        return pack, min(k, UNTIMED_STEPS), UNTIMED_CALLS
    return pack, k, CALLS[k]


@pytest.mark.parametrize("k", CALL_STEPS)
@pytest.mark.parametrize("pack", PACKS)
def test_harness_points_steps_tensorflow(benchmark, pack, k):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the in-process case is the TensorFlow one")
    case = _case(benchmark, pack, k)
    result = benchmark.pedantic(harness_case, args=case, rounds=1, iterations=1)
    report(benchmark, "harness", *case[:2], result)


@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize("k", CALL_STEPS)
@pytest.mark.parametrize("pack", PACKS)
def test_harness_points_steps_jax(benchmark, pack, k, jax_worker):
    case = _case(benchmark, pack, k)
    # timed, each case in a fresh process; untimed (one run, to catch a broken case), in the
    # session's JAX worker (tests/jaxworker.py), sparing a JAX import per case
    child = (partial(jax_worker.run, CASE_SCRIPT) if benchmark.disabled
             else partial(run_process, CASE_SCRIPT, env={"KERAS_BACKEND": "jax"}))
    result = benchmark.pedantic(child, args=case, rounds=1, iterations=1)
    assert result["backend"] == "jax"
    report(benchmark, "harness", *case[:2], result)


@pytest.mark.parametrize("k", CALL_STEPS)
@pytest.mark.parametrize("pack", PACKS)
def test_bare_points_steps_tensorflow(benchmark, pack, k):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the bare step is a tf.function")
    case = _case(benchmark, pack, k)
    result = benchmark.pedantic(bare_case, args=case, rounds=1, iterations=1)
    report(benchmark, "bare", *case[:2], result)
