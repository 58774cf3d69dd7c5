"""What a dataset is: its arrays, its shape and classes, where it came from, and what its
scoring classifier must reach (the gate, in percent, and the rule the gate came from)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.errors import UserError

DATA_DIR_ENV = "BENCHMARKS_DATA_DIR"
OFFLINE_ENV = "BENCHMARKS_OFFLINE"


class DataError(UserError):
    """A dataset could not be found or a file is corrupt."""


class DataNotFound(DataError):
    """No copy of the dataset anywhere; ``tried`` lists every place looked at."""

    def __init__(self, name: str, tried: list[str], what: str = "its files"):
        self.name, self.tried = name, tried
        places = "; ".join(tried) or "nowhere"
        super().__init__(
            f"dataset '{name}' not found (tried: {places}); fix: pass --data-dir DIR (or set "
            f"{DATA_DIR_ENV}) to a folder with {what}, or allow the download"
        )


@dataclass
class Dataset:
    name: str  # short and file-name safe: caches and run folders are named after it
    x_train: np.ndarray  # float32 (N, H, W, C) in [-1, 1]
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str  # where it was loaded from, for the report
    checksum: str  # identifies the exact data (classifier and statistics caches key on it)
    note: str | None = None  # e.g. the loud fallback message
    classifier_gate: float = 0.0  # percent test accuracy the scoring classifier must reach
    gate_rule: str = ""  # one line: where the gate comes from
    request: str = ""  # what `load` takes to load this again (a resumed run stores it)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


@dataclass(frozen=True)
class Found:
    """A copy of a dataset that was located: where it is, and how to load it."""

    source: str
    load: Callable[[], Dataset] = field(repr=False)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    locate: Callable[[Path | None], tuple[Found | None, list[str]]] = field(repr=False)
    class_names: tuple[str, ...] = ()  # empty where only the files say (an image folder)
    gate: float | None = None  # percent; None: chance_gate(number of classes)
    gate_source: str = ""  # why this gate, e.g. "the small CNN's MNIST accuracy is 99.3-99.5 %"
    train_size: int | None = None  # the official training split's size the gate was set for


def chance_gate(num_classes: int) -> float:
    """The default gate where nobody has measured one: chance plus half the distance from
    chance to 100 %, i.e. 50 + 50/K percent (55 % for 10 classes, 75 % for 2). A classifier
    below it is closer to guessing than to knowing the classes, so its feature space cannot
    tell generated classes apart."""
    chance = 100.0 / num_classes
    return chance + 0.5 * (100.0 - chance)


def to_unit_range(images_u8: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 in [-1, 1], one table look-up per pixel."""
    lut = np.linspace(-1.0, 1.0, 256, dtype=np.float32)
    return lut[np.asarray(images_u8, dtype=np.uint8)]
