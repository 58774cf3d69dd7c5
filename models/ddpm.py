"""Denoising diffusion (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"), sampled
with DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models").

The forward process adds Gaussian noise over T steps, q(x_t | x_{t-1}) =
N(sqrt(1 - beta_t) x_{t-1}, beta_t I), which has the closed form q(x_t | x_0) =
N(sqrt(abar_t) x_0, (1 - abar_t) I), abar_t = prod_{s <= t} (1 - beta_s). The U-Net is trained
to predict the noise eps in x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps from (x_t, t / T),
t uniform in 1..T (the paper's simple loss, its eq. 14). The schedule is Nichol & Dhariwal
2021's cosine one (``schedule=linear``: Ho et al.'s betas 1e-4 to 0.02). Sampling is DDIM
over ``nfe`` of the T steps, evenly spaced from T down ("trailing", so the first step starts
from pure noise), the predicted x_0 clipped to [-1, 1] as Ho et al.'s sampler does; ``eta``
0 is the deterministic DDIM, 1 the DDPM's own variance (its noise is then part of the input:
``nfe`` more images of noise per image).

Differs from the papers: Ho et al.'s CIFAR-10 U-Net is 35.7 M weights trained 800k steps at
batch 128 and sampled with all 1,000 steps; here the ~1.1 M-weight U-Net of
``models/unet.py``, the run's budget and ``nfe`` DDIM steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
from keras import ops

from models import checks
from models.iterative import IterativeGenerative
from models.registry import register

SCHEDULES = ("cosine", "linear")
MAX_BETA = 0.999  # Nichol & Dhariwal clip the cosine schedule's betas here


def alphas_bar(schedule: str, steps: int) -> np.ndarray:
    """abar_t for t = 0..steps (float64; abar_0 = 1): the product of (1 - beta_s) up to t."""
    if schedule == "linear":
        betas = np.linspace(1e-4 * 1000 / steps, 0.02 * 1000 / steps, steps)
    else:
        s = 0.008
        f = np.cos((np.arange(steps + 1) / steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = np.minimum(1.0 - f[1:] / f[:-1], MAX_BETA)
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def diffuse(x0, eps, abar):
    """x_t from q(x_t | x_0): sqrt(abar) x0 + sqrt(1 - abar) eps, abar broadcast."""
    return ops.sqrt(abar) * x0 + ops.sqrt(1.0 - abar) * eps


def ddim_steps(steps: int, nfe: int) -> list[int]:
    """The nfe steps DDIM visits, evenly spaced from 1 up (Song et al.'s "linear" choice of
    steps, tau_i = (i - 1) T / S + 1), last first."""
    return [math.floor(i * steps / nfe) + 1 for i in reversed(range(nfe))]


def ddim(predict_noise, x, abar: np.ndarray, nfe: int, eta: float = 0.0, noises=()):
    """DDIM from x at t = T (len(abar) - 1) to t = 0 in ``nfe`` calls of
    ``predict_noise(x, t / T)``; ``noises`` (nfe - 1 of them) drawn in where eta > 0."""
    steps = len(abar) - 1
    visited = ddim_steps(steps, nfe)
    for i, t in enumerate(visited):
        now, before = abar[t], abar[visited[i + 1]] if i + 1 < nfe else 1.0
        eps = predict_noise(x, t / steps)
        x0 = ops.clip((x - math.sqrt(1.0 - now) * eps) / math.sqrt(now), -1.0, 1.0)
        sigma = eta * math.sqrt((1.0 - before) / (1.0 - now) * (1.0 - now / before))
        x = math.sqrt(before) * x0 + math.sqrt(max(1.0 - before - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * noises[i]
    return x


@register("ddpm")
class DDPM(IterativeGenerative):
    """Ho et al.'s DDPM: a U-Net predicting the noise, sampled with DDIM in nfe steps."""

    loss_name = "noise_mse"

    @dataclass(frozen=True)
    class Config(IterativeGenerative.Config):  # width, lr, ema, nfe (DDIM steps)
        timesteps: int = 1000  # T, the steps of the forward process trained on
        schedule: str = "cosine"  # cosine (Nichol & Dhariwal 2021) | linear (Ho et al.)
        eta: float = 0.0  # DDIM's eta: 0 deterministic, 1 the DDPM's variance

        RULES: ClassVar[dict] = {
            **IterativeGenerative.Config.RULES,
            "timesteps": checks.Interval(2, 100_000, integer=True),
            "schedule": checks.OneOf(SCHEDULES), "eta": checks.Interval(0, 1),
        }

        def __post_init__(self):
            checks.validate(self)
            if self.nfe > self.timesteps:
                raise ValueError(f"nfe={self.nfe} is more than timesteps={self.timesteps}: "
                                 "DDIM visits at most every step once")

    @property
    def abar(self) -> np.ndarray:
        return alphas_bar(self.config.schedule, self.config.timesteps)

    def compute_losses(self, images) -> dict:
        x0 = ops.cast(images, "float32")
        n, steps = ops.shape(x0)[0], self.config.timesteps
        t = keras.random.randint((n,), 1, steps + 1, seed=self.seed_generator)
        eps = keras.random.normal(ops.shape(x0), seed=self.seed_generator)
        abar = ops.take(ops.convert_to_tensor(self.abar.astype(np.float32)), t)
        x_t = diffuse(x0, eps, ops.reshape(abar, (-1, 1, 1, 1)))
        times = ops.reshape(ops.cast(t, "float32") / steps, (-1, 1))
        predicted = ops.cast(self.networks["unet"]([x_t, times], training=True), "float32")
        return {self.loss_name: ops.mean(ops.square(predicted - eps))}

    def noise_shape(self, nfe: int) -> tuple[int, ...]:
        h, w, c = self.image_shape
        return (h, w, c * nfe) if self.config.eta > 0 else (h, w, c)

    def solve(self, noise, network, nfe: int):
        c = self.image_shape[-1]
        noises = [noise[..., c * (i + 1):c * (i + 2)] for i in range(nfe - 1)] \
            if self.config.eta > 0 else ()
        return ddim(network, noise[..., :c], self.abar, nfe, self.config.eta, noises)
