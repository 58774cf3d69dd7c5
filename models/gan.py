"""Classic GAN (Goodfellow et al. 2014, "Generative Adversarial Nets") with dense networks
on flattened images.

The adversarial training step lives here; ``dcgan`` reuses it with convolutional networks,
and the loss rule it applies is the ``loss`` setting (``models.losses``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import layers, ops

from models import checks, losses
from models.base import NoiseGenerative, Phase
from models.registry import register


@register("gan")
class GAN(NoiseGenerative):
    """Goodfellow et al.'s GAN: MLP generator and discriminator on flattened images."""

    averaged_networks: ClassVar[tuple[str, ...]] = ("generator",)  # what `ema` averages

    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 100  # the DCGAN paper's latent size (a 100-d z)
        lr: float = 2e-4  # Adam step for both networks (DCGAN paper, Radford et al. 2016)
        beta_1: float = 0.5  # DCGAN paper: the default 0.9 makes training oscillate
        real_label: float = 1.0  # < 1 is one-sided label smoothing (Salimans et al. 2016)
        dropout: float = 0.3  # in the discriminator only, slowing it down against G
        loss: str = "ns"  # ns | ls | hinge (models/losses.py); ns is the papers' own
        # decay of the generator weights' moving average that is sampled (Yazici et al.
        # 2019 use 0.999); 0 = off: the raw weights are sampled and scored
        ema: float = 0.0

        RULES: ClassVar[dict] = {
            "noise_dim": checks.COUNT, "lr": checks.POSITIVE, "beta_1": checks.FRACTION,
            "real_label": checks.Interval(0, 1, low_open=True), "dropout": checks.FRACTION,
            "loss": checks.OneOf(losses.GAN_LOSSES), "ema": checks.FRACTION,
        }

        def __post_init__(self):
            checks.validate(self)
            if self.real_label != 1.0 and self.loss not in losses.SMOOTHABLE:
                raise ValueError(f"real_label={self.real_label!r} (label smoothing) needs loss "
                                 f"{' or '.join(losses.SMOOTHABLE)}; {self.loss} has no "
                                 "real target")

    # --- networks -----------------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        c, size = self.config, math.prod(checks.image_shape(self.name, self.image_shape))
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
            # D's mean verdict on real and fake: a quick read on which side is winning
            "d_real": losses.realness(rule, real_logits),
            "d_fake": losses.realness(rule, fake_logits),
        }

