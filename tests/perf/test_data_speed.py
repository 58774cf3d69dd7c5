"""Loading all of MNIST from the .gz files: target under 2 s on the 2-core machine."""

from __future__ import annotations

import pytest

from benchmarks import data


@pytest.mark.benchmark(group="data")
def test_load_mnist_speed(mnist_dir, benchmark):
    """Loading all of MNIST from the .gz files (target < 2 s here): pytest --benchmark-only."""
    ds = benchmark.pedantic(data.load, args=("mnist", mnist_dir), rounds=3, iterations=1)
    assert ds.x_train.shape[0] == 60000
