"""Classic GAN (Goodfellow et al. 2014, "Generative Adversarial Nets") with dense networks
on flattened images; on vectors (a dataset of shape (D,), such as 2-D Gaussian mixtures),
with PacGAN's 2-D networks instead (Lin et al. 2018, from its code).

The adversarial training step lives here; ``dcgan`` reuses it with convolutional networks,
the loss rule it applies is the ``loss`` setting (``models.losses``), and ``pack`` makes the
discriminator judge that many samples jointly (``models.packing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import layers, ops

from models import checks, losses, packing
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
        # in the image discriminator only, slowing it down against G (the vector one, PacGAN's,
        # has none)
        dropout: float = 0.3
        loss: str = "ns"  # ns | ls | hinge (models/losses.py); ns is the papers' own
        # decay of the generator weights' moving average that is sampled (Yazici et al.
        # 2019 use 0.999); 0 = off: the raw weights are sampled and scored
        ema: float = 0.0
        # samples the discriminator judges jointly (PacGAN's m): a step reads batch x pack
        # real images and generates as many; 1 is the unpacked GAN
        pack: int = 1

        RULES: ClassVar[dict] = {
            "noise_dim": checks.COUNT, "lr": checks.POSITIVE, "beta_1": checks.FRACTION,
            "real_label": checks.Interval(0, 1, low_open=True), "dropout": checks.FRACTION,
            "loss": checks.OneOf(losses.GAN_LOSSES), "ema": checks.FRACTION,
            "pack": packing.RULE,
        }

        def __post_init__(self):
            checks.validate(self)
            if self.real_label != 1.0 and self.loss not in losses.SMOOTHABLE:
                raise ValueError(f"real_label={self.real_label!r} (label smoothing) needs loss "
                                 f"{' or '.join(losses.SMOOTHABLE)}; {self.loss} has no "
                                 "real target")

    @property
    def samples_per_example(self) -> int:
        return self.config.pack

    # --- networks -----------------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        if checks.is_vector(self.image_shape):
            return vector_networks(self.config.noise_dim, int(self.image_shape[0]),
                                   self.config.pack)
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
            keras.Input(packing.packed_shape(self.image_shape, c.pack)),
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
        rule, m = self.config.loss, self.config.pack
        noise = keras.random.normal((ops.shape(images)[0], self.config.noise_dim),
                                    seed=self.seed_generator)
        fake = packing.generate(generator, noise, m)  # packed like the real ones
        real_logits = discriminator(packing.pack(images, m), training=True)
        fake_logits = discriminator(fake, training=True)
        return {
            "generator": losses.generator_loss(rule, fake_logits),
            "discriminator": losses.discriminator_loss(rule, real_logits, fake_logits,
                                                       self.config.real_label),
            # D's mean verdict on real and fake: a quick read on which side is winning
            "d_real": losses.realness(rule, real_logits),
            "d_fake": losses.realness(rule, fake_logits),
        }



class Maxout(layers.Layer):
    """The maximum over ``pieces`` consecutive features (Goodfellow et al. 2013): after a
    Dense(units x pieces), a maxout layer of ``units`` (blocks' LinearMaxout, PacGAN's)."""

    def __init__(self, pieces: int, **kwargs):
        super().__init__(**kwargs)
        self.pieces = pieces

    def call(self, x):
        return ops.max(ops.reshape(x, (-1, x.shape[-1] // self.pieces, self.pieces)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


def vector_networks(noise_dim: int, dim: int, pack: int) -> dict[str, keras.Model]:
    """PacGAN's 2-D networks (its synthetic-data code): a generator of 4 hidden layers of 400
    units (no bias, batch normalisation, ReLU) and a linear output, unbounded since the data
    need not lie in [-1, 1]; a discriminator of 3 maxout layers of 200 units x 5 pieces and
    linear logits, on ``pack`` samples' features side by side. Weights N(0, 0.02), biases 0.
    The discriminator has no dropout whatever the ``dropout`` setting: PacGAN's has none."""
    init = dict(kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))
    hidden = []
    for _ in range(4):
        # blocks' population statistics: m * 0.05 + p * 0.95 a step, and its epsilon
        hidden += [layers.Dense(400, use_bias=False, **init),
                   layers.BatchNormalization(momentum=0.95, epsilon=1e-4), layers.ReLU()]
    generator = keras.Sequential([
        keras.Input((noise_dim,)), *hidden,
        # float32 even under mixed precision: the output is what the metrics see
        layers.Dense(dim, dtype="float32", **init),
    ], name="generator")
    maxout = []
    for _ in range(3):
        maxout += [layers.Dense(200 * 5, **init), Maxout(5)]
    discriminator = keras.Sequential([
        keras.Input((dim * pack,)), *maxout,
        layers.Dense(1, dtype="float32", **init),  # logits in float32 for a stable loss
    ], name="discriminator")
    return {"generator": generator, "discriminator": discriminator}
