"""The shared training loop on TensorFlow (in process) and JAX (in the session's JAX worker,
tests/jaxworker.py)."""

from __future__ import annotations

import importlib.util
import math
import textwrap
from dataclasses import dataclass

import keras
import numpy as np
import pytest
from keras import layers, ops

import models
from benchmarks.harness import Callback, LambdaCallback, build, train
from benchmarks.harness.loop import BatchOrder
from models import registry
from models.base import GenerativeModel, Phase
from tests.conftest import SHAPE
from tests.jaxworker import on_two_devices


class Tiny(GenerativeModel):
    """A whole model in one class: what adding a model to the benchmark takes."""

    @dataclass(frozen=True)
    class Config:
        lr: float = 0.01  # plain SGD step; 1e30 makes the loss overflow on the second step

    def build_networks(self):
        net = keras.Sequential([keras.Input(self.image_shape), layers.Flatten(),
                                layers.Dense(1)], name="net")
        return {"net": net}

    def build_phases(self):
        return [Phase("fit", self.networks["net"].trainable_variables,
                      keras.optimizers.SGD(self.config.lr))]

    def compute_losses(self, images):
        return {"fit": ops.mean(ops.square(self.networks["net"](images) - 1.0))}

    @property
    def latent_dim(self):
        return 0

    def sample(self, n, seed):
        return np.zeros((n, *self.image_shape), np.float32)


@pytest.fixture
def tiny():
    cls = registry.register("tiny")(Tiny)
    yield cls
    registry.unregister("tiny")


def weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for p in model.phases for v in p.variables]


def test_a_new_model_is_one_registration(tiny, digits):
    assert "tiny" in models.names()
    model = build("tiny", seed=0, image_shape=SHAPE)
    before = weights(model)
    log = train(model, digits, steps=1, batch_size=32, seed=0)
    assert log.steps_done == 1 and math.isfinite(log.history["fit"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights(model), strict=True))


@pytest.mark.parametrize("name", models.names())
def test_one_step_changes_every_phase_and_gives_finite_losses(name, digits):
    model = build(name, seed=0, image_shape=SHAPE)
    before = weights(model)
    log = train(model, digits, steps=2, batch_size=32, seed=0)
    assert log.steps_done == 2 and log.diverged_at is None
    for phase in model.phases:
        assert all(math.isfinite(v) for v in log.history[phase.name])
    changed = [not np.array_equal(a, b) for a, b in zip(before, weights(model), strict=True)]
    start = 0
    for phase in model.phases:  # each phase's optimizer moved its own variables, as often
        assert any(changed[start:start + len(phase.variables)]), phase.name  # as it repeats
        assert keras.ops.convert_to_numpy(phase.optimizer.iterations) == 2 * phase.repeats
        start += len(phase.variables)
    assert log.compile_s > 0 and log.images_per_s > 0 and log.step_ms_median > 0
    assert log.peak_memory_mb > 0 and log.backend == "tensorflow"


def test_same_seed_same_losses_other_seed_other_losses(digits):
    def losses(seed):
        return train(build("dcgan", seed=seed, image_shape=SHAPE), digits, steps=3, batch_size=32,
                     seed=seed).history

    first, again, other = losses(1), losses(1), losses(2)
    assert first.keys() == again.keys()
    for name in first:
        # to the last digits on a fresh process; after wgan_gp's step has run in the same
        # process, TensorFlow/CPU was seen to differ in the 7th digit (1.2775652 vs 1.2775654)
        np.testing.assert_allclose(again[name], first[name], rtol=1e-5, err_msg=name)
    assert not np.allclose(first["generator"], other["generator"], rtol=1e-3)


def test_several_steps_per_call_train_like_single_steps(digits):
    one = train(build("gan", seed=0, image_shape=SHAPE), digits, steps=5, batch_size=32, seed=0)
    three = train(build("gan", seed=0, image_shape=SHAPE), digits, steps=5, batch_size=32, seed=0,
                  steps_per_call=3)
    np.testing.assert_allclose(three.history["generator"], one.history["generator"],
                               rtol=1e-5)
    assert three.steps_done == 5


def test_a_loss_that_overflows_stops_training_at_its_step(tiny, digits):
    log = train(build("tiny", Tiny.Config(lr=1e30), seed=0, image_shape=SHAPE), digits, steps=10,
                batch_size=32, seed=0)
    assert log.diverged_at == 2 and log.steps_done == 2
    assert math.isfinite(log.history["fit"][0]) and not math.isfinite(log.history["fit"][1])


def test_callbacks_see_every_step_evaluations_and_can_stop(tiny, digits):
    class Evaluations(Callback):  # listens to evaluations only
        def __init__(self):
            self.steps = []

        def on_eval(self, step):
            self.steps.append(step)

    seen, evals = [], Evaluations()
    stops = LambdaCallback(on_step=seen.append, should_stop=lambda: len(seen) >= 7)
    log = train(build("tiny", seed=0, image_shape=SHAPE), digits, steps=10, batch_size=32, seed=0,
                callbacks=[stops, evals], eval_every=3)
    assert [s.step for s in seen] == list(range(1, 8)) and all(s.steps == 10 for s in seen)
    assert math.isnan(seen[0].images_per_s) and seen[-1].images_per_s > 0
    assert evals.steps == [3, 6]
    assert log.stopped_early and log.steps_done == 7 and len(log.history["fit"]) == 7


def test_precision_must_match_the_built_model(tiny, digits):
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        train(build("tiny", seed=0, image_shape=SHAPE), digits, steps=1, batch_size=32, seed=0,
              precision="mixed_bfloat16")
    model = build("gan", seed=0, precision="mixed_bfloat16", image_shape=SHAPE)
    assert keras.config.dtype_policy().name == "float32"  # build restores the global policy
    log = train(model, digits, steps=2, batch_size=32, seed=0, precision="mixed_bfloat16")
    assert all(math.isfinite(v) for v in log.history["generator"])
    assert model.sample(2, seed=0).dtype == np.float32


def test_batches_are_seeded_epoch_permutations():
    order = BatchOrder(10, 3, seed=0, rows=6)
    block = order.next_block()
    assert block.shape == (6, 3)
    for epoch in (block[:3], block[3:]):  # 3 batches per epoch, the tenth image dropped
        assert len(set(epoch.ravel())) == 9
    np.testing.assert_array_equal(BatchOrder(10, 3, seed=0, rows=6).next_block(), block)
    with pytest.raises(ValueError, match="larger"):
        BatchOrder(10, 11, seed=0, rows=1)


# Same-seed determinism on JAX is checked by JAX_SCRIPT (a second build and compile each, about
# 9 s) only for the models whose step draws randomness of its own beyond the generator's
# noise: vae's reparameterization noise and wgan_gp's gradient-penalty interpolates. gan, dcgan
# and ae (gan's and dcgan's discriminator dropout included) must train to the losses recorded in
# another process: test_engine_contract's BEFORE["jax"]; dcgan_tf and metz draw only that noise,
# in gan's compute_losses, and have no dropout.
DRAWS_IN_STEP = ("vae", "wgan_gp")
JAX_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras, models, numpy as np
    from benchmarks import data
    from benchmarks.harness import Callback, LambdaCallback, build, train

    x = data.load("digits").x_train[:128]
    out = {"backend": keras.backend.backend()}
    DRAWS_IN_STEP = sys.argv[1:]  # the names test_every_model_trains_on_jax passes
    # the paper's 8.8M-weight dcgan_tf at an eighth of its width: the same code, compiled in
    # seconds (its full size is tested against the paper's code in test_papers_models.py)
    light = {"dcgan_tf": {"gf_dim": 8, "df_dim": 8}}
    for name in models.names():
        config = models.get(name).Config(**light[name]) if name in light else None
        model = build(name, config, seed=0, image_shape=(28, 28, 1))
        before = [np.array(v) for p in model.phases for v in p.variables]
        log = train(model, x, steps=2, batch_size=32, seed=0)
        same = None
        if name in DRAWS_IN_STEP:  # same seed, same losses: built and trained again
            same = log.history == train(build(name, config, seed=0, image_shape=x.shape[1:]),
                                        x, steps=2, batch_size=32, seed=0).history
        after = [np.array(v) for p in model.phases for v in p.variables]
        model.prepare_sampling(x)
        out[name] = {"history": log.history, "same": same,
                     "updates": [[int(np.array(p.optimizer.iterations)), p.repeats]
                                 for p in model.phases],
                     "changed": any(not np.array_equal(a, b) for a, b in zip(before, after)),
                     "sample": list(model.sample(3, seed=0).shape)}
    shape = x.shape[1:]
    one = train(build("gan", seed=0, image_shape=shape), x, steps=4, batch_size=32, seed=0)
    two = train(build("gan", seed=0, image_shape=shape), x, steps=4, batch_size=32, seed=0,
                steps_per_call=2)
    mixed = train(build("dcgan", seed=0, precision="mixed_bfloat16", image_shape=shape), x, steps=2,
                  batch_size=32, seed=0, precision="mixed_bfloat16")
    out["scan"] = {"one": one.history["generator"], "two": two.history["generator"],
                   "mixed": mixed.history["generator"]}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_every_model_trains_on_jax(jax_worker):
    out = jax_worker.run(JAX_SCRIPT, *DRAWS_IN_STEP)
    assert out.pop("backend") == "jax"
    scan = out.pop("scan")  # two steps per compiled call train like one, bfloat16 trains
    np.testing.assert_allclose(scan["two"], scan["one"], rtol=1e-4)
    assert all(math.isfinite(v) for v in scan["mixed"])
    assert sorted(out) == models.names()
    for name, result in out.items():
        assert result["changed"], name
        # trained twice only if in DRAWS_IN_STEP (the others' determinism: see there)
        assert result["same"] is (True if name in DRAWS_IN_STEP else None), name
        assert all(done == 2 * repeats for done, repeats in result["updates"]), name
        assert all(math.isfinite(v) for values in result["history"].values() for v in values)
        assert result["sample"] == [3, 28, 28, 1]


DISTRIBUTED_SCRIPT = textwrap.dedent("""
    import json, math, os
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, models, numpy as np
    from benchmarks import data
    from benchmarks.harness import Callback, LambdaCallback, build, train

    x = data.load("digits").x_train[:128]
    out = {}
    # dcgan with its generator averaged: the average and its count live on both replicas
    for name, config in (("dcgan", models.get("dcgan").Config(ema=0.9)), ("ae", None)):
        model = build(name, config, seed=0, distribute=True, image_shape=(28, 28, 1))
        log = train(model, x, steps=2, batch_size=32, seed=0, distribute=True)
        model.prepare_sampling(x)
        sample = model.sample(2, seed=0)
        out[name] = {"replicas": log.replicas, "history": log.history,
                     "sample": list(sample.shape), "finite": bool(np.isfinite(sample).all()),
                     "updates": None if model.average_updates is None else
                     float(keras.ops.convert_to_numpy(model.average_updates))}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_training_on_two_virtual_devices(backend, jax_worker):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    out = on_two_devices(backend, DISTRIBUTED_SCRIPT, jax_worker)
    for name, result in out.items():
        assert result["replicas"] == 2, name
        assert all(math.isfinite(v) for values in result["history"].values() for v in values)
        assert result["sample"] == [2, 28, 28, 1] and result["finite"], name
    assert out["dcgan"]["updates"] == 2.0 and out["ae"]["updates"] is None


def test_distribute_needs_a_model_built_for_it(digits):
    with pytest.raises(ValueError, match="distribute=True"):
        train(build("gan", seed=0, image_shape=SHAPE), digits, steps=1, batch_size=32, seed=0,
              distribute=True)
