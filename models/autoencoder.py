"""Convolutional autoencoder that generates by decoding draws from a latent density.

A plain autoencoder (as in Hinton & Salakhutdinov 2006, here convolutional and trained on
mean squared error) has no prior to sample from; ``prepare_sampling`` encodes training
images and fits a density to the codes. A 10-component full-covariance Gaussian mixture
(one per digit, roughly) is the default; a single Gaussian is the baseline that shows how
much the mixture buys. ``vae`` shares its networks, coding and sampling (``ConvAutoencoder``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
from keras import layers, ops

from models import checks
from models.base import GenerativeModel, Phase, predict, sample_from_noise
from models.registry import register

SAMPLERS = ("gmm", "gaussian")


def conv_encoder(name: str, image_shape: tuple, outputs: int) -> keras.Model:
    """Two stride-2 convolutions (32, 64 filters) and a dense head of ``outputs`` units."""
    checks.image_shape(name, image_shape, multiple=4)  # the decoder mirrors the 4x
    return keras.Sequential([
        keras.Input(image_shape),
        layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(outputs, dtype="float32"),  # codes leave the net in float32
    ], name="encoder")


def conv_decoder(name: str, image_shape: tuple, latent_dim: int) -> keras.Model:
    """The encoder mirrored: a dense layer to an (H/4, W/4, 64) grid, two stride-2
    transposed convolutions (64, 32) and a 3x3 convolution to the image's channels."""
    h, w, channels = checks.image_shape(name, image_shape, multiple=4)
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense((h // 4) * (w // 4) * 64, activation="relu"),
        layers.Reshape((h // 4, w // 4, 64)),
        layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(channels, 3, padding="same"),
        layers.Activation("tanh", dtype="float32"),  # images live in [-1, 1]
    ], name="decoder")


def mixture_codes(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> keras.Model:
    """A Gaussian mixture as a network of built-in layers (a plain ``keras.saving.load_model``
    reads it): N(0, I) noise of d + 1 values in, codes out. The first d values are z, and a
    component c's code is means[c] + cholesky(covs[c]) z; the last value, u, picks c by where
    it falls among the normal quantiles of the mixture's cumulative weights: c when
    Phi^-1(cdf[c - 1]) <= u < Phi^-1(cdf[c]), which has probability weights[c]. So the codes
    are exact draws of the mixture from standard normal noise alone."""
    from scipy.special import ndtri

    k, d = means.shape
    chol = np.linalg.cholesky(covs)  # (k, d, d)
    noise = keras.Input((d + 1,), name="noise")
    # every component's code at once: column c * d + i of the kernel is row i of chol[c]
    per_component = layers.Dense(k * d, trainable=False, dtype="float32", name="components")
    candidates = layers.Reshape((k, d))(per_component(noise[:, :d]))
    per_component.set_weights([chol.transpose(2, 0, 1).reshape(d, k * d).astype(np.float32),
                               means.reshape(-1).astype(np.float32)])
    if k == 1:
        return keras.Model(noise, candidates[:, 0], name="mixture")
    cdf = np.cumsum(weights) / np.sum(weights)
    # u - Phi^-1(cdf[j]) for the k - 1 inner boundaries (clipped: a weight of ~0 is a bound
    # of -inf or inf, which no float32 u crosses either way)
    offsets = layers.Dense(k - 1, trainable=False, dtype="float32", name="boundaries")
    past = ops.cast(ops.greater_equal(offsets(noise[:, d:]), 0.0), "float32")
    offsets.set_weights([np.ones((1, k - 1), np.float32),
                         -np.clip(ndtri(cdf[:-1]), -40, 40).astype(np.float32)])
    # one-hot of c: past the boundary below it and not the one above it
    ones = ops.ones_like(noise[:, d:])
    chosen = ops.concatenate([ones, past], axis=1) - ops.concatenate([past, 0 * ones], axis=1)
    codes = ops.sum(candidates * ops.expand_dims(chosen, -1), axis=1)
    return keras.Model(noise, codes, name="mixture")


class ConvAutoencoder(GenerativeModel):
    """What ``ae`` and ``vae`` share: the conv encoder and decoder, trained together by one
    Adam phase; codes, decoding, reconstructions; and sampling, which decodes the codes a
    subclass draws (``draw_codes``). Its Config has ``latent_dim`` and ``lr``."""

    reconstructs = True
    loss: ClassVar[str] = ""  # the name of the one phase's loss
    # encoder outputs per latent dimension: ae's 1 (the code), vae's 2 (mean, log-variance)
    outputs_per_dimension: ClassVar[int] = 1

    # --- networks, training -------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        latent = self.config.latent_dim
        return {"encoder": conv_encoder(self.name, self.image_shape,
                                        self.outputs_per_dimension * latent),
                "decoder": conv_decoder(self.name, self.image_shape, latent)}

    def build_phases(self) -> list[Phase]:
        variables = (self.networks["encoder"].trainable_variables
                     + self.networks["decoder"].trainable_variables)
        return [Phase(self.loss, variables, keras.optimizers.Adam(self.config.lr))]

    # --- encoding, reconstructing -------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Each image's code: the encoder's first latent_dim outputs (vae's posterior mean)."""
        out = predict(self.networks["encoder"], np.asarray(images, np.float32))
        return out[:, :self.latent_dim]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        images = predict(self.networks["decoder"], np.asarray(codes, np.float32))
        return np.clip(images, -1.0, 1.0)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))

    # --- generating ---------------------------------------------------------------------
    def draw_codes(self, n: int, seed: int) -> np.ndarray:
        """n codes (n, latent_dim) from the model's density over codes; the same seed gives
        the same codes."""
        raise NotImplementedError

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self.decode(self.draw_codes(n, seed))


@register("ae")
class Autoencoder(ConvAutoencoder):
    """Convolutional autoencoder sampled through a Gaussian mixture fitted to its codes."""

    loss = "reconstruction"
    _density: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # set by the fit
    _sampler: keras.Model | None = None  # the density and the decoder as one network

    @dataclass(frozen=True)
    class Config:
        latent_dim: int = 16  # small enough for a 10-component full-covariance GMM to fit well
        lr: float = 1e-3  # Adam's default; MSE on a small conv net trains stably at it
        sampler: str = "gmm"  # "gmm" (10-component mixture) or "gaussian" (the baseline)
        components: int = 10  # mixture components: one per digit class, roughly
        sampler_seed: int = 0  # seeds the mixture fit and the choice of the images it fits
        # training images whose codes fit the sampler (all if fewer): ample for 10 full
        # 16-d Gaussians (~1,500 parameters) and keeps the fit at each evaluation to seconds
        sampler_images: int = 10_000

        RULES: ClassVar[dict] = {
            "latent_dim": checks.COUNT, "lr": checks.POSITIVE,
            "sampler": checks.OneOf(SAMPLERS), "components": checks.COUNT,
            "sampler_seed": checks.SEED, "sampler_images": checks.COUNT,
        }

        def __post_init__(self):
            checks.validate(self)
            if self.sampler == "gmm" and self.components > self.sampler_images:
                raise ValueError(f"components={self.components} is more than "
                                 f"sampler_images={self.sampler_images}: a mixture needs at "
                                 "least one image per component")

    # --- training -----------------------------------------------------------------------
    def compute_losses(self, images) -> dict:
        codes = self.networks["encoder"](images, training=True)
        decoded = self.networks["decoder"](codes, training=True)
        error = ops.cast(decoded, "float32") - ops.cast(images, "float32")
        return {"reconstruction": ops.mean(ops.square(error))}

    # --- generating ---------------------------------------------------------------------
    def fit_images(self, x_train: np.ndarray) -> np.ndarray:
        """The training images the sampler is fitted to: a seeded draw without replacement
        (a prefix would be biased wherever the training set is ordered by class)."""
        n = self.config.sampler_images
        if len(x_train) <= n:
            return x_train
        rng = np.random.default_rng(self.config.sampler_seed)
        return x_train[np.sort(rng.choice(len(x_train), size=n, replace=False))]

    def prepare_sampling(self, x_train: np.ndarray) -> None:
        """Fits the sampler to the codes of ``fit_images(x_train)``: pass the whole set."""
        codes = self.encode(self.fit_images(x_train)).astype(np.float64)
        if self.config.sampler == "gaussian":
            cov = np.cov(codes, rowvar=False) + 1e-6 * np.eye(codes.shape[1])
            self._sampler = None
            self._density = (np.ones(1), codes.mean(0, keepdims=True), cov[None])
            return
        if len(codes) < self.config.components:
            raise ValueError(f"ae's {self.config.components}-component mixture needs at least "
                             f"as many training images, got {len(codes)}")
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(n_components=self.config.components, covariance_type="full",
                              random_state=self.config.sampler_seed).fit(codes)
        self._density, self._sampler = (gmm.weights_, gmm.means_, gmm.covariances_), None

    def sampling_model(self) -> keras.Model:
        """The fitted mixture (``mixture_codes``) then the decoder: latent_dim + 1 values of
        N(0, I) noise per image, the last one choosing the component."""
        if self._density is None:
            raise RuntimeError("ae samples from a density fitted to its codes: call "
                               "prepare_sampling(x_train) after training, before sample()")
        if self._sampler is None:
            mixture = mixture_codes(*self._density)
            self._sampler = keras.Model(mixture.input, self.networks["decoder"](mixture.output),
                                        name="ae_sampler")
        return self._sampler

    def sample(self, n: int, seed: int) -> np.ndarray:
        # through the exported network itself, so its .keras file draws exactly these images
        return sample_from_noise(self.sampling_model(), n, self.latent_dim + 1, seed)

    # --- persistence --------------------------------------------------------------------
    def save_weights(self, folder) -> None:
        super().save_weights(folder)
        if self._density is not None:
            weights, means, covs = self._density
            np.savez(os.path.join(folder, "sampler.npz"), weights=weights, means=means,
                     covs=covs)

    def load_weights(self, folder) -> None:
        super().load_weights(folder)
        path = os.path.join(folder, "sampler.npz")
        if os.path.exists(path):
            with np.load(path) as f:
                self._density = (f["weights"], f["means"], f["covs"])
            self._sampler = None
