"""Dataset registry: where image files are looked for, how they are checked, how they load.

Every dataset loads as float32 images in [-1, 1], NHWC (N, 28, 28, 1), with int64 labels.
Files are searched in order: ``--data-dir`` / ``$BENCHMARKS_DATA_DIR``, Keras' cache
(``~/.keras/datasets``), the Debian location (``/usr/share/datasets/<name>``), and last a
download through ``keras.utils.get_file`` (skipped when ``$BENCHMARKS_OFFLINE`` is set).

A file that claims to be an official split (the official image count in its IDX header) must
match the official SHA-256 of its decompressed bytes, so a corrupt copy is an error, never
used; a file with other counts (a subset you made) is only checked for a consistent layout.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.errors import UserError

DATA_DIR_ENV = "BENCHMARKS_DATA_DIR"
OFFLINE_ENV = "BENCHMARKS_OFFLINE"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

SPLIT_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the *decompressed* official IDX files: the same whether a copy is gzip'd by the
# publisher, re-compressed by a packager (Debian's are) or stored uncompressed.
OFFICIAL_IDX_SHA256 = {
    "mnist": {
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
OFFICIAL_COUNTS = {"train": 60000, "test": 10000}
# Keras' single-file MNIST archive, as keras.datasets.mnist checks it.
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


class DataError(UserError):
    """A dataset could not be found or a file is corrupt."""


class DataNotFound(DataError):
    """No copy of the dataset anywhere; ``tried`` lists every place looked at."""

    def __init__(self, name: str, tried: list[str]):
        self.name, self.tried = name, tried
        places = "; ".join(tried) or "nowhere"
        super().__init__(
            f"dataset '{name}' not found (tried: {places}); fix: pass --data-dir DIR (or set "
            f"{DATA_DIR_ENV}) to a folder with the four IDX .gz files, or allow the download"
        )


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # float32 (N, 28, 28, 1) in [-1, 1]
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str  # where it was loaded from, for the report
    checksum: str  # identifies the exact data (classifier and statistics caches key on it)
    note: str | None = None  # e.g. the loud fallback message

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
    class_names: tuple[str, ...]
    locate: Callable[[Path | None], tuple[Found | None, list[str]]] = field(
        repr=False
    )


# --------------------------------------------------------------------------- IDX files


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"corrupt or truncated data file {path} ({e}); delete it and copy or download it again"
        ) from None


def parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """IDX: 0x00 0x00 dtype-code ndim, big-endian uint32 dims, then the values (uint8 only)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (incomplete IDX header)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is truncated or padded: header says {dims} = {expected} bytes, "
            f"file holds {len(raw) - header}; delete it and copy it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_split_file(folder: Path, stem: str) -> Path | None:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_folder_complete(folder: Path) -> dict[str, Path] | None:
    found = {key: _find_split_file(folder, stem) for key, stem in SPLIT_FILES.items()}
    return found if all(found.values()) else None  # type: ignore[return-value]


def load_idx_folder(name: str, files: dict[str, Path]) -> tuple[np.ndarray, ...]:
    """Read the four split files, checking official-size files against official checksums."""
    arrays, digests = {}, []
    for key, path in files.items():
        raw = _read_bytes(path)
        arr = parse_idx(raw, path)
        count = OFFICIAL_COUNTS[key.split("_")[0]]
        official = OFFICIAL_IDX_SHA256.get(name, {}).get(key)
        digest = hashlib.sha256(raw).hexdigest()
        if official and arr.shape[0] == count and digest != official:
            raise DataError(
                f"checksum mismatch in {path}: its contents are not the official {name} "
                f"{key.replace('_', ' ')} (sha256 {digest[:12]}..., expected {official[:12]}...); "
                "delete it and copy it again"
            )
        arrays[key] = arr
        digests.append(digest)
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise DataError(
                f"{files[f'{split}_images']} holds {n_img} images but "
                f"{files[f'{split}_labels']} holds {n_lab} labels; the pair must match"
            )
    checksum = hashlib.sha256("".join(digests).encode()).hexdigest()
    return (*(arrays[k] for k in SPLIT_FILES), checksum)


def _load_npz(path: Path, official_sha: str | None) -> tuple[np.ndarray, ...]:
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if official_sha and digest != official_sha:
            raise DataError(
                f"checksum mismatch in {path} (sha256 {digest[:12]}..., expected "
                f"{official_sha[:12]}...); delete it and copy or download it again"
            )
        with np.load(path, allow_pickle=False) as f:
            arrays = tuple(np.asarray(f[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    except DataError:
        raise
    except Exception as e:  # zipfile.BadZipFile, KeyError, OSError, ValueError
        raise DataError(f"corrupt data file {path} ({e}); delete it and copy it again") from None
    return (*arrays, digest)


def _to_dataset(name, arrays, class_names, source) -> Dataset:
    x_tr, y_tr, x_te, y_te, checksum = arrays

    lut = np.linspace(-1.0, 1.0, 256, dtype=np.float32)  # byte value -> [-1, 1], one pass

    def images(x):
        return lut[np.asarray(x, dtype=np.uint8)][..., None]

    return Dataset(
        name=name,
        x_train=images(x_tr),
        y_train=np.asarray(y_tr, dtype=np.int64),
        x_test=images(x_te),
        y_test=np.asarray(y_te, dtype=np.int64),
        class_names=class_names,
        source=source,
        checksum=checksum,
    )


def _load_idx_dataset(name, files, class_names, source) -> Dataset:
    return _to_dataset(name, load_idx_folder(name, files), class_names, source)


def _load_npz_dataset(name, path, npz_sha, class_names) -> Dataset:
    return _to_dataset(name, _load_npz(path, npz_sha), class_names, str(path))


# --------------------------------------------------------------------------- locating


def data_dir_setting(data_dir: str | Path | None) -> Path | None:
    value = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return Path(value).expanduser() if value else None


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def _idx_locator(name: str, npz_name: str | None, npz_sha: str | None, class_names):
    """Locator for a dataset published as four IDX files (and, for MNIST, Keras' npz)."""

    def locate(data_dir: Path | None):
        tried: list[str] = []
        candidates: list[tuple[str, Path]] = []
        if data_dir is not None:
            if not data_dir.is_dir():
                tried.append(f"{data_dir} (data dir: no such folder)")
            else:
                candidates += [("data dir", data_dir), ("data dir", data_dir / name),
                               ("data dir", data_dir / name.replace("-", "_"))]
        cache = _keras_cache()
        candidates += [("keras cache", cache / name), ("keras cache", cache)]
        candidates.append(("debian", Path("/usr/share/datasets") / name))
        for _, folder in candidates:
            files = _idx_folder_complete(folder) if folder.is_dir() else None
            if files:
                return Found(str(folder), partial(_load_idx_dataset, name, files, class_names,
                                                  str(folder))), tried
            if npz_name and (folder / npz_name).is_file():
                path = folder / npz_name
                return Found(str(path), partial(_load_npz_dataset, name, path, npz_sha,
                                                class_names)), tried
            tried.append(str(folder))
        if os.environ.get(OFFLINE_ENV):
            tried.append(f"download (skipped: {OFFLINE_ENV} is set)")
            return None, tried
        tried.append(f"download from {KERAS_ORIGIN}")
        return Found("download", partial(_download, name, npz_name, npz_sha, class_names,
                                         tried)), tried

    return locate


def _download(name, npz_name, npz_sha, class_names, tried) -> Dataset:
    import keras  # only here: the download is the last resort

    try:
        if npz_name:
            path = Path(keras.utils.get_file(npz_name, origin=KERAS_ORIGIN + npz_name,
                                             file_hash=npz_sha))
            return _to_dataset(name, _load_npz(path, npz_sha), class_names,
                               f"{path} (downloaded)")
        folder = None
        for stem in SPLIT_FILES.values():
            path = Path(keras.utils.get_file(stem + ".gz", origin=f"{KERAS_ORIGIN}{name}/{stem}.gz",
                                             cache_subdir=f"datasets/{name}"))
            folder = path.parent
        files = _idx_folder_complete(folder)
        return _load_idx_dataset(name, files, class_names, f"{folder} (downloaded)")
    except DataError:
        raise
    except Exception as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        failed = f"download from {KERAS_ORIGIN} failed ({reason})"
        raise DataNotFound(name, [*tried[:-1], failed]) from None


# --------------------------------------------------------------------------- digits


DIGITS_TEST_SIZE = 0.2  # stratified, fixed seed: 1,437 train / 360 test images
DIGITS_SPLIT_SEED = 0


def _digits_locator(data_dir: Path | None):
    return Found("scikit-learn (embedded)", _load_digits), []


def frame_like_mnist(img8: np.ndarray) -> np.ndarray:
    """Frame 8x8 digits (values 0..16) the way MNIST was made: the ink's bounding box scaled,
    aspect kept, to fit a 20x20 box, then placed in a 28x28 frame so that its centre of mass
    sits at the centre. Returns floats in [0, 1], shape (n, 28, 28)."""
    from scipy import ndimage

    out = np.zeros((len(img8), 28, 28), dtype=np.float64)
    for i, img in enumerate(np.asarray(img8, dtype=np.float64).reshape(-1, 8, 8) / 16.0):
        rows, cols = np.nonzero(img.any(axis=1))[0], np.nonzero(img.any(axis=0))[0]
        box = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        scale = 20.0 / max(box.shape)
        box = np.clip(ndimage.zoom(box, scale, order=1, grid_mode=True, mode="grid-constant"),
                      0.0, 1.0)
        h, w = box.shape
        top, left = (28 - h) // 2, (28 - w) // 2
        out[i, top:top + h, left:left + w] = box
        cy, cx = ndimage.center_of_mass(out[i])
        out[i] = ndimage.shift(out[i], (13.5 - cy, 13.5 - cx), order=1, mode="constant")
    return np.clip(out, 0.0, 1.0)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    framed = frame_like_mnist(digits.images.astype(np.float64))
    x = (framed * 2 - 1).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    checksum = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Dataset("digits", x_tr, y_tr, x_te, y_te, tuple(str(i) for i in range(10)),
                   "scikit-learn load_digits (embedded, 8x8 scaled to 28x28)", checksum)


# --------------------------------------------------------------------------- registry

DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist", "handwritten digits, 60k/10k, 28x28", DIGIT_NAMES,
                    _idx_locator("mnist", "mnist.npz", MNIST_NPZ_SHA256, DIGIT_NAMES)),
        DatasetSpec("fashion-mnist", "Zalando clothing, 60k/10k, 28x28", FASHION_NAMES,
                    _idx_locator("fashion-mnist", None, None, FASHION_NAMES)),
        DatasetSpec("digits", "scikit-learn's 1,797 digits (8x8) framed to 28x28; no files needed",
                    DIGIT_NAMES, _digits_locator),
    )
}
DEFAULT_DATASET = "mnist"
FALLBACK_DATASET = "digits"


def names() -> list[str]:
    return sorted(DATASETS)


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UserError(f"unknown dataset '{name}'; choose one of: {', '.join(names())}")
    return DATASETS[name]


def locate(name: str, data_dir: str | Path | None = None, *, download: bool = True):
    """Where ``name`` would load from, without loading: (loader or None, places tried)."""
    found, tried = spec(name).locate(data_dir_setting(data_dir))
    if not download and found is not None and found.source == "download":
        return None, tried
    return found, tried


def load(name: str | None = None, data_dir: str | Path | None = None) -> Dataset:
    """Load ``name``; with ``name=None`` load MNIST, or fall back to digits and say so."""
    explicit = name is not None
    name = name or DEFAULT_DATASET
    found, tried = locate(name, data_dir)
    try:
        if found is None:
            raise DataNotFound(name, tried)
        return found.load()
    except DataNotFound as e:
        if explicit:
            raise
        ds = load(FALLBACK_DATASET)
        ds.note = (f"FELL BACK TO '{FALLBACK_DATASET}': {name} was not found (tried: "
                   f"{'; '.join(e.tried)}). Pass --data-dir or --dataset to choose.")
        return ds
