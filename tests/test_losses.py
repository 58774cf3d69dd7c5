"""The GAN loss rules on hand-made logits, against values worked by hand."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest

import models
from models import losses

REAL = np.array([[0.5], [2.0]], np.float32)  # D's raw outputs on two real images
FAKE = np.array([[-1.5], [0.25]], np.float32)  # ... and on two generated ones


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def value(x) -> float:
    return float(keras.ops.convert_to_numpy(x))


def test_ns_is_binary_cross_entropy_with_the_non_saturating_generator():
    # -log sigmoid(x) = softplus(-x), -log(1 - sigmoid(x)) = softplus(x)
    d = (softplus(-0.5) + softplus(-2.0)) / 2 + (softplus(-1.5) + softplus(0.25)) / 2
    g = (softplus(1.5) + softplus(-0.25)) / 2
    assert value(losses.discriminator_loss("ns", REAL, FAKE)) == pytest.approx(d, rel=1e-6)
    assert value(losses.generator_loss("ns", FAKE)) == pytest.approx(g, rel=1e-6)
    # smoothed label y: y softplus(-x) + (1 - y) softplus(x) on the real logits
    smooth = sum(0.9 * softplus(-x) + 0.1 * softplus(x) for x in (0.5, 2.0)) / 2
    smooth += (softplus(-1.5) + softplus(0.25)) / 2
    assert value(losses.discriminator_loss("ns", REAL, FAKE, 0.9)) == pytest.approx(smooth,
                                                                                    rel=1e-6)


def test_ls_is_half_the_squared_distance_to_the_zero_one_targets():
    # D: 1/2 mean((0.5-1)^2, (2-1)^2) + 1/2 mean(1.5^2, 0.25^2) = 0.3125 + 0.578125
    assert value(losses.discriminator_loss("ls", REAL, FAKE)) == pytest.approx(0.890625)
    # b = real_label 0.9: 1/2 mean(0.4^2, 1.1^2) = 0.3425
    assert value(losses.discriminator_loss("ls", REAL, FAKE, 0.9)) == pytest.approx(0.920625)
    # G: 1/2 mean((-1.5-1)^2, (0.25-1)^2) = 1/2 mean(6.25, 0.5625)
    assert value(losses.generator_loss("ls", FAKE)) == pytest.approx(1.703125)


def test_hinge_penalises_real_below_one_and_fake_above_minus_one():
    # D: mean(relu(1-0.5), relu(1-2)) + mean(relu(1-1.5), relu(1+0.25)) = 0.25 + 0.625
    assert value(losses.discriminator_loss("hinge", REAL, FAKE)) == pytest.approx(0.875)
    # G: -mean(-1.5, 0.25)
    assert value(losses.generator_loss("hinge", FAKE)) == pytest.approx(0.625)


def test_realness_is_a_probability_under_ns_and_the_raw_output_otherwise():
    sig = (1 / (1 + math.exp(-0.5)) + 1 / (1 + math.exp(-2.0))) / 2
    assert value(losses.realness("ns", REAL)) == pytest.approx(sig, rel=1e-6)
    for rule in ("ls", "hinge"):
        assert value(losses.realness(rule, REAL)) == pytest.approx(1.25)


@pytest.mark.parametrize("fn", [lambda r: losses.generator_loss(r, FAKE),
                                lambda r: losses.discriminator_loss(r, REAL, FAKE)])
def test_an_unknown_rule_lists_the_choices(fn):
    with pytest.raises(ValueError, match="ns, ls, hinge"):
        fn("no_such_loss")


def _logits_for_the_same_step(model, images):
    """D's logits on the images and on the fakes that compute_losses drew, by replaying its
    noise draw from the same seed state."""
    state = keras.ops.convert_to_numpy(model.seed_generator.state)
    logs = model.compute_losses(images)
    model.seed_generator.state.assign(state)
    noise = keras.random.normal((len(images), model.config.noise_dim),
                                seed=model.seed_generator)
    fake = model.networks["generator"](noise, training=True)
    d = model.networks["discriminator"]
    real_logits = keras.ops.convert_to_numpy(d(images, training=True)).astype(np.float64)
    fake_logits = keras.ops.convert_to_numpy(d(fake, training=True)).astype(np.float64)
    return logs, real_logits, fake_logits


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_ns_default_gives_the_original_losses_of_the_model(name):
    # dropout 0 so D is the same function in both passes (batch norm uses batch statistics)
    cls = models.get(name)
    assert cls.Config().loss == "ns"
    model = cls(dataclasses.replace(cls.Config(), dropout=0.0, real_label=0.9), (28, 28, 1))
    images = np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32)
    logs, real, fake = _logits_for_the_same_step(model, images)
    # the model's losses before the setting existed: BCE(real, 0.9) + BCE(fake, 0); BCE(fake, 1)
    d = np.mean(0.9 * np.logaddexp(0, -real) + 0.1 * np.logaddexp(0, real))
    d += np.mean(np.logaddexp(0, fake))
    g = np.mean(np.logaddexp(0, -fake))
    assert value(logs["discriminator"]) == pytest.approx(d, rel=1e-5)
    assert value(logs["generator"]) == pytest.approx(g, rel=1e-5)
    sigmoid = 1 / (1 + np.exp(-real))
    assert value(logs["d_real"]) == pytest.approx(np.mean(sigmoid), rel=1e-5)


@pytest.mark.parametrize("rule", losses.GAN_LOSSES)
def test_each_rule_is_what_the_model_trains_with(rule):
    cls = models.get("gan")
    model = cls(cls.Config(loss=rule, dropout=0.0), (28, 28, 1))
    images = np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    logs, real, fake = _logits_for_the_same_step(model, images)
    assert value(logs["discriminator"]) == pytest.approx(
        value(losses.discriminator_loss(rule, real, fake)), rel=1e-5)
    assert value(logs["generator"]) == pytest.approx(
        value(losses.generator_loss(rule, fake)), rel=1e-5)
