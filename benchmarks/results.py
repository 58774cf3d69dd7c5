"""results.json: the environment a run records, and atomic writes."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

from benchmarks import __version__
from benchmarks.backend import device_description


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def environment(backend: str) -> dict:
    return {
        "backend": backend,
        "device": device_description(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"genbench": __version__, "keras": _version("keras"),
                     "tensorflow": _version("tensorflow"), "jax": _version("jax"),
                     "numpy": _version("numpy"), "scikit-learn": _version("scikit-learn")},
    }


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write to a temporary file beside ``path``, then rename: a crash never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_finite(payload), f, indent=1, allow_nan=False, default=_jsonable)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename: a power cut keeps one whole file
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(value):
    """NaN and infinity are not JSON: they are written as null (a missing figure)."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return _finite(value.item())
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
