"""Data loading speed: all of MNIST from the .gz files (target under 2 s on the 2-core
machine), and an image folder decoded once, then loaded from its cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmarks import data
from benchmarks.data import folder_cache


@pytest.mark.benchmark(group="data")
def test_load_mnist_speed(mnist_dir, benchmark):
    """Loading all of MNIST from the .gz files (target < 2 s here): pytest --benchmark-only."""
    ds = benchmark.pedantic(data.load, args=("mnist", mnist_dir), rounds=3, iterations=1)
    assert ds.x_train.shape[0] == 60000


@pytest.mark.benchmark(group="data")
def test_cached_folder_load_speed(tmp_path, monkeypatch, benchmark):
    """2,000 RGB 32x32 PNGs: the second and later loads read the cache, not the PNGs."""
    monkeypatch.setenv(folder_cache.CACHE_ENV, str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for c in range(10):
        (tmp_path / "imgs" / f"c{c}").mkdir(parents=True)
        for i in range(200):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / f"c{c}" / f"{i}.png")
    first = data.load(str(tmp_path / "imgs"))  # decodes and writes the cache
    ds = benchmark.pedantic(data.load, args=(str(tmp_path / "imgs"),), rounds=3, iterations=1)
    np.testing.assert_array_equal(ds.x_train, first.x_train)
