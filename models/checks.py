"""Range rules for model Config fields, checked when a Config is constructed.

A Config declares ``RULES = {"field": rule}`` and calls ``validate(self)`` from its
``__post_init__``, so a bad ``--set`` value is refused when arguments are read, in one line
naming the field, the value and what is allowed, never mid-run or in native code.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A finite number (an integer if ``integer``) between ``low`` and ``high``; None is
    unbounded, and ``*_open`` excludes that end."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    @property
    def allowed(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            return (f"{kind} in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return kind

    def accepts(self, value) -> bool:
        # bool is an int in Python, but True is no learning rate
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.choices


POSITIVE = Interval(0, low_open=True)  # learning rates, scales
COUNT = Interval(1, integer=True)  # sizes and counts: at least one
SEED = Interval(0, 2**32 - 1, integer=True)  # what numpy and scikit-learn accept as a seed
FRACTION = Interval(0, 1, high_open=True)  # [0, 1): Adam's beta_1, dropout, EMA decay


def validate(config) -> None:
    """Raises ValueError for the first field whose value its rule does not accept."""
    rules = getattr(config, "RULES", {})
    for f in dataclasses.fields(config):
        rule = rules.get(f.name)
        value = getattr(config, f.name)
        if rule is not None and not rule.accepts(value):
            raise ValueError(f"{f.name}={value!r} is not allowed; expected {rule.allowed}")


def image_shape(model: str, shape: tuple, multiple: int = 1) -> tuple[int, int, int]:
    """(H, W, C) of positive integers, H and W multiples of ``multiple`` (what a model's
    down- or upsampling needs); otherwise a ValueError naming the model and the shape."""
    if is_vector(shape):  # a convolutional model has no height and width to work on
        raise ValueError(f"{model} builds for images of shape (height, width, channels), "
                         f"not {int(shape[0])}-d vectors {tuple(shape)}: it is convolutional")
    ok = (len(shape) == 3 and all(isinstance(d, (int, np.integer)) and d > 0 for d in shape))
    if not ok:
        raise ValueError(f"{model} builds for images of shape (height, width, channels), "
                         f"got {tuple(shape)}")
    h, w, c = (int(d) for d in shape)
    if h % multiple or w % multiple:
        raise ValueError(f"{model} cannot take {h}x{w}x{c} images: it resamples by "
                         f"{multiple}x, so height and width must be multiples of {multiple}")
    return h, w, c


def is_vector(shape: tuple) -> bool:
    """Whether ``shape`` is a vector dataset's (D,): one positive integer."""
    return len(shape) == 1 and isinstance(shape[0], (int, np.integer)) and shape[0] > 0
