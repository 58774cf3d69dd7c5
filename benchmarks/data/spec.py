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
    # How it is scored, when not by a classifier trained on it (metrics.build_reference):
    # points drawn from a known mixture (a metrics.mixture.Mixture: scored by it), or Stacked
    # MNIST, whose channels the classifier of this one-channel Dataset labels
    mixture: object | None = None
    channel_dataset: Dataset | None = None
    # Stacked MNIST: each image is this many of channel_dataset's images as its channels, so
    # its training images can also be drawn on the fly from channel_dataset's training split
    # (``on_the_fly``); 0: not stacked
    stack: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W, C) for images; (D,) for points."""
        return tuple(self.x_train.shape[1:])

    @property
    def holds(self) -> str:
        """What the arrays hold: "images" (N, H, W, C) in [-1, 1] or "points" (N, D)."""
        return "points" if self.x_train.ndim == 2 else "images"

    @property
    def scored_by(self) -> str:
        """How its samples are scored, in words (the report's and `data`'s)."""
        if self.mixture is not None:
            return f"its known mixture ({self.mixture.name}): no classifier"
        if self.channel_dataset is not None:
            return f"the {self.channel_dataset.name} classifier on each channel"
        return "a classifier trained on it"


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


# The smallest dataset the suite scores, checked when `run` or `data` loads one (before any
# training). The reference halves the training split into the memorization set (NDB's cells
# are fitted on it) and the held-out pool the real-data floor is scored from; each half needs
# metrics' MIN_SAMPLES (50) images. The test split is the real set every figure compares with
# and the classifier's gate is measured on: at 20 images one image is 5 % of its accuracy,
# NDB gets 4 cells of 5 images and the k-NN balls k = 2 (metrics say so in the report).
MIN_TRAIN_IMAGES = 100
MIN_TEST_IMAGES = 20
MIN_IMAGE_SIDE = 8  # pixels, the smallest --image-size: the models resample by 4x


def check_minimum(ds: Dataset) -> None:
    """One line (a DataError) when ``ds`` is below the smallest dataset the suite scores."""
    h, w, _ = ds.image_shape if ds.holds == "images" else (MIN_IMAGE_SIDE,) * 3
    if min(h, w) < MIN_IMAGE_SIDE:
        raise DataError(f"dataset {ds.name} has {h}x{w}-pixel images; the suite needs at least "
                        f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}: for an image folder pass "
                        f"--image-size N (N >= {MIN_IMAGE_SIDE}) to resize them")
    n_train, n_test = len(ds.x_train), len(ds.x_test)
    if n_train < MIN_TRAIN_IMAGES or n_test < MIN_TEST_IMAGES:
        raise DataError(f"dataset {ds.name} is too small: {n_train:,} training and {n_test:,} "
                        f"test images; the suite needs at least {MIN_TRAIN_IMAGES} and "
                        f"{MIN_TEST_IMAGES} (an image folder split by the 20 % hold-out: about 125 "
                        "images in all); add images")


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
