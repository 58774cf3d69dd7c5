"""Convolutional autoencoder that generates by decoding draws from a latent density.

A plain autoencoder has no prior to sample from; after training, ``prepare_sampling``
encodes the training set and fits a density to the codes. A 10-component full-covariance
Gaussian mixture (one per digit, roughly) is the default; a single Gaussian is the baseline
that shows how much the mixture buys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from models.base import GenerativeModel, Phase, predict
from models.registry import register

SAMPLERS = ("gmm", "gaussian")


@register("ae")
class Autoencoder(GenerativeModel):
    reconstructs = True

    @dataclass(frozen=True)
    class Config:
        latent_dim: int = 16  # small enough for a 10-component full-covariance GMM to fit well
        lr: float = 1e-3  # Adam's default; MSE on a small conv net trains stably at it
        sampler: str = "gmm"  # "gmm" (10-component mixture) or "gaussian" (the baseline)
        components: int = 10  # mixture components: one per digit class, roughly
        sampler_seed: int = 0  # random_state of the mixture fit, for reproducible sampling

        def __post_init__(self):
            if self.sampler not in SAMPLERS:
                raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, "
                                 f"got {self.sampler!r}")

    def __init__(self, config=None, image_shape=(28, 28, 1)):
        super().__init__(config, image_shape)
        self._density: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # --- networks -----------------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        h, w, channels = self.image_shape
        if h % 4 or w % 4:
            raise ValueError(f"ae downsamples 4x; image size {h}x{w} is not a multiple of 4")
        encoder = keras.Sequential([
            keras.Input(self.image_shape),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(self.config.latent_dim, dtype="float32"),  # codes feed the GMM
        ], name="encoder")
        decoder = keras.Sequential([
            keras.Input((self.config.latent_dim,)),
            layers.Dense((h // 4) * (w // 4) * 64, activation="relu"),
            layers.Reshape((h // 4, w // 4, 64)),
            layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(channels, 3, padding="same"),
            layers.Activation("tanh", dtype="float32"),  # images live in [-1, 1]
        ], name="decoder")
        return {"encoder": encoder, "decoder": decoder}

    # --- training -----------------------------------------------------------------------
    def build_phases(self) -> list[Phase]:
        variables = (self.networks["encoder"].trainable_variables
                     + self.networks["decoder"].trainable_variables)
        return [Phase("reconstruction", variables, keras.optimizers.Adam(self.config.lr))]

    def compute_losses(self, images) -> dict:
        codes = self.networks["encoder"](images, training=True)
        decoded = self.networks["decoder"](codes, training=True)
        error = ops.cast(decoded, "float32") - ops.cast(images, "float32")
        return {"reconstruction": ops.mean(ops.square(error))}

    # --- encoding, reconstructing -------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        return predict(self.networks["encoder"], np.asarray(images, np.float32))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        images = predict(self.networks["decoder"], np.asarray(codes, np.float32))
        return np.clip(images, -1.0, 1.0)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))

    # --- generating ---------------------------------------------------------------------
    def prepare_sampling(self, x_train: np.ndarray) -> None:
        codes = self.encode(x_train).astype(np.float64)
        if self.config.sampler == "gaussian":
            cov = np.cov(codes, rowvar=False) + 1e-6 * np.eye(codes.shape[1])
            self._density = (np.ones(1), codes.mean(0, keepdims=True), cov[None])
            return
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(n_components=self.config.components, covariance_type="full",
                              random_state=self.config.sampler_seed).fit(codes)
        self._density = (gmm.weights_, gmm.means_, gmm.covariances_)

    def sample(self, n: int, seed: int) -> np.ndarray:
        if self._density is None:
            raise RuntimeError("ae samples from a density fitted to its codes: call "
                               "prepare_sampling(x_train) after training, before sample()")
        weights, means, covs = self._density
        # drawn here rather than with GaussianMixture.sample so the seed is per call
        rng = np.random.default_rng(seed)
        component = rng.choice(len(weights), size=n, p=weights / weights.sum())
        chol = np.linalg.cholesky(covs)
        z = rng.standard_normal((n, means.shape[1]))
        codes = means[component] + np.einsum("nij,nj->ni", chol[component], z)
        return self.decode(codes)

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
