"""The VAE: its networks, its ELBO's two terms against closed forms, and its sampling."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from scipy import stats

import models
from models.vae import gaussian_nll, kl_to_standard_normal


def value(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


@pytest.fixture(scope="module")
def vae():
    return models.get("vae")(image_shape=(28, 28, 1))


def test_parameter_counts_are_the_autoencoders_with_a_doubled_code(vae):
    # encoder: conv 3*3*1*32+32 = 320, conv 3*3*32*64+64 = 18,496, dense from the 7*7*64 =
    #   3,136 features to 2*16 outputs: 3,136*32+32 = 100,384  -> 119,200
    # decoder: dense 16*3,136+3,136 = 53,312, conv-T 3*3*64*64+64 = 36,928,
    #   conv-T 3*3*64*32+32 = 18,464, conv 3*3*32*1+1 = 289    -> 108,993
    assert vae.param_counts() == {"encoder": 119_200, "decoder": 108_993, "total": 228_193}
    ae = models.get("ae")(image_shape=(28, 28, 1)).param_counts()
    assert ae["decoder"] == 108_993  # the same decoder as ae's
    assert vae.param_counts()["encoder"] - ae["encoder"] == 16 * (3136 + 1)  # one more head
    assert vae.reconstructs and vae.latent_dim == 16


def test_kl_matches_the_closed_form_per_dimension():
    mean = np.array([[0.0, 0.0], [1.0, -2.0]], np.float32)
    log_var = np.array([[0.0, 0.0], [math.log(2.0), -1.0]], np.float32)
    # KL(N(m, s2) || N(0, 1)) = (s2 + m^2 - 1 - ln s2) / 2 per dimension:
    # (2 + 1 - 1 - ln 2) / 2 + (e^-1 + 4 - 1 + 1) / 2
    expected = [0.0, (2 - math.log(2)) / 2 + (math.exp(-1) + 4) / 2]
    np.testing.assert_allclose(value(kl_to_standard_normal(mean, log_var)), expected,
                               rtol=1e-6, atol=1e-7)
    assert expected[1] == pytest.approx(2.8373659, rel=1e-6)


def test_reconstruction_term_is_the_gaussian_nll_at_the_fitted_variance():
    images = np.zeros((2, 1, 2, 1), np.float32)
    decoded = np.array([0.1, -0.1, 0.2, 0.0], np.float32).reshape(2, 1, 2, 1)
    variance = np.mean(decoded.astype(np.float64) ** 2)  # 0.015, the likelihood's optimum
    expected = [-stats.norm.logpdf(0.0, decoded[i].ravel(), math.sqrt(variance)).sum()
                for i in range(2)]
    np.testing.assert_allclose(value(gaussian_nll(images, decoded)), expected, rtol=1e-5)
    # a perfect reconstruction is held at the variance floor, not sent to -inf
    assert np.all(np.isfinite(value(gaussian_nll(images, images))))


def test_losses_are_the_negative_elbo_and_its_two_logged_terms(vae):
    images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    logs = {k: float(value(v)) for k, v in vae.compute_losses(images).items()}
    assert set(logs) == {"neg_elbo", "reconstruction", "kl"}
    assert logs["neg_elbo"] == pytest.approx(logs["reconstruction"] + logs["kl"], rel=1e-6)
    assert logs["kl"] >= 0.0


def test_training_draws_a_fresh_posterior_sample_from_the_seed_generator(vae):
    images = np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    state = keras.ops.convert_to_numpy(vae.seed_generator.state)
    first = float(value(vae.compute_losses(images)["reconstruction"]))
    second = float(value(vae.compute_losses(images)["reconstruction"]))
    vae.seed_generator.state.assign(state)
    replay = float(value(vae.compute_losses(images)["reconstruction"]))
    assert first != second and replay == first


def test_encode_gives_the_posterior_mean_and_reconstruct_decodes_it(vae):
    images = np.random.default_rng(2).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    mean, _ = vae.posterior(images)
    codes = vae.encode(images)
    np.testing.assert_allclose(codes, value(mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(vae.reconstruct(images), vae.decode(codes))


def test_samples_decode_the_prior_in_range_and_follow_the_seed():
    vae = models.get("vae")(image_shape=(32, 32, 3))
    a, b, c = vae.sample(6, seed=4), vae.sample(6, seed=4), vae.sample(6, seed=5)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.float32
    assert -1.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    z = np.random.default_rng(4).standard_normal((6, 16)).astype(np.float32)
    np.testing.assert_array_equal(a, vae.decode(z))  # N(0, I), nothing fitted
