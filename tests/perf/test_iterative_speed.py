"""flow's and ddpm's costs: the U-Net's training step through the harness against a bare Keras
step of the same network and loss (interleaved, as tests/perf/test_step_timing.py's dcgan),
and sampling images/s at NFE 16 and 64 on TensorFlow and JAX, beside the rate one network
evaluation allows (what bounds it).

    pytest tests/perf/test_iterative_speed.py --benchmark-only -s

``make test`` runs each once, untimed, at the smallest sizes, so a broken case fails the suite.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from functools import partial

import keras
import numpy as np
import pytest

import models
from tests.conftest import SHAPE
from tests.jaxworker import run_process
from tests.perf.test_step_timing import harness_step, paired_rounds

BATCH = 64  # the quick preset's
NFES = (16, 64)
UNTIMED_NFE, UNTIMED_BATCH = 2, 4  # make test's single untimed run


class PlainFlow(models.get("flow")):
    """flow without its weight average, so the harness's step and the bare one do the same
    work (the average's cost is tests/perf/test_step_timing.py's to measure, on dcgan)."""

    @dataclass(frozen=True)
    class Config(models.get("flow").Config):
        ema: float = 0.0


def bare_flow_step(batch: int):
    """flow's loss on the same U-Net as one tf.function with one tape and Adam: what a user
    would write without the harness."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the bare step is a tf.function")
    import tensorflow as tf

    from models.flow import straight_path
    from models.unet import unet

    network = unet("flow", SHAPE)
    optimizer = keras.optimizers.Adam(5e-4)
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, *SHAPE)), tf.float32)

    @tf.function
    def step(x1):
        x0 = tf.random.normal(tf.shape(x1))
        t = tf.random.uniform((batch, 1))
        x_t, target = straight_path(x0, x1, tf.reshape(t, (-1, 1, 1, 1)))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(network([x_t, t], training=True) - target))
        grads = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(grads, network.trainable_variables, strict=True))
        return loss

    return lambda: float(step(images))


def test_harness_unet_step_keeps_up_with_a_bare_keras_step(benchmark):
    batch = UNTIMED_BATCH if benchmark.disabled else BATCH
    timed = paired_rounds(benchmark, harness_step(PlainFlow, batch), bare_flow_step(batch),
                          batch, "bare")
    if timed is None:
        return
    ours, theirs, paired = timed
    print(f"\nflow U-Net batch {batch}: harness {ours:.0f} images/s, bare {theirs:.0f}, "
          f"{paired}")
    assert not paired.slower_than(0.95), f"harness slower than 0.95 x bare: {paired}"


def sampling_case(name: str, nfe: int, batch: int, calls: int) -> dict:
    """sample_at's images/s at ``nfe`` after a first (compiling) call, and the U-Net's own
    forward images/s at the same batch through the same compiled call (predict_on_batch):
    sampling x NFE over it near 1 means the network's evaluations bound the sampler."""
    cls = models.get(name)
    model = cls(cls.Config(nfe=nfe), SHAPE)
    model.sample_at(batch, 0, nfe)  # compiles, builds the sampler
    start = time.perf_counter()
    for i in range(calls):
        model.sample_at(batch, i, nfe)
    sampling = calls * batch / (time.perf_counter() - start)
    network = model.sampling_network("unet")
    x = np.zeros((batch, *SHAPE), np.float32)
    t = np.full((batch, 1), 0.5, np.float32)
    network.predict_on_batch([x, t])
    start, evaluations = time.perf_counter(), calls * nfe
    for _ in range(evaluations):
        network.predict_on_batch([x, t])
    forward = evaluations * batch / (time.perf_counter() - start)
    return {"backend": keras.backend.backend(), "sampling_images_per_s": sampling,
            "forward_images_per_s": forward, "network_share": sampling * nfe / forward}


CASE_SCRIPT = ("import json, sys\nfrom tests.perf.test_iterative_speed import sampling_case\n"
               "print('RESULT' + json.dumps(sampling_case(sys.argv[1], "
               "*(int(a) for a in sys.argv[2:5]))))")


def report(benchmark, name: str, nfe: int, batch: int, result: dict) -> None:
    benchmark.extra_info.update(nfe=nfe, batch=batch, **{k: round(v, 3) if isinstance(v, float)
                                                         else v for k, v in result.items()})
    print(f"\n{result['backend']:<10} {name} NFE {nfe:>2} batch {batch}: sampling "
          f"{result['sampling_images_per_s']:.1f} images/s; the U-Net alone "
          f"{result['forward_images_per_s']:.0f} evaluations/s, so the network's share of the "
          f"sampler's time is {result['network_share']:.2f}")


def _case(benchmark, name: str, nfe: int) -> tuple:
    """(name, NFE, batch, timed calls); untimed, flow at NFE 16's case alone (the others run
    the same code: ddpm's sampler is tests/test_iterative.py's)."""
    if not benchmark.disabled:
        return name, nfe, BATCH, 2
    if (name, nfe) != ("flow", NFES[0]):
        pytest.skip("untimed, flow's first case alone checks the code path")
    return name, UNTIMED_NFE, UNTIMED_BATCH, 1


@pytest.mark.parametrize("nfe", NFES)
@pytest.mark.parametrize("name", ["flow", "ddpm"])
def test_sampling_speed_tensorflow(benchmark, name, nfe):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the in-process case is the TensorFlow one")
    case = _case(benchmark, name, nfe)
    result = benchmark.pedantic(sampling_case, args=case, rounds=1, iterations=1)
    report(benchmark, name, *case[1:3], result)


@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize("nfe", NFES)
@pytest.mark.parametrize("name", ["flow", "ddpm"])
def test_sampling_speed_jax(benchmark, name, nfe, jax_worker):
    case = _case(benchmark, name, nfe)
    # timed, in a fresh process; untimed (one run, to catch a broken case), the session's
    # JAX worker (tests/jaxworker.py)
    child = (partial(jax_worker.run, CASE_SCRIPT) if benchmark.disabled
             else partial(run_process, CASE_SCRIPT, env={"KERAS_BACKEND": "jax"}))
    result = benchmark.pedantic(child, args=case, rounds=1, iterations=1)
    assert result["backend"] == "jax" and json.dumps(result)
    report(benchmark, name, *case[1:3], result)
