"""A cache of an image folder's decoded arrays, keyed by the folder's contents, so a second run
does not decode again. A cache file that does not verify is treated as missing, never trusted.

Key: SHA-256 over every image's relative path, size and modification time, and the settings
that change the arrays (size, channels, split rule). An entry holds the arrays and the SHA-256
of their bytes; loading recomputes it, and any difference or unreadable file means "decode
again" (the damaged file is then replaced).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from reports.files import atomic_write

CACHE_ENV = "BENCHMARKS_CACHE_DIR"
FORMAT = 1  # bump when the arrays a folder decodes to change for the same files
KEYS = ("x_train", "y_train", "x_test", "y_test")


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$BENCHMARKS_CACHE_DIR``, else ``~/.cache/genbench``; + folders/."""
    base = cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "genbench"
    return Path(base).expanduser() / "folders"


def content_key(files: list[Path], root: Path, settings: dict) -> str:
    entries = []
    for path in files:
        st = path.stat()
        entries.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    text = json.dumps({"format": FORMAT, "settings": settings, "files": entries})
    return hashlib.sha256(text.encode()).hexdigest()


def digest(arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> str:
    """Identifies the decoded data: the classifier and statistics caches key on it."""
    h = hashlib.sha256()
    for key in KEYS:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    h.update("\n".join(class_names).encode())
    return h.hexdigest()


def read(path: Path) -> tuple[dict[str, np.ndarray], tuple[str, ...], str] | None:
    """The entry's arrays, class names and digest; None if absent or if it does not verify."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in KEYS}
            class_names = tuple(str(c) for c in f["class_names"])
            stored = str(f["digest"])
    except Exception:  # truncated, garbled, not a zip, a key missing: all mean "decode again"
        return None
    if digest(arrays, class_names) != stored:
        return None
    return arrays, class_names, stored


def write(path: Path, arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> str:
    """Store atomically (a reader never sees half a file); returns the digest. A cache that
    cannot be written is only a slower next run, so an OSError is not an error here."""
    value = digest(arrays, class_names)
    try:
        atomic_write(path, lambda tmp: np.savez(tmp, **arrays, class_names=np.array(class_names),
                                                digest=np.array(value)))
    except OSError:
        pass
    return value
