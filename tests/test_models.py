"""The model contract, for every registered model: shapes, ranges, determinism, persistence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import models
from benchmarks import data
from benchmarks.harness import build
from models import registry
from models.base import GenerativeModel


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return data.load("digits").x_train[:256]


@pytest.fixture(scope="module", params=models.names())
def model(request, digits):
    m = build(request.param, seed=0)
    m.prepare_sampling(digits)
    return m


def test_builtin_models_are_registered_sorted():
    assert models.names() == sorted(models.names())
    assert {"ae", "dcgan", "gan"} <= set(models.names())


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(KeyError) as info:
        registry.get("vae")
    assert isinstance(info.value, ValueError)
    assert "vae" in str(info.value) and "ae, dcgan, gan" in str(info.value)


def test_duplicate_and_wrong_type_registrations_are_rejected():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("dcgan")(type("Again", (GenerativeModel,), {}))
    with pytest.raises(TypeError, match="GenerativeModel"):
        registry.register("not_a_model")(dict)
    assert "not_a_model" not in models.names()


def test_samples_have_shape_range_and_follow_the_seed(model):
    a, b, c = model.sample(12, seed=1), model.sample(12, seed=1), model.sample(12, seed=2)
    assert a.shape == (12, 28, 28, 1) and a.dtype == np.float32
    assert a.min() >= -1.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_config_is_frozen_with_defaults_and_overridable(model):
    cls = type(model)
    fields = dataclasses.fields(cls.Config)
    assert fields and all(f.default is not dataclasses.MISSING for f in fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config.lr = 1.0
    changed = dataclasses.replace(cls.Config(), lr=5e-5)
    assert cls(changed).phases[0].optimizer.learning_rate.numpy() == pytest.approx(5e-5)
    with pytest.raises(TypeError):
        cls(object())


def test_losses_are_finite_scalars_per_phase(model, digits):
    logs = model.compute_losses(digits[:8])
    for phase in model.phases:
        value = np.asarray(logs[phase.name])
        assert value.shape == () and np.isfinite(value)
        assert phase.variables and phase.optimizer.built


def test_param_counts_add_up(model):
    counts = model.param_counts()
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total") > 0


def test_dcgan_has_the_seeds_parameter_counts():
    m = models.get("dcgan")()
    counts = m.param_counts()
    trainable = sum(int(np.prod(v.shape)) for v in m.networks["generator"].trainable_variables)
    assert counts["generator"] == 2_330_944 and trainable == 2_305_472
    assert counts["discriminator"] == 212_865
    assert m.latent_dim == 100 and not m.reconstructs


def test_weights_round_trip(model, tmp_path):
    model.save_weights(tmp_path)
    other = type(model)()
    other.load_weights(tmp_path)
    np.testing.assert_array_equal(other.sample(4, seed=3), model.sample(4, seed=3))


def test_ae_reconstructs_encodes_and_samples_from_both_samplers(digits):
    ae = build("ae", seed=0)
    assert ae.reconstructs
    assert ae.encode(digits[:5]).shape == (5, ae.latent_dim)
    rec = ae.reconstruct(digits[:5])
    assert rec.shape == digits[:5].shape and np.abs(rec).max() <= 1.0
    with pytest.raises(RuntimeError, match="prepare_sampling"):
        ae.sample(3, seed=0)
    for sampler in ("gmm", "gaussian"):
        m = models.get("ae")(models.get("ae").Config(sampler=sampler))
        m.prepare_sampling(digits)
        s = m.sample(50, seed=0)
        assert s.shape == (50, 28, 28, 1) and s.dtype == np.float32
        assert -1.0 <= s.min() and s.max() <= 1.0
    with pytest.raises(ValueError, match="sampler"):
        models.get("ae").Config(sampler="flow")


def test_gans_do_not_reconstruct():
    with pytest.raises(NotImplementedError):
        models.get("gan")().reconstruct(np.zeros((1, 28, 28, 1), np.float32))
