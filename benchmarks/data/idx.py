"""The IDX format (MNIST, Fashion-MNIST) and Keras' mnist.npz: reading, checking, and
recognising whose official file a copy is.

A file that claims to be an official split (the official image count in its header) must match
the official SHA-256 of its decompressed bytes, so a corrupt copy is an error, never used; a
file with other counts (a subset you made) is only checked for a consistent layout. A file
that is another known dataset's official file is named as such (MNIST files handed to
``--dataset fashion-mnist`` are good MNIST files, not a corrupt copy to delete).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from benchmarks.data.spec import DataError

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


def read_bytes(path: Path) -> bytes:
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


def find_split_file(folder: Path, stem: str) -> Path | None:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (folder / name).is_file():
            return folder / name
    return None


def complete_folder(folder: Path) -> dict[str, Path] | None:
    """The four split files in ``folder``, or None if any is missing."""
    found = {key: find_split_file(folder, stem) for key, stem in SPLIT_FILES.items()}
    return found if all(found.values()) else None  # type: ignore[return-value]


def whose_official(digest: str) -> tuple[str, str] | None:
    """(dataset, split file) whose official SHA-256 this is, or None."""
    for name, hashes in OFFICIAL_IDX_SHA256.items():
        for key, official in hashes.items():
            if digest == official:
                return name, key
    return None


def _check_official(name: str, key: str, path: Path, count: int, digest: str) -> None:
    official = OFFICIAL_IDX_SHA256.get(name, {}).get(key)
    if official is None or digest == official:
        return
    owner = whose_official(digest)
    if owner is not None and owner[0] != name:
        raise DataError(
            f"{path} is the official {owner[0]} {owner[1].replace('_', ' ')} file, not "
            f"{name}: these are {owner[0]} files (they are fine); point --data-dir at the "
            f"{name} files, or run --dataset {owner[0]}"
        )
    if count == OFFICIAL_COUNTS[key.split("_")[0]]:
        raise DataError(
            f"checksum mismatch in {path}: its contents are not the official {name} "
            f"{key.replace('_', ' ')} (sha256 {digest[:12]}..., expected {official[:12]}...); "
            "delete it and copy it again"
        )


def load_idx_folder(name: str, files: dict[str, Path]) -> tuple[np.ndarray, ...]:
    """The four split arrays (images (N, 28, 28) uint8, labels (N,)) and a checksum."""
    arrays, digests = {}, []
    for key, path in files.items():
        raw = read_bytes(path)
        arr = parse_idx(raw, path)
        digest = hashlib.sha256(raw).hexdigest()
        _check_official(name, key, path, arr.shape[0], digest)
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


def load_npz(path: Path, official_sha: str | None) -> tuple[np.ndarray, ...]:
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


def as_nhwc(images: np.ndarray) -> np.ndarray:
    """IDX and Keras' npz store grayscale (N, H, W): add the channel axis they leave out."""
    return np.asarray(images, dtype=np.uint8)[..., None]
