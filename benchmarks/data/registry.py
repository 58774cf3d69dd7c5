"""The named datasets, and image folders named by path: how each is found, its classes, and
the accuracy its scoring classifier must reach (the gate, in percent, with its reason)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

from benchmarks.data import cifar, digits, folder, idx, points, stacked
from benchmarks.data.locate import idx_locator
from benchmarks.data.spec import (
    DataError,
    Dataset,
    DatasetSpec,
    Found,
    chance_gate,
    to_unit_range,
)
from benchmarks.errors import UserError

FOLDER_PREFIX = "folder:"
DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")
CIFAR_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")


def _build(name: str, arrays: tuple, source: str) -> Dataset:
    """uint8 NHWC arrays (or float32 already in [-1, 1]) -> a Dataset gated as its spec says."""
    x_tr, y_tr, x_te, y_te, checksum = arrays
    s = DATASETS[name]

    def images(x):
        return x if x.dtype == "float32" else to_unit_range(x)

    return gated(Dataset(name, images(x_tr), y_tr.astype("int64"), images(x_te),
                         y_te.astype("int64"), s.class_names, source, checksum, request=name), s)


def gated(ds: Dataset, s: DatasetSpec) -> Dataset:
    if s.gate is not None and s.train_size not in (None, len(ds.x_train)):
        # a subset you made: fine for the pipeline, but the gate was set for the full split
        return replace(ds, classifier_gate=s.gate, gate_rule=(
            f"{s.gate_source}; set for the official {s.train_size:,} training images, this "
            f"copy holds {len(ds.x_train):,}: if the classifier falls short, pass "
            "--classifier-gate PCT"))
    if s.gate is not None:
        return replace(ds, classifier_gate=s.gate, gate_rule=s.gate_source)
    gate = chance_gate(ds.num_classes)
    return replace(ds, classifier_gate=gate, gate_rule=(
        f"chance + half the distance to 100 % = {gate:.1f} % for {ds.num_classes} classes"))


def _build_stacked(arrays: tuple, source: str) -> Dataset:
    """Stacked MNIST from the MNIST arrays; MNIST itself rides along as the dataset whose
    classifier labels each channel."""
    mnist = _build("mnist", arrays, source)
    ds = _build("stacked-mnist", stacked.stacked_arrays(arrays),
                f"{source} (stacked: {stacked.TRAIN_SIZE:,} training triples of MNIST's "
                f"training digits, {stacked.TEST_SIZE:,} test triples of its test digits, "
                f"seed {stacked.SEED})")
    return replace(ds, channel_dataset=mnist, request="stacked-mnist", stack=stacked.DIGITS)


def _points_locator(name: str):
    def locate(data_dir):
        return Found(points.SOURCE, lambda: _build_points(name)), []

    return locate


def _build_points(name: str) -> Dataset:
    mixture = points.MIXTURES[name]()
    x_tr, y_tr, x_te, y_te, checksum = points.draw(mixture)
    s = DATASETS[name]
    return Dataset(name, x_tr, y_tr, x_te, y_te, s.class_names, points.SOURCE, checksum,
                   classifier_gate=0.0, gate_rule="no classifier: scored by the known mixture",
                   request=name, mixture=mixture)


def _digits_locator(data_dir):
    return Found(digits.SOURCE, lambda: _build("digits", digits.load_arrays(), digits.SOURCE)), []


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("mnist", "handwritten digits, 60k/10k, 28x28 gray",
                    idx_locator("mnist", "mnist.npz", idx.MNIST_NPZ_SHA256,
                                partial(_build, "mnist")),
                    DIGIT_NAMES, 99.0, "MNIST: 99 % (the small CNN reaches 99.3-99.5 %)",
                    60000),
        DatasetSpec("fashion-mnist", "Zalando clothing, 60k/10k, 28x28 gray",
                    idx_locator("fashion-mnist", None, None, partial(_build, "fashion-mnist")),
                    FASHION_NAMES, 90.0, "Fashion-MNIST: 90 % (the small CNN reaches 91-93 %)",
                    60000),
        DatasetSpec("digits", "scikit-learn's 1,797 digits (8x8) framed to 28x28; no files "
                    "needed", _digits_locator, DIGIT_NAMES, 95.0,
                    "digits: 95 % (the small CNN reaches 97-99 %)"),
        DatasetSpec("stacked-mnist", "three MNIST digits as the channels of one image: 1,000 "
                    f"modes, {stacked.TRAIN_SIZE // 1000}k/{stacked.TEST_SIZE // 1000}k, 28x28x3, "
                    "built from the MNIST files",
                    idx_locator("mnist", "mnist.npz", idx.MNIST_NPZ_SHA256, _build_stacked),
                    stacked.CLASS_NAMES, stacked.GATE, stacked.GATE_SOURCE, stacked.TRAIN_SIZE),
        DatasetSpec("ring", "8 Gaussians on the unit circle (sigma 0.01), 2-D points; "
                    "generated, no files", _points_locator("ring"),
                    points.class_names(points.MIXTURES["ring"]()), 0.0,
                    "no classifier: scored by the known mixture"),
        DatasetSpec("grid", "25 Gaussians on {-4,-2,0,2,4}^2 (sigma 0.05), 2-D points; "
                    "generated, no files", _points_locator("grid"),
                    points.class_names(points.MIXTURES["grid"]()), 0.0,
                    "no classifier: scored by the known mixture"),
        DatasetSpec("cifar10", "CIFAR-10 objects, 50k/10k, 32x32 RGB",
                    cifar.locator("cifar10", partial(_build, "cifar10")), CIFAR_NAMES, 70.0,
                    "CIFAR-10: 70 % (not yet measured here: no copy of CIFAR-10 on the "
                    "development machine)", 50000),
    )
}
DEFAULT_DATASET = "mnist"
FALLBACK_DATASET = "digits"


def names() -> list[str]:
    return sorted(DATASETS)


def folder_path(text: str) -> Path | None:
    """The folder ``text`` names (``folder:PATH``, or a path), or None for a dataset name."""
    if text in DATASETS:
        return None
    if text.startswith(FOLDER_PREFIX):
        return Path(text[len(FOLDER_PREFIX):]).expanduser()
    path = Path(text).expanduser()
    if "/" in text or path.is_dir():
        return path
    return None


def folder_spec(root: Path, image_size: int | None = None, channels: int | None = None,
                cache_dir=None) -> DatasetSpec:
    def locate(data_dir):
        if not root.is_dir():
            return None, [f"{root} (no such folder)"]
        return Found(str(root.resolve()), partial(_load_folder, root, image_size, channels,
                                                  cache_dir)), []

    return DatasetSpec(folder.short_name(root) if root.is_dir() else str(root),
                       f"image folder {root}", locate)


def _load_folder(root: Path, image_size, channels, cache_dir) -> Dataset:
    arrays, class_names, checksum, how = folder.read_folder(
        root, image_size=image_size, channels=channels, cache_dir=cache_dir)
    source = f"{root.resolve()} (image folder; test split: {how})"
    ds = Dataset(folder.short_name(root), to_unit_range(arrays["x_train"]), arrays["y_train"],
                 to_unit_range(arrays["x_test"]), arrays["y_test"], class_names, source,
                 checksum, request=FOLDER_PREFIX + str(root.resolve()))
    return gated(ds, DatasetSpec(ds.name, "", locate=lambda _: (None, [])))


def spec(name: str, *, image_size: int | None = None, channels: int | None = None,
         cache_dir=None) -> DatasetSpec:
    """A registered dataset, or an image folder; anything else is one line listing both."""
    root = folder_path(name)
    if root is not None:
        if not root.is_dir():
            problem = "is not a folder" if root.exists() else "does not exist"
            raise DataError(f"image folder {root} {problem}; pass a folder holding one "
                            "sub-folder of PNG/JPEG images per class")
        return folder_spec(root, image_size, channels, cache_dir)
    if name not in DATASETS:
        raise UserError(f"unknown dataset '{name}'; choose one of: {', '.join(names())}, or an "
                        f"image folder as {FOLDER_PREFIX}PATH")
    if image_size is not None or channels is not None:
        raise UserError(f"--image-size and --channels apply to image folders; {name} loads "
                        "at its own size and channels")
    return DATASETS[name]
