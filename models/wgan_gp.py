"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The critic estimates the Wasserstein-1 distance between real and generated images; its
1-Lipschitz constraint is a penalty on the norm of its gradient at random interpolates of
real and fake images (Algorithm 1). The generator is ``dcgan``'s, so the comparison with it
is about the objective; the critic has the DCGAN discriminator's layers without what the
paper rules out for a critic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import layers, ops

from models import checks, packing
from models.base import NoiseGenerative, Phase
from models.dcgan import dcgan_generator
from models.registry import register


@register("wgan_gp")
class WGANGP(NoiseGenerative):
    """Gulrajani et al.'s WGAN-GP: a critic trained n_critic times per generator step."""

    averaged_networks: ClassVar[tuple[str, ...]] = ("generator",)  # what `ema` averages

    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 100  # dcgan's latent size, so the generators are the same network
        # Algorithm 1's defaults, which the paper uses for MNIST: alpha = 1e-4,
        # beta_1 = 0 (momentum hurts a moving target), beta_2 = 0.9, lambda = 10, n_critic = 5
        lr: float = 1e-4
        beta_1: float = 0.0
        beta_2: float = 0.9
        gp_weight: float = 10.0  # lambda
        n_critic: int = 5  # critic updates per generator update
        # decay of the generator weights' moving average that is sampled (Yazici et al. 2019
        # use 0.999); 0 = off: the raw weights are sampled and scored
        ema: float = 0.0
        # samples the critic judges jointly (PacGAN's m): a step reads batch x pack real
        # images per critic update and generates as many; 1 is the paper's WGAN-GP
        pack: int = 1

        RULES: ClassVar[dict] = {
            "noise_dim": checks.COUNT, "lr": checks.POSITIVE, "beta_1": checks.FRACTION,
            "beta_2": checks.FRACTION, "ema": checks.FRACTION, "pack": packing.RULE,
            "gp_weight": checks.Interval(0),
            # each critic update is unrolled into the compiled step: 100 is already slow
            "n_critic": checks.Interval(1, 100, integer=True),
        }

        def __post_init__(self):
            checks.validate(self)

    @property
    def samples_per_example(self) -> int:
        return self.config.pack

    # --- networks -----------------------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        # dcgan's generator, layer for layer: the comparison is about the loss and the critic
        h, w, channels = checks.image_shape(self.name, self.image_shape, multiple=4)
        generator = dcgan_generator(self.config.noise_dim, (h, w, channels))
        # dcgan's discriminator less three things. No batch normalisation (it has none
        # anyway): the penalty is per example, and batch statistics would mix examples. No
        # dropout either: the paper's critic has none, and a random critic's input gradient
        # is the gradient of a different function at every evaluation. No sigmoid: a critic
        # scores, it does not classify.
        critic = keras.Sequential([
            keras.Input(packing.packed_shape(self.image_shape, self.config.pack)),
            layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(),
            layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(),
            layers.Flatten(),
            layers.Dense(1, dtype="float32"),  # scores in float32 for a stable penalty
        ], name="critic")
        return {"generator": generator, "critic": critic}

    # --- training -----------------------------------------------------------------------
    def build_phases(self) -> list[Phase]:
        c = self.config

        def adam():
            return keras.optimizers.Adam(c.lr, beta_1=c.beta_1, beta_2=c.beta_2)

        return [Phase("critic", self.networks["critic"].trainable_variables, adam(),
                      repeats=c.n_critic),
                Phase("generator", self.networks["generator"].trainable_variables, adam())]

    def compute_losses(self, images) -> dict:
        generator, critic = self.networks["generator"], self.networks["critic"]
        m = self.config.pack
        noise = keras.random.normal((ops.shape(images)[0], self.config.noise_dim),
                                    seed=self.seed_generator)
        fake = packing.generate(generator, noise, m)  # packed like the real ones
        real = ops.cast(packing.pack(images, m), fake.dtype)
        n = ops.shape(real)[0]  # critic inputs: packed real and packed fake are what it sees
        real_scores = ops.mean(critic(real, training=True))
        fake_scores = ops.mean(critic(fake, training=True))
        # one uniform mixing weight per example, on the line between a real and a fake
        # critic input (with pack > 1: between m real images and m fakes, all channels)
        epsilon = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
        _, grads = self.input_gradient(lambda x: critic(x, training=True),
                                       epsilon * real + (1.0 - epsilon) * fake)
        grads = ops.reshape(ops.cast(grads, "float32"), (n, -1))
        # the tiny constant keeps the norm differentiable where a gradient is exactly zero
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=1) + 1e-12)
        penalty = ops.mean(ops.square(norms - 1.0))
        wasserstein = real_scores - fake_scores  # the critic's estimate of W(P_r, P_g)
        return {
            "critic": -wasserstein + self.config.gp_weight * penalty,
            "generator": -fake_scores,
            "wasserstein": wasserstein,
            "gradient_penalty": penalty,  # before the lambda weight
        }

