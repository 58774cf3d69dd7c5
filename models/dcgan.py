"""DCGAN (Radford et al. 2016) with exactly the seeds' networks (the TF DCGAN tutorial)."""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from models.gan import GAN
from models.registry import register


@register("dcgan")
class DCGAN(GAN):
    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 100  # the seeds' latent size
        # The seeds' own recipe (Adam 1e-4, default betas, batch 256) covers only 6 of 10
        # digit classes after 1,000 steps (256k images); with the DCGAN paper's Adam settings
        # at batch 64 on MNIST: all ten by step 1,500 (two runs), and FID 119 with legible
        # digits at step 3,000 (192k images, the quick preset); no label smoothing needed.
        lr: float = 2e-4  # DCGAN paper
        beta_1: float = 0.5  # DCGAN paper: the default 0.9 makes training oscillate
        real_label: float = 1.0  # < 1 is one-sided label smoothing (Salimans et al. 2016)
        dropout: float = 0.3  # the seeds' discriminator dropout

    def build_networks(self) -> dict[str, keras.Model]:
        h, w, channels = self.image_shape
        if h % 4 or w % 4:
            raise ValueError(f"dcgan upsamples 4x from a grid; image size {h}x{w} is not a "
                             "multiple of 4")
        conv_t = dict(kernel_size=5, padding="same", use_bias=False)
        generator = keras.Sequential([
            keras.Input((self.config.noise_dim,)),
            layers.Dense((h // 4) * (w // 4) * 256, use_bias=False),
            layers.BatchNormalization(), layers.LeakyReLU(),
            layers.Reshape((h // 4, w // 4, 256)),
            layers.Conv2DTranspose(128, strides=1, **conv_t),
            layers.BatchNormalization(), layers.LeakyReLU(),
            layers.Conv2DTranspose(64, strides=2, **conv_t),
            layers.BatchNormalization(), layers.LeakyReLU(),
            layers.Conv2DTranspose(channels, strides=2, **conv_t),
            # float32 even under mixed precision: the output is what the metrics see
            layers.Activation("tanh", dtype="float32"),
        ], name="generator")
        discriminator = keras.Sequential([
            keras.Input(self.image_shape),
            layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(),
            layers.Dropout(self.config.dropout),
            layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(),
            layers.Dropout(self.config.dropout),
            layers.Flatten(),
            layers.Dense(1, dtype="float32"),  # logits in float32 for a stable loss
        ], name="discriminator")
        return {"generator": generator, "discriminator": discriminator}
