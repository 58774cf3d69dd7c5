"""Training images drawn on the fly (Stacked MNIST as PacGAN's Table 3 code draws it): the
batch order's k independent uniform indices per image, seeded and resumed from a checkpoint;
the engines' gather and stacking (packing's layout, TensorFlow and JAX alike, data-parallel
too); the run setting (--draw, the presets, the record's source line) and its one-line error.
TensorFlow runs in process, JAX in the session's JAX worker (tests/jaxworker.py); both run
the same script."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from keras import ops

from benchmarks import data
from benchmarks.config import FIXED, ON_THE_FLY, PRESETS, RunConfig
from benchmarks.harness import tensorflow as tf_engine
from benchmarks.harness.engine import stack_channels
from benchmarks.harness.loop import BLOCK_STEPS, BatchOrder
from benchmarks.harness.onthefly import OnTheFly
from models import packing
from tests.jaxworker import on_two_devices

# The engines' script: a tiny model whose logs are the part each channel of each image it is
# handed holds (part i is the value i everywhere), trained 4 steps on parts drawn on the fly.
PROBE = textwrap.dedent('''
    import json, sys
    import keras
    import numpy as np
    from keras import layers, ops
    from benchmarks.harness import build, train
    from benchmarks.harness.onthefly import OnTheFly
    from models.base import GenerativeModel, Phase

    PARTS = np.repeat(np.arange(50, dtype=np.float32), 16).reshape(50, 4, 4, 1)
    STACK, PACK, BATCH, STEPS = 3, 2, 4, 4


    class Probe(GenerativeModel):
        latent_dim = 0
        samples_per_example = PACK  # a batch element is PACK images, as a packed GAN's

        def sample(self, n, seed):
            return np.zeros((n, 4, 4, STACK), np.float32)

        def build_networks(self):
            return {"net": keras.Sequential([keras.Input((4, 4, STACK)), layers.Flatten(),
                                             layers.Dense(1)], name="net")}

        def build_phases(self):
            return [Phase("fit", self.networks["net"].trainable_variables,
                          keras.optimizers.SGD(0.01))]

        def compute_losses(self, images):
            logs = {"fit": ops.mean(self.networks["net"](images))}
            for r in range(images.shape[0]):  # each image's channels: which part, and flat
                for c in range(STACK):
                    logs[f"r{r}c{c}"] = ops.mean(images[r, :, :, c])
            return logs


    def probe(steps=STEPS, distribute=False, checkpoint_dir=None, checkpoint_every=0,
              stack=STACK):
        model = build(Probe, None, seed=0, image_shape=(4, 4, STACK), distribute=distribute)
        log = train(model, OnTheFly(PARTS, stack), steps=steps, batch_size=BATCH, seed=0,
                    steps_per_call=2, distribute=distribute, checkpoint_dir=checkpoint_dir,
                    checkpoint_every=checkpoint_every)
        return {"history": log.history, "replicas": log.replicas,
                "weights": [np.asarray(ops.convert_to_numpy(v)).tolist()
                            for v in model.variables]}


    def gathered():
        """What an engine makes of one index block: parts whose every pixel differs, a batch
        of BATCH elements of PACK images, each STACK parts."""
        from benchmarks.harness.loop import engine_module

        parts = np.arange(50 * 16, dtype=np.float32).reshape(50, 4, 4, 1)
        model = build(Probe, None, seed=0, image_shape=(4, 4, STACK))
        engine = engine_module().Engine(model, parts, batch_size=BATCH, jit=False,
                                        steps_per_call=1, stack=STACK)
        block = np.random.default_rng(5).integers(0, 50, BATCH * PACK * STACK)
        images = engine.images_of(ops.take(engine.images, block.astype(np.int32), axis=0))
        return ops.convert_to_numpy(images).tolist()


    if __name__ == "__main__":
        distribute = sys.argv[1:] == ["distribute"]
        if distribute and keras.backend.backend() == "tensorflow":  # two CPU devices
            import tensorflow as tf

            tf.config.set_logical_device_configuration(
                tf.config.list_physical_devices("CPU")[0],
                [tf.config.LogicalDeviceConfiguration()] * 2)
        out = probe(distribute=distribute)
        print("RESULT" + json.dumps(out if distribute else {**out, "gathered": gathered()}))
''')
N, STACK, PACK, BATCH, STEPS = 50, 3, 2, 4, 4


def probe_namespace() -> dict:
    namespace: dict = {"__name__": "probe"}
    exec(PROBE, namespace)  # noqa: S102  (the script the JAX tests run, in this process)
    return namespace


def expected_rows(steps: int = STEPS) -> np.ndarray:
    """The parts each step's images hold, (steps, batch x pack, stack), from the batch order
    the harness makes for the script (same seed, same block)."""
    order = BatchOrder(N, BATCH, seed=0, rows=BLOCK_STEPS, samples_per_example=PACK,
                       stack=STACK)
    return order.next_block()[:steps].reshape(steps, BATCH * PACK, STACK)


def seen(history: dict, rows: int) -> np.ndarray:
    """The probe's logs as (steps, rows, stack)."""
    return np.stack([np.stack([history[f"r{r}c{c}"] for c in range(STACK)], axis=-1)
                     for r in range(rows)], axis=1)


# --- the batch order ------------------------------------------------------------------------
def test_on_the_fly_rows_hold_k_independent_uniform_indices_per_image():
    order = BatchOrder(10, 4, seed=0, rows=2000, samples_per_example=2, stack=3)
    block = order.next_block()
    assert order.columns == 24 and block.shape == (2000, 24) and block.dtype == np.int32
    parts = block.reshape(-1, 3)  # an image's three channels
    assert parts.min() == 0 and parts.max() == 9  # uniform over the whole set: all of it
    np.testing.assert_allclose(np.bincount(parts.ravel(), minlength=10) / parts.size, 0.1,
                               atol=0.01)
    # independent channels: two channels of one image agree by chance only (1 in 10)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert abs(np.mean(parts[:, a] == parts[:, b]) - 0.1) < 0.01
    # with replacement, and no epochs: a batch may repeat an index, the next block is fresh
    assert any(len(set(row)) < 24 for row in block[:50])
    assert not np.array_equal(order.next_block(), block)
    # no "larger than the training set": drawn with replacement, a batch may exceed it
    assert BatchOrder(10, 64, seed=0, rows=1, stack=3).next_block().shape == (1, 192)


def test_on_the_fly_order_is_seeded_and_continues_from_its_state():
    def order(seed):
        return BatchOrder(50, 4, seed=seed, rows=8, samples_per_example=2, stack=3)

    a = order(1)
    first = a.next_block()
    np.testing.assert_array_equal(first, order(1).next_block())
    assert not np.array_equal(first, order(2).next_block())
    state, unused = a.state(), first[5:]  # 5 rows trained on, 3 drawn and not
    assert state["stack"] == 3
    later = a.next_block()  # what the uninterrupted order draws next
    resumed = order(7)  # another seed: the state restored decides
    resumed.restore(state, unused)
    np.testing.assert_array_equal(resumed.next_block(), np.concatenate([unused, later[:5]]))


# --- the engines' gather and stacking -----------------------------------------------------
def test_stacking_lays_each_run_of_k_parts_along_the_channels(digits):
    parts = digits[:40]  # real digits, 28 x 28 x 1
    indices = np.random.default_rng(0).integers(0, 40, 2 * 3 * 3)  # 3 elements of pack 2
    images = ops.convert_to_numpy(stack_channels(ops.take(parts, indices, axis=0), 3))
    assert images.shape == (6, 28, 28, 3)
    for row in range(6):  # every channel is one whole source digit, in the drawn order
        for c in range(3):
            np.testing.assert_array_equal(images[row, :, :, c], parts[indices[row * 3 + c], ..., 0])
    # packed, element b's channel 3j + c is part b·6 + 3j + c: PacGAN's ids[b, 3j + c]
    packed = ops.convert_to_numpy(packing.pack(images, 2))
    assert packed.shape == (3, 28, 28, 6)
    for b in range(3):
        for channel in range(6):
            np.testing.assert_array_equal(packed[b, :, :, channel],
                                          parts[indices[b * 6 + channel], ..., 0])
    two = np.random.default_rng(1).standard_normal((4, 5, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(stack_channels(two, 2))[1],
                                  np.concatenate([two[2], two[3]], axis=-1))  # C > 1 too
    assert OnTheFly(parts, 3).image_shape == (28, 28, 3)
    with pytest.raises(ValueError, match="at least 1 part"):
        OnTheFly(parts, 0)


def test_the_tensorflow_engine_gathers_and_stacks_parts(digits):
    probe = probe_namespace()
    model = probe["build"](probe["Probe"], None, seed=0, image_shape=(4, 4, 3))
    engine = tf_engine.Engine(model, digits[:40], batch_size=2, jit=False, steps_per_call=1,
                              stack=3)
    assert engine.columns == 2 * 2 * 3
    indices = np.arange(12)[::-1].astype(np.int32)
    got = engine.images_of(ops.take(engine.images, indices, axis=0))
    np.testing.assert_array_equal(ops.convert_to_numpy(got)[0, ..., 2], digits[9, ..., 0])
    fixed = tf_engine.Engine(model, digits[:40], batch_size=2, jit=False, steps_per_call=1)
    assert fixed.columns == 4 and fixed.images_of("as gathered") == "as gathered"


@pytest.mark.slow
def test_tensorflow_trains_on_the_drawn_images():
    out = probe_namespace()["probe"]()
    np.testing.assert_array_equal(seen(out["history"], BATCH * PACK), expected_rows())
    assert len(out["history"]["fit"]) == STEPS
    assert all(math.isfinite(v) for v in out["history"]["fit"])


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_trains_on_the_same_images_as_tensorflow(jax_worker):
    out = jax_worker.run(PROBE, timeout=600)
    np.testing.assert_array_equal(seen(out["history"], BATCH * PACK), expected_rows())
    # one index block, every pixel: the JAX engine's images are TensorFlow's, and the parts'
    tensorflow = np.asarray(probe_namespace()["gathered"]())
    np.testing.assert_array_equal(np.asarray(out["gathered"]), tensorflow)
    parts = np.arange(50 * 16, dtype=np.float32).reshape(50, 4, 4, 1)
    block = np.random.default_rng(5).integers(0, 50, BATCH * PACK * STACK).reshape(-1, STACK)
    assert tensorflow.shape == (BATCH * PACK, 4, 4, STACK)
    for row, indices in enumerate(block):
        for c, index in enumerate(indices):
            np.testing.assert_array_equal(tensorflow[row, :, :, c], parts[index, :, :, 0])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_replicas_stack_their_own_whole_elements(backend, jax_worker):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    out = on_two_devices(backend, PROBE.replace('sys.argv[1:] == ["distribute"]', "True"),
                         jax_worker, timeout=600)
    assert out["replicas"] == 2
    rows = expected_rows()
    if backend == "tensorflow":  # each replica its half (2 elements); logs: their mean
        half = BATCH * PACK // 2
        np.testing.assert_allclose(seen(out["history"], half), (rows[:, :half] + rows[:, half:])
                                   / 2)
    else:  # the global batch, sharded by rows
        np.testing.assert_array_equal(seen(out["history"], BATCH * PACK), rows)


# --- resume ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_run_drawn_on_the_fly_resumes_with_the_same_draws(tmp_path):
    probe = probe_namespace()["probe"]
    whole = probe(steps=10)
    probe(steps=7, checkpoint_dir=tmp_path, checkpoint_every=6)  # kept at 6 and 7
    continued = probe(steps=10, checkpoint_dir=tmp_path)
    for name, values in whole["history"].items():  # every drawn part, every loss
        np.testing.assert_allclose(continued["history"][name], values, rtol=1e-6)
    np.testing.assert_array_equal(seen(continued["history"], BATCH * PACK),
                                  expected_rows(10))
    for a, b in zip(continued["weights"], whole["weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(ValueError, match="trained on images drawn on the fly, 3 parts each, "
                                         "asked to continue on images drawn on the fly, 1 parts "
                                         "each: continue as it was drawn"):
        probe(steps=10, checkpoint_dir=tmp_path, stack=1)


# --- the run setting ------------------------------------------------------------------------
def test_table3_presets_draw_on_the_fly_and_table2_keeps_the_fixed_set():
    assert PRESETS["pacgan-table3"].draw == PRESETS["pacgan-table3-cpu"].draw == ON_THE_FLY
    assert {p.draw for name, p in PRESETS.items() if not name.startswith("pacgan-table3")} \
        == {FIXED}


def stacked_dataset() -> data.Dataset:
    """Stacked MNIST's Dataset as the registry makes it, its arrays stand-ins."""
    parts = SimpleNamespace(name="mnist", x_train=np.zeros((60000, 1)))
    return data.Dataset("stacked-mnist", np.zeros((128000, 28, 28, 3), np.float32),
                        np.zeros(128000), np.zeros((26000, 1)), np.zeros(26000),
                        ("000", "001"), "/data/mnist (stacked: ...)", "c" * 64,
                        request="stacked-mnist", channel_dataset=parts, stack=3)


def test_the_record_says_drawn_on_the_fly_and_scoring_keeps_the_fixed_set(monkeypatch,
                                                                          digits_dataset):
    from benchmarks import runner
    from reports import schema

    ds = stacked_dataset()
    monkeypatch.setattr(runner.data, "load", lambda *args, **kwargs: ds)
    monkeypatch.setattr(runner.data, "check_minimum", lambda ds: None)
    cfg = RunConfig(models=("metz",), dataset="stacked-mnist", data_dir=None,
                    backend="tensorflow", preset="pacgan-table3-cpu", steps=1, batch_size=128,
                    seeds=1, eval_every=0, eval_samples=100, samples=100, out=None,
                    draw=ON_THE_FLY)
    console = SimpleNamespace(info=lambda text: None, loud=lambda text: None)
    drawn = runner._load_data(cfg, console, None)
    record = runner.new_results(cfg, drawn)
    assert record["dataset"]["source"] == (
        "/data/mnist (stacked: ...); training images drawn on the fly: each 3 of mnist's "
        "60,000 training images as its channels, uniform with replacement, fresh every batch "
        "(its 128,000 fixed training images are not trained on)")
    assert record["config"]["draw"] == ON_THE_FLY and record["dataset"]["train_size"] == 128000
    schema.validate(record)
    # what the caches key on and the scoring reads: unchanged
    assert (drawn.name, drawn.checksum, drawn.stack) == (ds.name, ds.checksum, 3)
    assert drawn.x_train is ds.x_train and drawn.x_test is ds.x_test
    fixed = runner._load_data(dataclasses.replace(cfg, draw=FIXED), console, None)
    assert fixed.source == ds.source
    with pytest.raises(data.DataError, match="^training images drawn on the fly .* digits is "
                                             "not stacked: pass --draw fixed$"):
        data.on_the_fly(digits_dataset)


def test_a_trial_drawn_on_the_fly_trains_on_the_stacked_digits():
    from benchmarks.experiment import training_set

    parts = np.zeros((60, 28, 28, 1), np.float32)
    ds = SimpleNamespace(x_train=np.ones((5, 28, 28, 3)), stack=3,
                         channel_dataset=SimpleNamespace(x_train=parts))
    drawn = training_set(SimpleNamespace(dataset=ds, cfg=SimpleNamespace(draw=ON_THE_FLY)))
    assert drawn.parts is parts and drawn.stack == 3
    assert training_set(SimpleNamespace(dataset=ds, cfg=SimpleNamespace(draw=FIXED))) \
        is ds.x_train


def test_on_the_fly_on_a_dataset_not_stacked_is_one_line_before_any_output(tmp_path):
    from tests.clitools import assert_one_line_error, cli

    out = tmp_path / "run"
    proc = cli("run", "--preset", "pacgan-table3-cpu", "--dataset", "digits", "--models",
               "metz", "--out", str(out), env={"BENCHMARKS_CACHE_DIR": str(tmp_path / "cache")})
    assert_one_line_error(proc, "digits is not stacked: pass --draw fixed")
    assert not out.exists()


def test_a_bad_draw_is_one_line():
    from tests.clitools import assert_one_line_error, cli

    assert_one_line_error(cli("run", "--draw", "fresh"), "argument --draw: invalid choice: "
                          "'fresh' (choose from 'fixed', 'on-the-fly')")
