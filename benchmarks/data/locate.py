"""Where dataset files are looked for, in order, and the download as the last resort.

Places: ``--data-dir`` / ``$BENCHMARKS_DATA_DIR`` (the folder itself, or a sub-folder named
after the dataset), Keras' cache (``~/.keras/datasets``), the Debian location
(``/usr/share/datasets/<name>``), and last a download through ``keras.utils.get_file``
(skipped when ``$BENCHMARKS_OFFLINE`` is set).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.data import idx
from benchmarks.data.spec import DATA_DIR_ENV, OFFLINE_ENV, DataError, DataNotFound, Dataset, Found

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# (uint8 arrays..., checksum), source -> Dataset: the registry's way of naming and gating
Build = Callable[[tuple, str], Dataset]


def data_dir_setting(data_dir: str | Path | None) -> Path | None:
    value = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return Path(value).expanduser() if value else None


def keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def offline() -> bool:
    return bool(os.environ.get(OFFLINE_ENV))


def candidate_folders(name: str, data_dir: Path | None, extra: tuple[str, ...] = ()
                      ) -> tuple[list[Path], list[str]]:
    """Folders to look in, in order, and the note for a data dir that does not exist."""
    tried: list[str] = []
    subfolders = (name, name.replace("-", "_"), *extra)
    folders: list[Path] = []
    if data_dir is not None:
        if not data_dir.is_dir():
            tried.append(f"{data_dir} (data dir: no such folder)")
        else:
            folders += [data_dir, *(data_dir / s for s in subfolders)]
    cache = keras_cache()
    folders += [*(cache / s for s in (name, *extra)), cache]
    folders.append(Path("/usr/share/datasets") / name)
    unique = list(dict.fromkeys(folders))
    return unique, tried


def idx_locator(name: str, npz_name: str | None, npz_sha: str | None, build: Build):
    """Locator for a dataset published as four IDX files (and, for MNIST, Keras' npz)."""

    def locate(data_dir: Path | None):
        folders, tried = candidate_folders(name, data_dir)
        for folder in folders:
            files = idx.complete_folder(folder) if folder.is_dir() else None
            if files:
                return Found(str(folder), partial(_load_idx, name, files, build, str(folder))
                             ), tried
            if npz_name and (folder / npz_name).is_file():
                path = folder / npz_name
                return Found(str(path), partial(_load_npz, path, npz_sha, build, str(path))
                             ), tried
            tried.append(str(folder))
        if offline():
            tried.append(f"download (skipped: {OFFLINE_ENV} is set)")
            return None, tried
        tried.append(f"download from {KERAS_ORIGIN}")
        return Found("download", partial(_download, name, npz_name, npz_sha, build, tried)), tried

    return locate


def _load_idx(name, files, build: Build, source: str) -> Dataset:
    x_tr, y_tr, x_te, y_te, checksum = idx.load_idx_folder(name, files)
    return build((idx.as_nhwc(x_tr), y_tr, idx.as_nhwc(x_te), y_te, checksum), source)


def _load_npz(path: Path, sha: str | None, build: Build, source: str) -> Dataset:
    x_tr, y_tr, x_te, y_te, checksum = idx.load_npz(path, sha)
    return build((idx.as_nhwc(x_tr), y_tr, idx.as_nhwc(x_te), y_te, checksum), source)


def download_failed(name: str, tried: list[str], origin: str, error: Exception) -> DataNotFound:
    """The whole reason, never cut mid-word (a cut "[Errno -2] Name or s" helps nobody)."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return DataNotFound(name, [*tried[:-1], f"download from {origin} failed ({reason})"])


def _download(name, npz_name, npz_sha, build: Build, tried) -> Dataset:
    import keras  # only here: the download is the last resort

    try:
        if npz_name:
            path = Path(keras.utils.get_file(npz_name, origin=KERAS_ORIGIN + npz_name,
                                             file_hash=npz_sha))
            return _load_npz(path, npz_sha, build, f"{path} (downloaded)")
        folder = None
        for stem in idx.SPLIT_FILES.values():
            path = Path(keras.utils.get_file(stem + ".gz", origin=f"{KERAS_ORIGIN}{name}/{stem}.gz",
                                             cache_subdir=f"datasets/{name}"))
            folder = path.parent
        return _load_idx(name, idx.complete_folder(folder), build, f"{folder} (downloaded)")
    except DataError:
        raise
    except Exception as e:
        raise download_failed(name, tried, KERAS_ORIGIN, e) from None
