"""Writing a file so that a reader never sees half of it: the one atomic-write routine of the
report package (results.json, report.md and every figure go through it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o644  # mkstemp makes files private; results, reports and figures are for all


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(temp_path) on a temp file beside path, fsync it, then os.replace it over path.

    The temp file sits in the same folder so the rename is atomic; it is removed if anything
    fails (a crash at any point leaves the previous complete file). The result is mode 0644.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        # the data must be on disk before the rename, or a power cut can leave an empty file
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
