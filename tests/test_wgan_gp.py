"""WGAN-GP: its networks, its settings' checks, and its 5:1 schedule (on JAX: test_harness'
every-model script checks each phase's update count)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import models
from benchmarks import data
from benchmarks.harness import build, train
from tests.conftest import SHAPE

WGAN = models.get("wgan_gp")


def test_parameter_counts():
    counts = WGAN(image_shape=(28, 28, 1)).param_counts()
    # generator, dcgan's: dense 100 x 7*7*256 = 1,254,400 (no bias); its batch norm 4 x 12,544
    # = 50,176; 5x5 transposed convolutions 256->128: 819,200, 128->64: 204,800, 64->1: 1,600
    # (no biases); batch norms 4 x 128 = 512 and 4 x 64 = 256
    assert counts["generator"] == 1_254_400 + 50_176 + 819_200 + 512 + 204_800 + 256 + 1_600
    # critic: 5x5 convolutions 1->64: 1,600 + 64, 64->128: 204,800 + 128; dense 7*7*128 + 1
    assert counts["critic"] == 1_664 + 204_928 + 6_273 == 212_865
    assert counts["total"] == 2_330_944 + 212_865


def _layers(network) -> list:
    def config(layer):
        return {k: v for k, v in layer.get_config().items() if k != "name"}

    return [(type(layer).__name__, config(layer)) for layer in network.layers]


def test_generator_is_dcgans_and_the_critic_drops_dropout_and_keeps_no_sigmoid():
    shape = (28, 28, 1)
    ours, dcgan = WGAN(image_shape=shape).networks, models.get("dcgan")(image_shape=shape).networks
    assert _layers(ours["generator"]) == _layers(dcgan["generator"])
    kept = [layer for layer in _layers(dcgan["discriminator"]) if layer[0] != "Dropout"]
    assert _layers(ours["critic"]) == kept
    assert not any(name in ("BatchNormalization", "Dropout") for name, _ in
                   _layers(ours["critic"]))
    assert ours["critic"].layers[-1].get_config()["activation"] == "linear"


def test_defaults_are_the_papers():
    c = WGAN.Config()
    assert (c.lr, c.beta_1, c.beta_2, c.gp_weight, c.n_critic, c.ema) == (
        1e-4, 0.0, 0.9, 10.0, 5, 0.0)
    critic, generator = WGAN(image_shape=(28, 28, 1)).phases
    assert (critic.name, critic.repeats, generator.name, generator.repeats) == (
        "critic", 5, "generator", 1)


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("noise_dim", 0, "an integer >= 1"), ("noise_dim", 2.5, "an integer >= 1"),
    ("lr", -1.0, "> 0"), ("lr", math.nan, "> 0"), ("lr", math.inf, "> 0"),
    ("beta_1", 1.0, r"\[0, 1\)"), ("beta_2", -0.1, r"\[0, 1\)"), ("ema", 1.0, r"\[0, 1\)"),
    ("ema", math.nan, r"\[0, 1\)"), ("gp_weight", -1.0, ">= 0"),
    ("n_critic", 0, r"\[1, 100\]"), ("n_critic", 101, r"\[1, 100\]"),
    ("n_critic", True, r"\[1, 100\]"),
])
def test_a_bad_setting_names_the_field_the_value_and_the_range(field, value, allowed):
    with pytest.raises(ValueError, match=rf"^{field}={value!r} is not allowed; expected .*"
                                         rf"{allowed}"):
        WGAN.Config(**{field: value})


@pytest.mark.slow
def test_the_critic_updates_five_times_per_generator_step_and_logs_its_estimates():
    x = data.load("digits").x_train[:128]
    model = build("wgan_gp", seed=0, image_shape=SHAPE)
    critic_before = [np.array(v) for v in model.networks["critic"].trainable_variables]
    log = train(model, x, steps=2, batch_size=8, seed=0)
    critic, generator = (int(keras.ops.convert_to_numpy(p.optimizer.iterations))
                         for p in model.phases)
    assert (critic, generator) == (10, 2)
    assert log.batches_per_step == 5
    assert sorted(log.history) == ["critic", "generator", "gradient_penalty", "wasserstein"]
    assert all(math.isfinite(v) for values in log.history.values() for v in values)
    assert all(v >= 0 for v in log.history["gradient_penalty"])
    assert any(not np.array_equal(a, np.array(b)) for a, b in
               zip(critic_before, model.networks["critic"].trainable_variables, strict=True))
    assert model.weights_scored == "raw" and model.sample(2, seed=0).shape == (2, 28, 28, 1)
