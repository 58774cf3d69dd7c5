"""What listens to a train() call: a step's info, and callbacks grouped as Keras groups them.

A ``Callback`` overrides the events it listens to (``on_step``, ``on_eval``,
``on_checkpoint``) and may stop training (``should_stop``); train() passes every event to
each one of its ``CallbackList`` in order. ``LambdaCallback`` makes one of plain functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StepInfo:
    step: int  # steps done so far (1-based)
    steps: int  # steps asked for
    losses: dict[str, float]  # this step's logs: each phase's loss, plus the model's extras
    images_per_s: float  # real images drawn per second so far, compiling call excluded (nan
    # until known)
    elapsed_s: float  # wall time since train() started, callbacks included


class Callback:
    """One listener of a train() call, as keras.callbacks.Callback: a subclass overrides the
    events it listens to, the others do nothing."""

    def on_step(self, info: StepInfo) -> None:
        """After every step."""

    def on_eval(self, step: int) -> None:
        """Every ``eval_every`` steps, with the model's variables current."""

    def on_checkpoint(self, step: int) -> None:
        """After each checkpoint is written (to save what the caller keeps beside it)."""

    def should_stop(self) -> bool:
        """Asked before every engine call: True ends training there."""
        return False


class LambdaCallback(Callback):
    """A Callback of plain functions, each optional (keras.callbacks.LambdaCallback)."""

    def __init__(self, *, on_step: Callable[[StepInfo], None] | None = None,
                 on_eval: Callable[[int], None] | None = None,
                 on_checkpoint: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        for name, function in (("on_step", on_step), ("on_eval", on_eval),
                               ("on_checkpoint", on_checkpoint), ("should_stop", should_stop)):
            if function is not None:
                setattr(self, name, function)


class CallbackList(list):
    """Every listener of one train() call: each event goes to all of them in order, and
    training stops when any asks (keras.callbacks.CallbackList)."""

    def on_step(self, info: StepInfo) -> None:
        for callback in self:
            callback.on_step(info)

    def on_eval(self, step: int) -> None:
        for callback in self:
            callback.on_eval(step)

    def on_checkpoint(self, step: int) -> None:
        for callback in self:
            callback.on_checkpoint(step)

    def should_stop(self) -> bool:
        return any(callback.should_stop() for callback in self)
