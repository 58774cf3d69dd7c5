"""Planning a large study: the grid's 100,000 keys made, those finished on resume looked up.

    pytest tests/perf/test_planning.py --benchmark-only

Before keys were looked up in a set, the runner compared every spec with every other
(quadratic): 5,000 runs took 2.9 s, 10,000 17 s, 20,000 82 s on the 2-core CPU, so 100,000
would take about half an hour; 90,000 sat over 120 s in the issue that found it.
"""

from __future__ import annotations

import pytest

from benchmarks import runner
from benchmarks.config import RunConfig

SETTINGS, SEEDS = 100, 1000  # 100,000 runs

CFG = RunConfig(models=("dcgan",), dataset="digits", data_dir=None, backend="tensorflow",
                preset="smoke", steps=20, batch_size=32, seeds=SEEDS, eval_every=0,
                eval_samples=100, samples=200, out=None,
                sweep={"dcgan": {"lr": [i * 1e-5 for i in range(1, SETTINGS + 1)]}})


@pytest.mark.parametrize("finished", [0.0, 0.5], ids=["new", "resume-half-finished"])
def test_plan_a_100000_run_grid(benchmark, finished):
    todo, _ = runner.plan(CFG, [])
    runs = [{"key": s.key, "status": "finished"} for s in todo[: int(len(todo) * finished)]]
    left, skipped = benchmark.pedantic(runner.plan, args=(CFG, runs), rounds=5,
                                       warmup_rounds=1, iterations=1)
    assert len(left) + len(skipped) == SETTINGS * SEEDS and len(skipped) == len(runs)
    benchmark.extra_info.update(runs=SETTINGS * SEEDS, finished=len(runs))
