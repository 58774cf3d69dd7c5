"""Classic GAN (Goodfellow et al. 2014) with dense networks on flattened images.

The adversarial loss rule lives here; ``dcgan`` reuses it with convolutional networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from models.base import GenerativeModel, Phase, bce_with_logits, predict
from models.registry import register


@register("gan")
class GAN(GenerativeModel):
    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 100  # latent size used by the original GAN and DCGAN papers
        lr: float = 2e-4  # Adam step for both networks (DCGAN paper, Radford et al. 2016)
        beta_1: float = 0.5  # DCGAN paper: the default 0.9 makes training oscillate
        real_label: float = 1.0  # < 1 is one-sided label smoothing (Salimans et al. 2016)
        dropout: float = 0.3  # in the discriminator only, slowing it down against G

    # --- networks -----------------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        c, size = self.config, math.prod(self.image_shape)
        # the classic MLP baseline's widths (e.g. the PyTorch-GAN "gan" reference)
        generator = keras.Sequential([
            keras.Input((c.noise_dim,)),
            layers.Dense(256), layers.LeakyReLU(0.2),
            layers.Dense(512), layers.LeakyReLU(0.2),
            layers.Dense(1024), layers.LeakyReLU(0.2),
            layers.Dense(size),
            # float32 even under mixed precision: the output is what the metrics see
            layers.Activation("tanh", dtype="float32"),
            layers.Reshape(self.image_shape),
        ], name="generator")
        discriminator = keras.Sequential([
            keras.Input(self.image_shape),
            layers.Flatten(),
            layers.Dense(1024), layers.LeakyReLU(0.2), layers.Dropout(c.dropout),
            layers.Dense(512), layers.LeakyReLU(0.2), layers.Dropout(c.dropout),
            layers.Dense(256), layers.LeakyReLU(0.2), layers.Dropout(c.dropout),
            layers.Dense(1, dtype="float32"),  # logits in float32 for a stable loss
        ], name="discriminator")
        return {"generator": generator, "discriminator": discriminator}

    # --- training -----------------------------------------------------------------------
    def build_phases(self) -> list[Phase]:
        c = self.config
        return [Phase(name, self.networks[name].trainable_variables,
                      keras.optimizers.Adam(c.lr, beta_1=c.beta_1))
                for name in ("discriminator", "generator")]

    def compute_losses(self, images) -> dict:
        generator, discriminator = self.networks["generator"], self.networks["discriminator"]
        noise = keras.random.normal((ops.shape(images)[0], self.config.noise_dim),
                                    seed=self.seed_generator)
        fake = generator(noise, training=True)
        real_logits = discriminator(images, training=True)
        fake_logits = discriminator(fake, training=True)
        return {
            # non-saturating generator loss: log D(G(z)) has strong gradients early on
            "generator": bce_with_logits(fake_logits, 1.0),
            "discriminator": (bce_with_logits(real_logits, self.config.real_label)
                              + bce_with_logits(fake_logits, 0.0)),
            # D's mean belief on real and fake: a quick read on which side is winning
            "d_real": ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))),
            "d_fake": ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32"))),
        }

    # --- generating ---------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.noise_dim

    def sample(self, n: int, seed: int) -> np.ndarray:
        # numpy noise: the same seed gives the same latents on every backend
        noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        images = predict(self.networks["generator"], noise.astype(np.float32))
        return np.clip(images, -1.0, 1.0)
