"""Shared fixtures: real data through the data-dir setting, skipped with a reason if absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import data


def _mnist_dir() -> Path | None:
    setting = os.environ.get(data.DATA_DIR_ENV)
    if not setting:
        return None
    for folder in (Path(setting), Path(setting) / "mnist"):
        if data._idx_folder_complete(folder) if folder.is_dir() else None:
            return folder
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = _mnist_dir()
    if folder is None:
        pytest.skip(f"real MNIST not found: set {data.DATA_DIR_ENV} to a folder with its "
                    "four IDX .gz files")
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    return data.load("mnist", mnist_dir)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests never try the network: the download step is skipped, not timed out."""
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    monkeypatch.setenv("KERAS_HOME", str(tmp / "genbench-no-keras-home"))


def pytest_collection_modifyitems(config, items):
    """Step and load timings run only under ``pytest --benchmark-only``: plain pytest stays fast.
    Under --benchmark-only the other tests are deselected, not skipped one line each, so the
    timing table is the last thing printed."""
    if config.getoption("benchmark_only", default=False):
        timed = [item for item in items if "benchmark" in getattr(item, "fixturenames", ())]
        config.hook.pytest_deselected(items=[item for item in items if item not in timed])
        items[:] = timed
        return
    skip = pytest.mark.skip(reason="timing benchmark: run with pytest --benchmark-only")
    for item in items:
        if "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)
