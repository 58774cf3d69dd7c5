"""A new record of results.json, for ``run`` and ``score`` alike: the command line, the
environment (backend, device, versions) and the dataset; the caller gives the config. The
scoring space is written by ``space.build``, the trials by ``trial.Trial.record``."""

from __future__ import annotations

import platform
import shlex
import sys
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


def new_record(ds, config: dict, backend: str) -> dict:
    """A record for a run (or a scoring) that has just started: no scoring space or trials."""
    from reports import schema

    return schema.new_results(
        command=command_line(), config=config, environment=environment(backend),
        dataset={"name": ds.name, "source": ds.source, "note": ds.note,
                 "image_shape": list(ds.image_shape), "train_size": int(len(ds.x_train)),
                 "test_size": int(len(ds.x_test)), "class_names": list(ds.class_names)})


def command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])
