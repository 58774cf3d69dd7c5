"""The contract every benchmark model meets; the harness and the runner rely on nothing else.

A model owns its networks, optimizers and loss rule. The harness owns the loop: it asks for
``phases`` (what to train with which optimizer) and calls ``compute_losses(images)`` once
per step inside its compiled function, differentiating each phase's loss with respect to
that phase's variables only (simultaneous updates from one shared forward pass).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import keras
import numpy as np


@dataclass(frozen=True)
class Phase:
    """One optimizer updating one set of variables from one loss, ``repeats`` times a step.

    A training step is one pass over the phases in order. Consecutive phases with repeats=1
    share one forward pass (``compute_losses``) and update simultaneously: with every phase at
    repeats=1 the step is one simultaneous update of all of them (a GAN's discriminator and
    generator, as in the tutorial recipe). A phase with repeats=r > 1 runs alone, r times, each
    time on its own batch with its own forward pass (a WGAN critic: 5 updates per generator
    update).
    The step draws max(repeats) batches of real images; the i-th repetition of every phase
    reads batch i, so a phase after a repeated one (the generator) reuses its first batch.
    """

    name: str  # the key of this phase's loss in compute_losses' result
    variables: list  # the trainable keras.Variables this phase's loss updates
    optimizer: keras.optimizers.Optimizer
    repeats: int = 1  # updates of this phase per training step

    def __post_init__(self):
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) \
                or self.repeats < 1:
            raise ValueError(f"phase {self.name!r}: repeats must be an integer >= 1, "
                             f"got {self.repeats!r}")


@dataclass(frozen=True)
class NoConfig:
    """Config of a model without hyperparameters."""


class GenerativeModel:
    """Base of all models. Subclasses set ``Config`` and implement the abstract methods."""

    name: ClassVar[str] = ""  # set by @register
    Config: ClassVar[type] = NoConfig
    reconstructs: ClassVar[bool] = False  # True: reconstruct()/encode() are meaningful
    # networks whose weights the harness averages (an exponential moving average with decay
    # ``config.ema``, Yazici et al. 2019) when the config's ``ema`` is > 0; GANs name their
    # generator, and sample from the averaged copy through sampling_network()
    averaged_networks: ClassVar[tuple[str, ...]] = ()
    # True: sample() calls a network ``nfe`` times per image and ``sample_at(n, seed, nfe)``
    # draws at another count (flow, ddpm: models/iterative.py)
    iterative: ClassVar[bool] = False

    def __init__(self, config: Any = None, image_shape: tuple[int, ...] | None = None):
        if image_shape is None:  # models build for the dataset's shape: it has no default
            raise TypeError(f"{type(self).__name__} needs the dataset's image_shape (H, W, C)")
        config = self.Config() if config is None else config
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__qualname__}, "
                            f"got {type(config).__name__}")
        self.config = config
        self.image_shape = tuple(image_shape)
        # the compute dtype the layers were built with; the harness checks it against the
        # precision it is asked to train in, since a layer's policy is fixed at construction
        self.precision = keras.config.dtype_policy().name
        # noise for training; seeded from the global seed (keras.utils.set_random_seed) and
        # kept as model state so a stateless (JAX) step threads it like any variable
        self.seed_generator = keras.random.SeedGenerator()
        self.networks: dict[str, keras.Model] = self.build_networks()
        self._phases: list[Phase] | None = None
        # the averaged copies, made now so they exist under the harness' creation scope
        self.averages: dict[str, keras.Model] = {}
        # how many updates the averages have had: their decay warms up with it
        # (harness.engine.average_decay); float32 counts exactly to 2**24 steps
        self.average_updates: keras.Variable | None = None
        if self.ema > 0:
            for name in self.averaged_networks:
                self.averages[name] = _copy_of(self.networks[name])
            self.average_updates = keras.Variable(0.0, dtype="float32", trainable=False,
                                                  name="average_updates")
        self._input_gradient = None  # bound by the training engine (bind_input_gradient)
        # the data-parallel context the variables were made under (None: one device); the
        # harness's build sets it and its engine trains in it
        self.distribution: object | None = None

    # --- what a subclass writes -------------------------------------------------------
    def build_networks(self) -> dict[str, keras.Model]:
        raise NotImplementedError

    def build_phases(self) -> list[Phase]:
        raise NotImplementedError

    def compute_losses(self, images) -> dict:
        """Scalar float32 loss per phase name (plus optional named logs), in keras.ops;
        ``images`` holds batch size x samples_per_example training rows."""
        raise NotImplementedError

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n images, float32 (n, H, W, C) in [-1, 1]; the same seed gives the same images."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        raise NotImplementedError

    @property
    def nfe(self) -> int:
        """Network evaluations sample() spends per image: 1 for a generator or a decoder."""
        return 1

    def sample_at(self, n: int, seed: int, nfe: int) -> np.ndarray:
        """sample(n, seed) with ``nfe`` network evaluations per image (iterative models)."""
        raise NotImplementedError(f"{self.name} samples in one network evaluation")

    @property
    def samples_per_example(self) -> int:
        """Training samples one batch element is made of: the harness draws batch size x
        this rows a batch, consecutive rows one element, and compute_losses receives them
        all. 1 here; a packed GAN's ``pack`` (``models.packing``)."""
        return 1

    def sampling_model(self) -> keras.Model | None:
        """sample() as one Keras model of one input, which a trained run exports as .keras:
        ``sample(n, seed)`` is this model on ``np.random.default_rng(seed).standard_normal(
        (n, *input_shape))``, clipped to [-1, 1] (``sample_from_noise``). None: this model
        samples some other way, and its runs export no generator."""
        return None

    # --- shared behaviour -------------------------------------------------------------
    @property
    def phases(self) -> list[Phase]:
        if self._phases is None:
            phases = self.build_phases()
            seen: set[int] = set()
            for p in phases:
                ids = {id(v) for v in p.variables}
                if ids & seen:
                    raise ValueError(f"{self.name}: phase {p.name!r} shares variables with "
                                     "another phase; each variable has one optimizer")
                seen |= ids
                p.optimizer.build(p.variables)  # variables exist before any compiled step
            self._phases = phases
        return self._phases

    @property
    def variables(self) -> list:
        """Every variable compute_losses may read or write (optimizer state and weight
        averages are not: the engine updates those itself)."""
        out, seen = [], set()
        for net in self.networks.values():
            for v in net.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out + [self.seed_generator.state]

    @property
    def ema(self) -> float:
        """Decay of the weight average the harness keeps (0: none): the config's ``ema``."""
        return float(getattr(self.config, "ema", 0.0))

    @property
    def weights_scored(self) -> str:
        """Which weights sample() draws with: "ema" (the averaged copies) or "raw"."""
        return "ema" if self.averages else "raw"

    def sampling_network(self, name: str) -> keras.Model:
        """The network to sample with: its averaged copy when ema > 0, else the trained one."""
        return self.averages.get(name, self.networks[name])

    def averaged_variables(self) -> list[tuple]:
        """(trained variable, its average) pairs: every float variable of an averaged
        network, batch-norm statistics included (as timm's model EMA does); integer state
        such as a dropout seed has no average."""
        return [(source, average) for name, copy in self.averages.items()
                for source, average in zip(self.networks[name].variables, copy.variables,
                                           strict=True)
                if "float" in str(source.dtype)]

    def bind_input_gradient(self, gradient) -> None:
        """The engine supplies input_gradient (a model never imports TensorFlow or JAX)."""
        self._input_gradient = gradient

    def input_gradient(self, fn, inputs):
        """``(fn(inputs), d sum(fn(inputs)) / d inputs)`` inside compute_losses, itself
        differentiable with respect to the weights fn reads (a gradient penalty's double
        backpropagation). The sum gives per-example gradients when fn treats examples
        independently (no batch normalisation in training mode); fn must not update state."""
        if self._input_gradient is None:
            raise RuntimeError(f"{self.name}: input_gradient works inside a training step; "
                               "the harness engine binds it (harness.train)")
        return self._input_gradient(fn, inputs)

    def prepare_sampling(self, x_train: np.ndarray) -> None:
        """Called once after training, before sample(); models with a fitted sampler fit it."""

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name} does not reconstruct")

    def encode(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no encoder")

    def param_counts(self) -> dict[str, int]:
        """Weights per network (trainable and not, as Keras counts them) and their total."""
        counts = {name: int(net.count_params()) for name, net in self.networks.items()}
        counts["total"] = sum(counts.values())
        return counts

    def save_weights(self, folder: str | os.PathLike) -> None:
        os.makedirs(folder, exist_ok=True)
        for name, net in self._saved_networks().items():
            net.save_weights(os.path.join(folder, f"{name}.weights.h5"))

    def load_weights(self, folder: str | os.PathLike) -> None:
        for name, net in self._saved_networks().items():
            net.load_weights(os.path.join(folder, f"{name}.weights.h5"))

    def _saved_networks(self) -> dict[str, keras.Model]:
        return {**self.networks, **{f"{name}_ema": net for name, net in self.averages.items()}}


def _copy_of(network: keras.Model) -> keras.Model:
    """A network of the same layers holding a copy of ``network``'s current values."""
    copy = keras.models.clone_model(network)
    copy.name = f"{network.name}_ema"
    for target, value in zip(copy.variables, network.variables, strict=True):
        # a copy, not the same buffer: JAX's step donates each state buffer once
        target.assign(keras.ops.copy(value))
    return copy


def predict(network: keras.Model, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """Inference in chunks, returned as float32 numpy (bounded memory for 10k samples)."""
    out = [keras.ops.convert_to_numpy(network(x[i:i + batch], training=False))
           for i in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.float32)


def sample_from_noise(generator: keras.Model, n: int, noise_dim: int, seed: int) -> np.ndarray:
    """n images from N(0, I) latents, clipped to [-1, 1] (points, (n, D), are not: a mixture's
    reach is its own, the grid's +-4); the latents are numpy's, so the same seed gives the same
    latents on every backend."""
    noise = np.random.default_rng(seed).standard_normal((n, noise_dim))
    out = predict(generator, noise.astype(np.float32))
    return out if out.ndim == 2 else np.clip(out, -1.0, 1.0)


class NoiseGenerative(GenerativeModel):
    """A model that samples by passing N(0, I) noise of ``config.noise_dim`` through its
    "generator" network (its moving average where the harness keeps one): the GAN family."""

    @property
    def latent_dim(self) -> int:
        return self.config.noise_dim

    def sample(self, n: int, seed: int) -> np.ndarray:
        return sample_from_noise(self.sampling_network("generator"), n, self.latent_dim, seed)

    def sampling_model(self) -> keras.Model:
        return self.sampling_network("generator")
