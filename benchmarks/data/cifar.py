"""CIFAR-10 from the official ``cifar-10-python.tar.gz`` or its extracted
``cifar-10-batches-py/``: pickled batches (b"data": uint8 (N, 3072) as R, G, B planes of
32x32; b"labels": N ints) and ``batches.meta`` (b"label_names").

Checks follow the IDX policy: an archive whose MD5 is the official one is the official data; in
any other copy every batch holding the official 10,000 images must match that batch's official
MD5 (so a corrupt copy is an error naming the file, never used), and batches of other sizes (a
subset you made) are checked for a consistent layout only. The pickles are read with an
unpickler that can build numpy arrays and nothing else.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.data.locate import Build, candidate_folders, download_failed, offline
from benchmarks.data.spec import OFFLINE_ENV, DataError, Dataset, Found

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"  # as published on the CIFAR page
# per file, as torchvision's CIFAR10 checks them
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
META = "batches.meta"
OFFICIAL_BATCH_IMAGES = 10000
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to build {module}.{name}")


def _unpickle(raw: bytes, where: str) -> dict:
    try:
        d = _ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:
        raise DataError(f"{where} is not a readable CIFAR batch ({e}); delete it and copy "
                        "it again") from None
    if not isinstance(d, dict):
        raise DataError(f"{where} is not a CIFAR batch (holds a {type(d).__name__})")
    return d


def _read_members(source: Path) -> tuple[dict[str, bytes], bool]:
    """The batch files' bytes by name, and whether they came from the official archive."""
    wanted = (*TRAIN_BATCHES, "test_batch", META)
    raw: dict[str, bytes] = {}
    try:
        if source.is_dir():
            for name in wanted:
                if (source / name).is_file():
                    raw[name] = (source / name).read_bytes()
            official = False
        else:
            official = hashlib.md5(source.read_bytes()).hexdigest() == ARCHIVE_MD5
            with tarfile.open(source, "r:gz") as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if member.isfile() and name in wanted:
                        raw[name] = tar.extractfile(member).read()
    except (OSError, EOFError, tarfile.TarError) as e:
        raise DataError(f"corrupt or truncated data file {source} ({e}); delete it and copy "
                        "or download it again") from None
    missing = [n for n in wanted if n not in raw]
    if missing:
        raise DataError(f"{source} lacks {', '.join(missing)}; a CIFAR-10 copy needs "
                        f"{', '.join(wanted)}")
    return raw, official


def _batch(raw: bytes, where: str, num_classes: int, check_md5: str | None):
    d = _unpickle(raw, where)
    data, labels = d.get(b"data"), d.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32 or labels is None:
        raise DataError(f"{where} is not a CIFAR-10 batch (b'data' must be uint8 (N, 3072) "
                        "with b'labels' beside it)")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),) or labels.min(initial=0) < 0 \
            or labels.max(initial=0) >= num_classes:
        raise DataError(f"{where} holds {len(data)} images but its labels do not match "
                        f"(need {len(data)} labels in 0..{num_classes - 1})")
    if check_md5 and len(data) == OFFICIAL_BATCH_IMAGES:
        digest = hashlib.md5(raw).hexdigest()
        if digest != check_md5:
            raise DataError(f"checksum mismatch in {where}: its contents are not the official "
                            f"CIFAR-10 batch (md5 {digest[:12]}..., expected {check_md5[:12]}"
                            "...); delete it and copy it again")
    # stored as R, G, B planes of 32x32: NCHW -> NHWC
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read(source: Path) -> tuple[tuple, tuple[str, ...]]:
    """((x_train, y_train, x_test, y_test, checksum), class names) from an archive or folder."""
    raw, official = _read_members(source)
    meta = _unpickle(raw[META], f"{source}:{META}")
    names = meta.get(b"label_names")
    if not isinstance(names, list) or not names:
        raise DataError(f"{source}:{META} has no b'label_names' list")
    class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    parts = {name: _batch(raw[name], f"{source}:{name}", len(class_names),
                          None if official else BATCH_MD5[name])
             for name in (*TRAIN_BATCHES, "test_batch")}
    x_train = np.concatenate([parts[n][0] for n in TRAIN_BATCHES])
    y_train = np.concatenate([parts[n][1] for n in TRAIN_BATCHES])
    x_test, y_test = parts["test_batch"]
    checksum = hashlib.sha256(b"".join(hashlib.sha256(raw[n]).digest()
                                       for n in sorted(raw))).hexdigest()
    return (np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_test), y_test,
            checksum), class_names


def _copies(folder: Path) -> list[Path]:
    return [p for p in (folder / ARCHIVE, folder / FOLDER, folder)
            if (p.is_file() if p.name == ARCHIVE else (p / "data_batch_1").is_file())]


def locator(name: str, build: Build):
    def locate(data_dir: Path | None):
        folders, tried = candidate_folders(name, data_dir,
                                           extra=("cifar-10", "cifar-10-batches-py-target"))
        for folder in folders:
            copies = _copies(folder) if folder.is_dir() else []
            if copies:
                return Found(str(copies[0]), partial(_load, copies[0], build)), tried
            tried.append(str(folder))
        if offline():
            tried.append(f"download (skipped: {OFFLINE_ENV} is set)")
            return None, tried
        tried.append(f"download from {ORIGIN}")
        return Found("download", partial(_download, name, build, tried)), tried

    return locate


def _load(source: Path, build: Build, label: str | None = None) -> Dataset:
    arrays, _ = read(source)
    return build(arrays, label or str(source))


def _download(name: str, build: Build, tried: list[str]) -> Dataset:
    import keras  # only here: the download is the last resort

    try:
        path = Path(keras.utils.get_file(ARCHIVE, origin=ORIGIN, file_hash=ARCHIVE_MD5))
    except Exception as e:
        raise download_failed(name, tried, ORIGIN, e) from None
    return _load(path, build, f"{path} (downloaded)")
