"""Variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

The encoder gives each image a diagonal Gaussian posterior q(z|x) = N(mean, exp(log_var));
training maximises the evidence lower bound (ELBO) with one reparameterised draw
z = mean + exp(log_var / 2) * eps per image (the paper's estimator B, eq. 10), and samples
decode draws from the prior N(0, I): a generative model by construction, with no density
fitted after training. The networks are ``ae``'s, with twice the encoder outputs (mean and
log-variance), so a comparison with ``ae`` is about the objective, not the capacity.

Likelihood: Gaussian, with one variance for all pixels set to its maximum-likelihood value,
the batch's mean squared error (the "optimal sigma" decoder of Rybkin et al. 2021, "Simple
and Effective VAE Training with Calibrated Decoders"). A Bernoulli (the paper's choice for
MNIST) models binary pixels in [0, 1]; images here are continuous in [-1, 1], in colour too.
A fixed variance would be a knob trading sharpness against the KL that each dataset retunes;
the fitted one leaves the ELBO without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
from keras import ops

from models import checks
from models.autoencoder import ConvAutoencoder
from models.registry import register

# the decoder's variance floor: sigma >= 0.001, finer than one 8-bit level (2/255), so a
# near-perfect reconstruction cannot drive log(sigma^2) to -inf
MIN_VARIANCE = 1e-6


def kl_to_standard_normal(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per row, in closed form (the paper's
    appendix B): -1/2 sum(1 + log_var - mean^2 - exp(log_var))."""
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def gaussian_nll(images, decoded):
    """-log p(x|z) per image under N(decoded, s^2 I), with s^2 the batch's mean squared error
    (the variance that maximises the likelihood); over the batch it averages to
    D/2 (log(2 pi s^2) + 1) for D values per image."""
    error = ops.cast(images, "float32") - ops.cast(decoded, "float32")
    variance = ops.maximum(ops.mean(ops.square(error)), MIN_VARIANCE)
    pixels = math.prod(images.shape[1:])
    squared = ops.sum(ops.reshape(ops.square(error), (ops.shape(error)[0], -1)), axis=1)
    return squared / (2.0 * variance) + 0.5 * pixels * ops.log(2.0 * math.pi * variance)


@register("vae")
class VAE(ConvAutoencoder):
    """Kingma & Welling's VAE: ae's conv networks trained on the ELBO, sampled from N(0, I)."""

    loss = "neg_elbo"
    outputs_per_dimension = 2  # the posterior's mean and log-variance

    @dataclass(frozen=True)
    class Config:
        latent_dim: int = 16  # as ae's: the two differ in the objective only
        lr: float = 1e-3  # as ae's (Adam's default); the paper used Adagrad

        RULES: ClassVar[dict] = {"latent_dim": checks.COUNT, "lr": checks.POSITIVE}

        def __post_init__(self):
            checks.validate(self)

    # --- training -----------------------------------------------------------------------
    def posterior(self, images, training: bool = False):
        """(mean, log_var) of q(z|x), each (n, latent_dim)."""
        out = self.networks["encoder"](images, training=training)
        return out[:, :self.config.latent_dim], out[:, self.config.latent_dim:]

    def compute_losses(self, images) -> dict:
        mean, log_var = self.posterior(images, training=True)
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        z = mean + ops.exp(0.5 * log_var) * eps
        decoded = self.networks["decoder"](z, training=True)
        reconstruction = ops.mean(gaussian_nll(images, decoded))
        kl = ops.mean(kl_to_standard_normal(mean, log_var))
        # nats per image; the reconstruction term is negative once pixels are fitted
        # closely, since a narrow Gaussian's density exceeds 1
        return {"neg_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}

    # --- generating ---------------------------------------------------------------------
    def draw_codes(self, n: int, seed: int) -> np.ndarray:
        # numpy noise: the same seed gives the same latents on every backend
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim))

    def sampling_model(self) -> keras.Model:
        return self.networks["decoder"]  # sample() decodes N(0, I) codes, clipped
