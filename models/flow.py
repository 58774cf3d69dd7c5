"""Conditional flow matching on the straight path (Lipman et al. 2023, "Flow Matching for
Generative Modeling"; Liu et al. 2023, "Flow Straight and Fast", rectified flow).

Noise x0 ~ N(0, I) and an image x1 are joined by the straight path
x_t = (1 - t) x0 + t x1, t ~ U(0, 1), whose velocity is x1 - x0; the U-Net v(x_t, t) is
trained to regress it (mean squared error), which makes it the marginal velocity field that
carries N(0, I) to the data. Sampling integrates dx/dt = v(x, t) from t = 0 to 1 with a fixed
number of network evaluations (``nfe``): Euler, Heun (the trapezoidal rule, 2 evaluations a
step) or the midpoint rule (2 a step); an odd NFE ends Heun and midpoint with one Euler step.

Differs from the papers: their CIFAR-10 U-Nets are ~36 M weights trained for 391k (Lipman) to
800k (Liu) steps at batch 128 and sampled by an adaptive solver (dopri5, ~100-200 NFE); here
the ~1.1 M-weight U-Net of ``models/unet.py``, the run's budget and a fixed-step solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import ops

from models import checks
from models.iterative import IterativeGenerative
from models.registry import register

SOLVERS = ("euler", "heun", "midpoint")


def straight_path(x0, x1, t):
    """(x_t, its velocity) on the straight path from x0 (noise) to x1 (data) at time t,
    broadcast against them: ((1 - t) x0 + t x1, x1 - x0)."""
    return (1.0 - t) * x0 + t * x1, x1 - x0


def integrate(velocity, x, nfe: int, solver: str):
    """x carried from t = 0 to t = 1 along dx/dt = velocity(x, t) (t a Python float) with
    exactly ``nfe`` calls of ``velocity``. Euler takes nfe steps of 1 / nfe; Heun and midpoint
    take ceil(nfe / 2) steps of two calls each, the last one an Euler step when nfe is odd."""
    if solver == "euler":
        for k in range(nfe):
            x = x + velocity(x, k / nfe) / nfe
        return x
    steps = math.ceil(nfe / 2)
    dt = 1.0 / steps
    for k in range(steps):
        t = k * dt
        v = velocity(x, t)
        if k == steps - 1 and nfe % 2:  # the odd evaluation: one Euler step
            x = x + dt * v
        elif solver == "heun":
            x = x + 0.5 * dt * (v + velocity(x + dt * v, t + dt))
        else:  # midpoint
            x = x + dt * velocity(x + 0.5 * dt * v, t + 0.5 * dt)
    return x


@register("flow")
class Flow(IterativeGenerative):
    """Lipman et al.'s flow matching on the straight path: a U-Net velocity, ODE-sampled."""

    loss_name = "velocity_mse"

    @dataclass(frozen=True)
    class Config(IterativeGenerative.Config):  # width, lr, ema, nfe
        solver: str = "heun"  # euler | heun | midpoint

        RULES: ClassVar[dict] = {**IterativeGenerative.Config.RULES,
                                 "solver": checks.OneOf(SOLVERS)}

    def compute_losses(self, images) -> dict:
        x1 = ops.cast(images, "float32")
        x0 = keras.random.normal(ops.shape(x1), seed=self.seed_generator)
        t = keras.random.uniform((ops.shape(x1)[0], 1), seed=self.seed_generator)
        x_t, target = straight_path(x0, x1, ops.reshape(t, (-1, 1, 1, 1)))
        velocity = ops.cast(self.networks["unet"]([x_t, t], training=True), "float32")
        return {self.loss_name: ops.mean(ops.square(velocity - target))}

    def solve(self, noise, network, nfe: int):
        return integrate(network, noise, nfe, self.config.solver)
