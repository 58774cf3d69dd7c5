"""Packing (PacGAN): the discriminator judges ``pack`` samples jointly; the harness draws
batch x pack rows a batch; pack=1 is the unpacked model exactly. And gan's 2-D networks for
vector data (PacGAN's), which packing was measured on."""

from __future__ import annotations

import importlib.util
import math
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import models
from benchmarks.harness import build, checkpoint, train
from benchmarks.harness import tensorflow as tf_engine
from benchmarks.harness.loop import BatchOrder
from models import losses, packing
from tests.jaxworker import on_two_devices

SHAPE = (28, 28, 1)
GANS = ("gan", "dcgan", "wgan_gp")
DISCRIMINATOR = {"gan": "discriminator", "dcgan": "discriminator", "wgan_gp": "critic"}


def points(n: int = 400, seed: int = 0) -> np.ndarray:
    """PacGAN's ring: 8 Gaussians on the unit circle, sigma 0.01, as (n, 2) float32."""
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * rng.integers(0, 8, n) / 8
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + 0.01 * rng.standard_normal((n, 2))).astype(np.float32)


def make(name: str, shape=SHAPE, **settings):
    return models.get(name)(models.get(name).Config(**settings), image_shape=shape)


def state(model) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v)) for v in model.variables]


def set_state(model, values) -> None:
    for variable, value in zip(model.variables, values, strict=True):
        variable.assign(value)


# --- the packing functions ----------------------------------------------------------------
def test_pack_puts_consecutive_samples_side_by_side_along_the_last_axis():
    x = np.random.default_rng(0).standard_normal((6, 4, 5, 3)).astype(np.float32)
    for m in (1, 2, 3):
        expected = np.concatenate([x[j::m] for j in range(m)], axis=-1)  # (6/m, 4, 5, 3m)
        np.testing.assert_array_equal(ops.convert_to_numpy(packing.pack(x, m)), expected)
    v = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(packing.pack(v, 3)),
                                  [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    assert packing.packed_shape((28, 28, 3), 2) == (28, 28, 6)
    assert packing.packed_shape((2,), 4) == (8,)


def test_generate_normalises_each_noise_batch_on_its_own():
    # batch normalisation in training mode: one call on all 2n rows would mix the chunks'
    # statistics; PacGAN calls the generator once per z batch
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                                  keras.layers.BatchNormalization()])
    noise = np.random.default_rng(1).standard_normal((10, 3)).astype(np.float32)
    out = ops.convert_to_numpy(packing.generate(generator, noise, 2))
    first = ops.convert_to_numpy(generator(noise[:5], training=True))
    second = ops.convert_to_numpy(generator(noise[5:], training=True))
    np.testing.assert_allclose(out, np.concatenate([first, second], axis=-1), rtol=1e-6)
    together = ops.convert_to_numpy(generator(noise, training=True))
    assert not np.allclose(out[:, :4], together[:5], atol=1e-3)


# --- the setting ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", GANS)
def test_pack_is_an_integer_from_1_to_8(name):
    config = models.get(name).Config
    assert config().pack == 1 and config(pack=8).pack == 8
    for bad in (0, 9, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"^pack=.* is not allowed; expected an integer "
                                             r"in \[1, 8\]$"):
            config(pack=bad)


def test_pack_is_a_set_key_from_the_command_line():
    from benchmarks.errors import UserError
    from benchmarks.overrides import parse_overrides

    classes = {"dcgan": models.get("dcgan").Config}
    assert parse_overrides(["dcgan.pack=2"], classes) == {"dcgan": {"pack": 2}}
    with pytest.raises(UserError, match=r"^--set dcgan.pack=9: pack=9 is not allowed; "
                                        r"expected an integer in \[1, 8\]$"):
        parse_overrides(["dcgan.pack=9"], classes)


# --- pack=1 is today's model; pack=2 changes the discriminator's input only ------------------
def test_unpacked_models_keep_their_parameter_counts():
    assert make("gan").param_counts() == {"generator": 1_486_352, "discriminator": 1_460_225,
                                          "total": 2_946_577}
    assert make("dcgan").param_counts() == {"generator": 2_330_944, "discriminator": 212_865,
                                            "total": 2_543_809}
    assert make("wgan_gp").param_counts() == {"generator": 2_330_944, "critic": 212_865,
                                              "total": 2_543_809}
    for name in GANS:
        assert make(name).samples_per_example == 1
        assert make(name, pack=3).samples_per_example == 3


@pytest.mark.parametrize("name, first_layer, packed_count", [
    ("gan", ((784, 1024), (1568, 1024)), 2_263_041),  # + 784 x 1024 input weights
    ("dcgan", ((5, 5, 1, 64), (5, 5, 2, 64)), 214_465),  # + 5 x 5 x 64
    ("wgan_gp", ((5, 5, 1, 64), (5, 5, 2, 64)), 214_465),
])
def test_pack_2_doubles_the_discriminators_input_channels_and_nothing_else(
        name, first_layer, packed_count):
    one, two = make(name), make(name, pack=2)
    d = DISCRIMINATOR[name]
    assert two.param_counts()["generator"] == one.param_counts()["generator"]
    assert two.param_counts()[d] == packed_count
    shapes = [[tuple(w.shape) for w in m.networks[d].weights] for m in (one, two)]
    assert (shapes[0][0], shapes[1][0]) == first_layer
    assert shapes[0][1:] == shapes[1][1:]
    assert two.networks[d].input_shape == (None, 28, 28, 2)
    for a, b in zip(one.networks["generator"].weights, two.networks["generator"].weights,
                    strict=True):
        assert a.shape == b.shape


# today's compute_losses, verbatim from before packing: the reference pack=1 must equal
def gan_losses_before_packing(self, images) -> dict:
    generator, discriminator = self.networks["generator"], self.networks["discriminator"]
    rule = self.config.loss
    noise = keras.random.normal((ops.shape(images)[0], self.config.noise_dim),
                                seed=self.seed_generator)
    fake = generator(noise, training=True)
    real_logits = discriminator(images, training=True)
    fake_logits = discriminator(fake, training=True)
    return {
        "generator": losses.generator_loss(rule, fake_logits),
        "discriminator": losses.discriminator_loss(rule, real_logits, fake_logits,
                                                   self.config.real_label),
        "d_real": losses.realness(rule, real_logits),
        "d_fake": losses.realness(rule, fake_logits),
    }


def wgan_gp_losses_before_packing(self, images) -> dict:
    generator, critic = self.networks["generator"], self.networks["critic"]
    n = ops.shape(images)[0]
    noise = keras.random.normal((n, self.config.noise_dim), seed=self.seed_generator)
    fake = generator(noise, training=True)
    real = ops.cast(images, fake.dtype)
    real_scores = ops.mean(critic(real, training=True))
    fake_scores = ops.mean(critic(fake, training=True))
    epsilon = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
    _, grads = self.input_gradient(lambda x: critic(x, training=True),
                                   epsilon * real + (1.0 - epsilon) * fake)
    grads = ops.reshape(ops.cast(grads, "float32"), (n, -1))
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=1) + 1e-12)
    penalty = ops.mean(ops.square(norms - 1.0))
    wasserstein = real_scores - fake_scores
    return {
        "critic": -wasserstein + self.config.gp_weight * penalty,
        "generator": -fake_scores,
        "wasserstein": wasserstein,
        "gradient_penalty": penalty,
    }


BEFORE = {"gan": gan_losses_before_packing, "dcgan": gan_losses_before_packing,
          "wgan_gp": wgan_gp_losses_before_packing}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="binds the TF gradient")
@pytest.mark.parametrize("name", GANS)
def test_unpacked_losses_are_todays_on_the_same_weights_seeds_and_images(name, digits):
    model = build(name, seed=3, image_shape=SHAPE)
    model.bind_input_gradient(tf_engine.input_gradient)
    images = digits[:8]
    start = state(model)  # weights, batch-norm statistics, noise and dropout seeds
    now = model.compute_losses(images)
    after_now = state(model)
    set_state(model, start)
    before = BEFORE[name](model, images)
    assert sorted(now) == sorted(before)
    for key in now:  # the same operations on the same values: equal to the bit
        assert float(now[key]) == float(before[key]), key
    for a, b in zip(after_now, state(model), strict=True):  # the same state updates too
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="binds the TF gradient")
@pytest.mark.parametrize("name", GANS)
def test_packed_losses_judge_packed_real_and_packed_fake_inputs(name, digits):
    settings = {"pack": 2} if name == "wgan_gp" else {"pack": 2, "dropout": 0.0}
    model = build(name, models.get(name).Config(**settings), seed=0, image_shape=SHAPE)
    model.bind_input_gradient(tf_engine.input_gradient)
    d = model.networks[DISCRIMINATOR[name]]
    images = digits[:8]  # 4 discriminator inputs of 2 images each
    start = state(model)
    logs = model.compute_losses(images)
    set_state(model, start)
    noise = keras.random.normal((8, model.config.noise_dim), seed=model.seed_generator)
    generator = model.networks["generator"]
    fake = np.concatenate([ops.convert_to_numpy(generator(noise[:4], training=True)),
                           ops.convert_to_numpy(generator(noise[4:], training=True))], axis=-1)
    real = np.concatenate([images[0::2], images[1::2]], axis=-1)  # (4, 28, 28, 2)
    real_out = ops.convert_to_numpy(d(real, training=True))
    fake_out = ops.convert_to_numpy(d(fake, training=True))
    assert real_out.shape == fake_out.shape == (4, 1)
    if name == "wgan_gp":
        np.testing.assert_allclose(float(logs["wasserstein"]),
                                   real_out.mean() - fake_out.mean(), rtol=1e-5, atol=1e-6)
    else:  # ns: D's verdict is the mean probability of "real"
        sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        np.testing.assert_allclose(float(logs["d_real"]), sigmoid(real_out).mean(), rtol=1e-5)
        np.testing.assert_allclose(float(logs["d_fake"]), sigmoid(fake_out).mean(), rtol=1e-5)


@pytest.mark.parametrize("name", GANS)
def test_a_packed_generator_still_samples_single_images(name):
    model = make(name, pack=2)
    assert model.sample(3, seed=0).shape == (3, *SHAPE)
    assert model.sampling_model().input_shape == (None, 100)


def test_a_packed_generator_exports_single_images(tmp_path):
    from benchmarks import export

    model = make("dcgan", pack=2)
    path = export.save(model, tmp_path)
    loaded = keras.saving.load_model(path)
    noise = np.random.default_rng(4).standard_normal((3, 100)).astype(np.float32)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(noise)), model.sample(3, seed=4),
                               atol=1e-5)


# --- the harness draws batch x pack rows -------------------------------------------------------
def test_batch_order_draws_whole_elements_of_consecutive_rows():
    order = BatchOrder(10, 2, seed=0, rows=4, samples_per_example=2)
    block = order.next_block()
    assert order.width == 4 and block.shape == (4, 4)
    for epoch in (block[:2], block[2:]):  # 2 batches of 2 x 2 an epoch, two images dropped
        assert len(set(epoch.ravel())) == 8
    np.testing.assert_array_equal(block, BatchOrder(10, 4, seed=0, rows=4).next_block())
    assert order.state()["samples_per_example"] == 2
    with pytest.raises(ValueError, match=r"^batch size 3 x 4 images per element \(12\) is "
                                         r"larger than the 10 training images$"):
        BatchOrder(10, 3, seed=0, rows=1, samples_per_example=4)


@pytest.mark.slow
def test_a_packed_step_reads_batch_x_pack_images(tmp_path):
    seen = []

    class Recording(models.get("gan")):  # what compute_losses is handed, as traced
        def compute_losses(self, images):
            seen.append(tuple(images.shape))
            return super().compute_losses(images)

    model = build(Recording, models.get("gan").Config(pack=3, noise_dim=2), seed=0,
                  image_shape=(2,))
    log = train(model, points(), steps=3, batch_size=10, seed=0, steps_per_call=3,
                checkpoint_dir=tmp_path, checkpoint_every=3)
    assert set(seen) == {(30, 2)} and log.samples_per_example == 3 and log.batch_size == 10
    _, _, unused = checkpoint.read(tmp_path)
    assert unused.shape[1] == 30  # the rows not yet trained on, 30 indices each


@pytest.mark.slow
def test_a_packed_run_continues_from_its_checkpoint_step_for_step(tmp_path):
    x, config = points(), models.get("gan").Config(pack=2, noise_dim=2)
    whole = build("gan", config, seed=0, image_shape=(2,))
    uninterrupted = train(whole, x, steps=30, batch_size=25, seed=0)  # 8 batches an epoch
    train(build("gan", config, seed=0, image_shape=(2,)), x, steps=13, batch_size=25, seed=0,
          checkpoint_dir=tmp_path, checkpoint_every=11)
    model = build("gan", config, seed=0, image_shape=(2,))
    continued = train(model, x, steps=30, batch_size=25, seed=0, checkpoint_dir=tmp_path)
    np.testing.assert_allclose(continued.history["discriminator"],
                               uninterrupted.history["discriminator"], rtol=1e-5)
    # a step off moves every weight by about Adam's lr (2e-4); round-off does not: in one CI
    # run (after other tests in the same worker; not reproduced alone) 7 of 400 weights near
    # zero differed by up to 3.8e-7 (relative 6e-4), so near zero the bound is 1e-6
    for a, b in zip(state(model), state(whole), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    other = build("gan", models.get("gan").Config(pack=3, noise_dim=2), seed=0,
                  image_shape=(2,))
    with pytest.raises(ValueError, match="trained with 2 images per batch element .pack., "
                                         "asked to continue with 3: use the same pack"):
        train(other, x, steps=31, batch_size=25, seed=0, checkpoint_dir=tmp_path)


# --- gan's 2-D networks for vectors ---------------------------------------------------------
def test_vector_gan_has_pacgans_2d_networks():
    model = make("gan", (2,), noise_dim=2)
    g, d = model.networks["generator"], model.networks["discriminator"]
    # G: 2 -> 400 (no bias), then 3 x 400 -> 400 (no bias), each with batch normalisation
    # (gamma, beta, 2 running statistics), then 400 -> 2 with bias
    assert model.param_counts()["generator"] == (2 * 400 + 4 * 400) \
        + 3 * (400 * 400 + 4 * 400) + (400 * 2 + 2) == 488_002
    trainable = sum(int(np.prod(v.shape)) for v in g.trainable_variables)
    assert trainable == 488_002 - 4 * 2 * 400 == 484_802
    # D: 3 maxout layers of 200 units x 5 pieces (Dense 1000), then 200 -> 1
    assert model.param_counts()["discriminator"] == (2 * 1000 + 1000) \
        + 2 * (200 * 1000 + 1000) + 201 == 405_201
    assert [type(layer).__name__ for layer in d.layers] == ["Dense", "Maxout"] * 3 + ["Dense"]
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in d.layers)
    assert d.output_shape == (None, 1) and g.output_shape == (None, 2)
    assert make("gan", (2,)).param_counts()["generator"] == 527_202  # noise_dim 100: 100 x 400
    # N(0, 0.02) weights, zero biases
    kernel = ops.convert_to_numpy(d.layers[2].kernel)
    assert abs(kernel.std() - 0.02) < 0.002 and not ops.convert_to_numpy(d.layers[2].bias).any()


def test_maxout_takes_the_largest_of_each_run_of_pieces():
    from models.gan import Maxout

    x = np.array([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]], np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(Maxout(3)(x)), [[5.0, -1.0]])


def test_vector_generator_is_unbounded():
    model = make("gan", (2,), noise_dim=2)
    last = model.networks["generator"].layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.get_config()["activation"] == "linear"


def test_pack_2_on_vectors_doubles_the_discriminators_input_features_only():
    one, two = make("gan", (2,), noise_dim=2), make("gan", (2,), noise_dim=2, pack=2)
    assert two.param_counts() == {"generator": 488_002, "discriminator": 407_201,
                                  "total": 895_203}  # + 2 x 1000 first-layer weights
    assert two.networks["discriminator"].input_shape == (None, 4)
    assert [w.shape for w in one.networks["discriminator"].weights][1:] == \
        [w.shape for w in two.networks["discriminator"].weights][1:]


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_convolutional_models_refuse_vectors_in_one_line(name):
    with pytest.raises(ValueError) as err:
        make(name, (2,))
    assert str(err.value) == (f"{name} builds for images of shape (height, width, channels), "
                              "not 2-d vectors (2,): it is convolutional")


@pytest.mark.slow
@pytest.mark.parametrize("pack", [1, 2])
def test_vector_gan_trains_on_points(pack):
    x = points(400)
    model = build("gan", models.get("gan").Config(noise_dim=2, lr=1e-4, beta_1=0.8,
                                                  dropout=0.0, pack=pack),
                  seed=0, image_shape=(2,))
    log = train(model, x, steps=20, batch_size=100 // pack, seed=0, steps_per_call=10)
    assert log.steps_done == 20 and log.diverged_at is None
    assert all(math.isfinite(v) for values in log.history.values() for v in values)
    assert model.sample(5, seed=0).shape == (5, 2)


# --- data parallelism: a replica's slice holds whole elements ---------------------------------
DISTRIBUTED_SCRIPT = textwrap.dedent("""
    import json, os
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np, models
    from benchmarks.harness import build, train
    from tests.test_packing import points

    seen = []

    class Recording(models.get("gan")):
        def compute_losses(self, images):
            seen.append(list(images.shape))
            return super().compute_losses(images)

    model = build(Recording, models.get("gan").Config(pack=2, noise_dim=2), seed=0,
                  distribute=True, image_shape=(2,))
    log = train(model, points(), steps=2, batch_size=8, seed=0, distribute=True)
    print("RESULT" + json.dumps({"seen": seen, "replicas": log.replicas,
                                 "history": log.history}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_packing_splits_whole_elements(backend, jax_worker):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    out = on_two_devices(backend, DISTRIBUTED_SCRIPT, jax_worker, timeout=600)
    assert out["replicas"] == 2
    # TensorFlow: each replica computes on its half, 4 elements of 2 points; JAX: the
    # global batch, which XLA shards by rows (8 whole elements, 4 on each device)
    assert {tuple(s) for s in out["seen"]} == {(8, 2) if backend == "tensorflow" else (16, 2)}
    assert all(math.isfinite(v) for values in out["history"].values() for v in values)


def test_a_packed_batch_larger_than_the_training_set_is_refused_before_any_output(tmp_path):
    from tests.clitools import assert_one_line_error, cli

    out = tmp_path / "run"
    proc = cli("run", "--preset", "smoke", "--dataset", "digits", "--models", "gan",
               "--batch-size", "1000", "--set", "gan.pack=2", "--out", str(out),
               env={"BENCHMARKS_CACHE_DIR": str(tmp_path / "cache")})
    assert_one_line_error(proc, "gan reads 2 images per batch element (pack), 2,000 a batch "
                          "at --batch-size 1,000, more than the", "training images of digits",
                          "choose a smaller batch or pack")
    assert not out.exists()
