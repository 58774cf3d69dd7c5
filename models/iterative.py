"""What ``flow`` and ``ddpm`` share: models that sample by calling one network (the U-Net of
``models/unet.py``) ``nfe`` times per image, starting from N(0, I) noise.

Training is one Adam phase on a regression loss the subclass writes (``compute_losses``);
the U-Net's weights are averaged (``ema``) and the average samples. The subclass writes the
sampler (``solve``: the noise in, the images out, the network called through
``NetworkCalls``, which counts the calls), which is unrolled into one Keras model of one
input: ``sampling_model()`` at the run's NFE is what a run exports, so ``generator.keras``
draws the run's images in one call. ``sample_at(n, seed, nfe)`` draws at any NFE from the
same weights (the report's quality against sampling cost) by the same solver on arrays, one
compiled network call a step (TensorFlow traces the unrolled graph for ~25 s per NFE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
from keras import ops

from models import checks
from models.base import GenerativeModel, Phase
from models.unet import unet

SAMPLE_BATCH = 500  # images per solve in sample_at (as models.base.predict's chunks)


class NetworkCalls:
    """The network as the solver sees it: ``(x, t) -> output`` for a time t in [0, 1] given
    as a Python float, the same for every image; ``calls`` counts the evaluations (the NFE the
    sampler spends)."""

    def __init__(self, network):
        self.network, self.calls = network, 0

    def __call__(self, x, t: float):
        self.calls += 1
        # one t per image, made from x itself so that the graph has one input (the noise)
        times = ops.ones_like(ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))[:, :1]) * t
        return self.network([x, times])


class IterativeGenerative(GenerativeModel):
    """Base of the models whose sampler calls the U-Net ``config.nfe`` times per image. Its
    Config, which theirs extend, has ``width``, ``lr``, ``ema`` and ``nfe``."""

    @dataclass(frozen=True)
    class Config:
        width: int = 16  # the U-Net's top-level channels (models/unet.py): ~1.1 M weights
        # Adam; the papers use 1e-4 to 2e-4 at batch 128 over 400k-800k steps
        lr: float = 5e-4
        # decay of the U-Net weights' moving average that samples (as dcgan's; the papers
        # average with 0.9999 over their far longer runs)
        ema: float = 0.999
        nfe: int = 16  # network evaluations per image when sampling

        RULES: ClassVar[dict] = {
            "width": checks.Interval(8, 256, integer=True), "lr": checks.POSITIVE,
            "ema": checks.FRACTION, "nfe": checks.Interval(1, 1000, integer=True),
        }

        def __post_init__(self):
            checks.validate(self)

    averaged_networks: ClassVar[tuple[str, ...]] = ("unet",)
    iterative: ClassVar[bool] = True
    loss_name: ClassVar[str] = "loss"  # the one phase's name, and its loss's

    def __init__(self, config=None, image_shape=None):
        # samplers built so far, by NFE: each calls the same (averaged) network, whose
        # weights it reads when run, so one built before training samples after it
        self._samplers: dict[int, keras.Model] = {}
        super().__init__(config, image_shape)

    def build_networks(self) -> dict[str, keras.Model]:
        return {"unet": unet(self.name, self.image_shape, self.config.width)}

    def build_phases(self) -> list[Phase]:
        return [Phase(self.loss_name, self.networks["unet"].trainable_variables,
                      keras.optimizers.Adam(self.config.lr))]

    @property
    def latent_dim(self) -> int:
        return int(np.prod(self.image_shape))

    @property
    def nfe(self) -> int:
        return self.config.nfe

    # --- the sampler ----------------------------------------------------------------------
    def noise_shape(self, nfe: int) -> tuple[int, ...]:
        """The shape of one image's noise: the image's (a subclass that draws noise along the
        way widens it)."""
        return self.image_shape

    def solve(self, noise, network: NetworkCalls, nfe: int):
        """The images the sampler draws from ``noise``, calling ``network`` ``nfe`` times."""
        raise NotImplementedError

    def sampler(self, nfe: int) -> keras.Model:
        """The sampler at ``nfe`` evaluations as one Keras model of one input (the noise)."""
        if nfe in self._samplers:
            return self._samplers[nfe]
        noise = keras.Input(self.noise_shape(nfe), name="noise")
        network = NetworkCalls(self.sampling_network("unet"))
        images = self.solve(noise, network, nfe)
        if network.calls != nfe:  # the solver's own bookkeeping, checked once per build
            raise AssertionError(f"{self.name}: the sampler made {network.calls} network "
                                 f"evaluations, not nfe={nfe}")
        self._samplers[nfe] = keras.Model(noise, images, name=f"{self.name}_sampler_{nfe}")
        return self._samplers[nfe]

    def sampling_model(self) -> keras.Model:
        return self.sampler(self.nfe)

    def sample_at(self, n: int, seed: int, nfe: int) -> np.ndarray:
        """``sample(n, seed)`` with ``nfe`` network evaluations per image: the sampler's own
        steps in Python around one compiled network call each (``predict_on_batch``: a
        tf.function, or jax.jit), on the noise the exported sampler takes. Run as one unrolled
        graph instead, TensorFlow spends ~25 s tracing it and its eager ops ~0.35 s a call."""
        noise = np.random.default_rng(seed).standard_normal((n, *self.noise_shape(nfe)))
        noise, network = noise.astype(np.float32), self.sampling_network("unet")
        # TensorFlow without XLA (its compile per batch shape outweighs a run's sampling);
        # JAX compiles every step whatever the flag
        network.jit_compile = keras.backend.backend() == "jax"
        chunks = []
        for start in range(0, n, SAMPLE_BATCH):
            calls = NetworkCalls(network.predict_on_batch)
            chunks.append(ops.convert_to_numpy(
                self.solve(noise[start:start + SAMPLE_BATCH], calls, nfe)))
        images = np.concatenate(chunks) if chunks else np.zeros((0, *self.image_shape))
        return np.clip(images.astype(np.float32), -1.0, 1.0)

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self.sample_at(n, seed, self.nfe)
