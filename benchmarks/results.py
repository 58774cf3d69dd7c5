"""What a run and a scoring record in results.json alike: the environment (backend, device,
versions) and the scoring space (the classifier, the metric table, small-data settings)."""

from __future__ import annotations

import platform
from importlib import metadata

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
