"""Writing a file so that a reader never sees half of it: the one atomic-write routine of the
report package and of ``benchmarks`` (results.json, report.md, figures, checkpoints, weights,
the image-folder cache). It lives here because ``benchmarks`` may import ``reports``; ``metrics``
may not, so ``metrics/cache.py`` keeps its own.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o644  # mkstemp makes files private; results, reports and figures are for all
TEMP_PREFIX = ".tmp-"  # what every temp file and folder of these writes is named from
# mkstemp's name here: PREFIX, 8 random characters, -name; mkdtemp's: PREFIX, name-, 8 random
_TEMP_NAME = re.compile(rf"{re.escape(TEMP_PREFIX)}(?:[a-z0-9_]{{8}}-.+|.+-[a-z0-9_]{{8}})")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(temp_path) on a temp file beside path, fsync it, then os.replace it over path.

    The temp file sits in the same folder so the rename is atomic, and its name ends with
    path's name, since some writers (Keras, NumPy) choose the format by it. If anything fails
    it is removed (a crash at any point leaves the previous complete file). The result is mode
    0644.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=f"-{path.name}")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _publish(tmp, path)
    except BaseException:
        discard(tmp)
        raise
    _sync_folder(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_folder(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(temp_folder) on a temp folder beside folder, then move each file it made
    into folder as atomic_write does: every file there is complete, the new one or the old."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{TEMP_PREFIX}{folder.name}-"))
    try:
        write(tmp)
        for made in sorted(tmp.iterdir()):
            _publish(made, folder / made.name)
    except BaseException:
        for made in tmp.iterdir():
            discard(made)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _sync_folder(folder)
    return folder


def remove_temporaries(folder: str | Path, depth: int = 3) -> None:
    """Remove what these writes leave when their process is killed mid-write (SIGKILL: a Ray
    task cancelled by force, a worker stopped, the OOM killer), which no ``except`` of theirs
    can clean: their temp files and folders, in ``folder`` and up to ``depth`` folders down (a
    run's weights/<trial>/<export>/), by the names mkstemp and mkdtemp give them here (a user's
    own files there are left alone). Only for a caller that holds the folder with none of its
    writers still running (RunFolder)."""
    root = Path(folder)
    found = [p for level in range(depth + 1)
             for p in root.glob("/".join(["*"] * level + [f"{TEMP_PREFIX}*"]))
             if _TEMP_NAME.fullmatch(p.name)]
    for path in sorted(found, reverse=True):  # inner first
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            discard(path)


def discard(tmp: Path) -> None:
    """Remove a failed temp file. It is emptied first: a writer still holding it open (h5py,
    after a write failed on a full disk) then flushes into freed space when it closes, instead
    of failing again at exit, where HDF5 crashes the process."""
    try:
        os.truncate(tmp, 0)
    except OSError:
        pass
    tmp.unlink(missing_ok=True)


def _publish(tmp: Path, path: Path) -> None:
    # the data must be on disk before the rename, or a power cut can leave an empty file
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def _sync_folder(folder: Path) -> None:
    """The rename itself is on disk once the folder's entry is."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
