"""Real data for the metrics tests: found through $BENCHMARKS_DATA_DIR, skipped without it."""

import os
from pathlib import Path

import pytest

from benchmarks import data


def real_dataset(name: str):
    """Load ``name`` from $BENCHMARKS_DATA_DIR (or its standard places), never downloading."""
    data_dir = os.environ.get(data.DATA_DIR_ENV)
    if not data_dir or not Path(data_dir).is_dir():
        pytest.skip(f"{data.DATA_DIR_ENV} is unset or not a folder; set it to run real-data "
                    "metric tests")
    found, tried = data.locate(name, data_dir, download=False)
    if found is None:
        pytest.skip(f"{name} not found without downloading (tried: {'; '.join(tried)})")
    return found.load()
