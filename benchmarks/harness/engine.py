"""The engine interface: what the loop asks of a backend, and what both backends share.

A backend module (``tensorflow.py``, ``jax.py``) provides ``distribution``,
``creation_scope``, ``input_gradient`` and an ``Engine`` class; ``loop.py`` selects the module
by keras' backend and drives its Engine. The backend modules import this module, never the
loop, so the import graph runs one way: loop -> backend module -> engine.

What one training step is (both engines): one pass over the model's phases in order
(``models.base.Phase``). Consecutive phases with repeats=1 form one group: one forward pass,
then simultaneous updates, so a model whose phases all have repeats=1 takes one simultaneous
update from one shared forward pass. A phase with repeats=r > 1 is a group of its own, run r
times, each time on a fresh batch with its own forward pass. A step draws
``batches_per_step`` = max(repeats) batches; repetition i of every group reads batch i.
A batch is batch size x ``model.samples_per_example`` training images (a packed GAN's batch
element is ``pack`` of them, consecutive in the row), all handed to compute_losses.
Steps count the passes over the phases (a WGAN's generator updates), and images/s counts the
real images drawn per second: batches_per_step x batch size x samples_per_example per step.
A training set drawn on the fly (``onthefly.py``) is gathered the same way, ``stack`` indices
an image, and each image's parts stacked as its channels (``BaseEngine.images_of``).

The step's logs: each phase's loss is the value its last update was computed from; the other
logs come from the forward pass of the first group's last repetition (a critic's estimates).
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np


class BaseEngine:
    """A backend's compiled training step over a training set put on the device once.

    What both engines share lives here: the start of ``__init__`` (the schedule, the split
    check, binding ``input_gradient``) and ``run``, which compiles a function per call length
    the first time it is asked for; a backend writes the rest."""

    replicas: int  # data-parallel replicas each batch is split over (1: none)

    def __init__(self, model, *, batch_size: int, jit: bool, steps_per_call: int,
                 replicas: int, input_gradient: Callable, stack: int | None = None) -> None:
        self.model, self.phases = model, model.phases
        self.groups, self.batches = schedule(self.phases), batches_per_step(self.phases)
        check_split(batch_size, replicas)
        self.replicas, self.batch_size = replicas, batch_size
        # training images a batch reads; a replica's slice of them holds whole elements
        self.width = batch_size * model.samples_per_example
        # None: the device holds the training images; k: each is k of the device's images,
        # drawn on the fly and stacked as its channels (onthefly.py), k indices an image
        self.stack = stack
        self.columns = self.width * (stack or 1)  # indices a batch reads
        self.jit, self.steps_per_call = jit, steps_per_call
        model.bind_input_gradient(input_gradient)
        self.functions: dict[int, Callable] = {}  # k steps a call -> its compiled function

    def run(self, block: Any, pos: int, k: int) -> tuple[dict[str, np.ndarray], bool]:
        """k steps reading the block's rows from ``pos`` (batches_per_step rows a step);
        returns each log's k values, fetched, and whether this call compiled."""
        compiled = k not in self.functions
        if compiled:
            self.functions[k] = self._function(k)
        return self._call(self.functions[k], block, pos), compiled

    def _function(self, k: int) -> Callable:
        """The compiled function of k steps (traced on its first call)."""
        raise NotImplementedError

    def _call(self, function: Callable, block: Any, pos: int) -> dict[str, np.ndarray]:
        """One call of a compiled function; the logs, fetched."""
        raise NotImplementedError

    def put_block(self, rows: np.ndarray) -> Any:
        """A (rows, columns) block of training-set indices, on the device."""
        raise NotImplementedError

    def images_of(self, gathered):
        """A batch's training images from what its indices gathered: those images, or (on
        the fly) each run of ``stack`` gathered parts stacked as one image's channels."""
        return gathered if self.stack is None else stack_channels(gathered, self.stack)

    def sync(self) -> None:
        """Makes the model's keras variables current (sampling and saving read them)."""
        raise NotImplementedError

    def step_flops(self, block: Any) -> float:
        """Floating-point operations of one step reading ``block`` (from ``put_block``), as
        the backend's own tool counts the step it compiles (``bench`` prints them beside the
        step's time, which says whether arithmetic or overhead bounds it)."""
        raise NotImplementedError

    def peak_memory_mb(self) -> float:
        """Peak device memory where the backend reports it, else the host's peak RSS."""
        raise NotImplementedError


class BackendModule(Protocol):
    """What ``loop.engine_module()`` returns: one backend's module."""

    # a BaseEngine, made as Engine(model, images, *, batch_size, jit, steps_per_call,
    # context=None, stack=None): images the training set, or with stack k the parts its
    # images are drawn from on the fly
    Engine: type[BaseEngine]

    def distribution(self, distribute: bool) -> object | None:
        """The backend's data-parallel context (None without distribute)."""

    def creation_scope(self, context: object | None) -> AbstractContextManager:
        """Scope in which a model's variables are created for that context."""

    def input_gradient(self, fn: Callable, inputs) -> tuple[Any, Any]:
        """(fn(inputs), d sum(fn(inputs)) / d inputs), differentiable again."""


@dataclass(frozen=True)
class Group:
    """Phases updated together from one forward pass, ``repeats`` times a step."""

    phases: tuple  # of models.base.Phase
    repeats: int


def schedule(phases) -> list[Group]:
    """The step's groups, in order (see the module docstring)."""
    groups: list[Group] = []
    for phase in phases:
        if phase.repeats == 1 and groups and groups[-1].repeats == 1:
            groups[-1] = Group((*groups[-1].phases, phase), 1)
        else:
            groups.append(Group((phase,), phase.repeats))
    return groups


def batches_per_step(phases) -> int:
    return max(p.repeats for p in phases)


def step_logs(groups: list[Group], outputs: list[dict]) -> dict:
    """Merges each group's last forward pass into the step's logs (module docstring)."""
    logs = dict(outputs[0])
    for group, out in zip(groups[1:], outputs[1:], strict=True):
        logs.update({p.name: out[p.name] for p in group.phases})
    return logs


def average_decay(decay: float, updates):
    """The decay of a weight average's next update after ``updates`` updates:
    min(decay, (1 + t) / (10 + t)), as tf.train.ExponentialMovingAverage does with
    num_updates. A fixed decay would keep weight decay^t on the random initial weights (0.999:
    61 % after 500 steps, 5 % after 3,000); this one follows the weights early and settles at
    ``decay`` once (1 + t) / (10 + t) exceeds it (after 8,990 updates for 0.999). Works on any
    backend's tensors."""
    return keras.ops.minimum(decay, (1.0 + updates) / (10.0 + updates))


def moving_average(decay, average, value):
    """One step of an exponential moving average (works on any backend's tensors)."""
    return average * decay + value * (1.0 - decay)


def update_averages(decay: float, updates, averages: list, values: list) -> tuple[list, Any]:
    """The weight averages' step, after ``updates`` earlier ones: each average moved towards
    its trained value at average_decay's rate; returns (new averages, updates + 1). Both
    engines call it, TensorFlow on variables, JAX on its threaded state."""
    rate = average_decay(decay, updates)
    return ([moving_average(rate, average, value)
             for average, value in zip(averages, values, strict=True)], updates + 1.0)


def stack_channels(parts, stack: int):
    """(n x stack, H, W, C) gathered parts -> (n, H, W, stack x C): image i holds parts
    i·stack .. i·stack + stack - 1 in order, part j in channels j·C .. j·C + C - 1. Takes
    any backend's tensors (keras.ops), inside a traced step too."""
    if stack == 1:
        return parts
    h, w, c = parts.shape[1:]
    images = keras.ops.reshape(parts, (-1, stack, h, w, c))
    images = keras.ops.transpose(images, (0, 2, 3, 1, 4))
    return keras.ops.reshape(images, (-1, h, w, stack * c))


def check_split(batch_size: int, replicas: int) -> None:
    """Data parallelism splits each batch evenly: refuse a batch that does not split
    (counted in elements, so no packed element is split between replicas)."""
    if batch_size % replicas:
        raise ValueError(f"batch size {batch_size} does not split over {replicas} replicas")


def host_peak_memory_mb() -> float:
    """Peak resident memory of this process (the CPU's answer to device peak memory)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
