"""A large study (90,000 runs) is planned at once: every key made once and looked up in a set,
a warning naming its size before the folder is made, and a signal while it is planned or
prepared ends it with the signal's exit status and no traceback."""

from __future__ import annotations

import json
import signal

import pytest

from benchmarks import runner
from benchmarks.config import RunConfig
from tests.clitools import finish, run_env, start, wait_for

LRS = [f"{i}e-4" for i in range(1, 11)]  # 10 values
NOISE = [str(n) for n in range(10, 100, 10)]  # 9 values


def config(seeds: int, sweep: dict) -> RunConfig:
    return RunConfig(models=("gan", "ae"), dataset="digits", data_dir=None,
                     backend="tensorflow", preset="smoke", steps=20, batch_size=32,
                     seeds=seeds, eval_every=0, eval_samples=100, samples=200, out=None,
                     sweep=sweep)


def test_plan_of_a_100000_run_grid_keeps_exactly_the_unfinished_runs_in_order():
    cfg = config(1000, {"gan": {"lr": [i * 1e-5 for i in range(1, 101)]}})
    todo, skipped = runner.plan(cfg, [])
    assert len(todo) == 100 * 1000 + 1000 and skipped == []  # gan's grid, then ae's seeds
    assert todo[0].key == "gan[lr=1e-05]/s0" and todo[999].key == "gan[lr=1e-05]/s999"
    assert todo[1000].key == "gan[lr=2e-05]/s0" and todo[-1].key == "ae/s999"
    # every third run finished, every seventh diverged (done too), one other failed (not)
    runs = [{"key": s.key, "status": "finished"} for s in todo[::3]]
    runs += [{"key": s.key, "status": "diverged"} for s in todo[::7]]
    runs += [{"key": todo[1].key, "status": "failed"}, {"key": todo[2].key,
                                                       "status": "interrupted"}]
    done = {i for i in range(len(todo)) if i % 3 == 0 or i % 7 == 0}
    left, finished = runner.plan(cfg, runs)
    assert [s.key for s in left] == [s.key for i, s in enumerate(todo) if i not in done]
    assert [s.key for s in finished] == [s.key for i, s in enumerate(todo) if i in done]


def test_the_time_left_is_the_first_runs_pace_over_the_rest():
    assert runner._time_left(1, 90_000, 12.0, parallel=1) == (
        "1 of 90,000 runs in 12 s: about 300.0 h for the other 89,999 at this pace")
    # four workers: four runs at a time at that pace
    assert "about 75.0 h for the other 89,999" in runner._time_left(1, 90_000, 12.0, 4)


@pytest.mark.slow
def test_sigterm_before_the_first_run_of_a_90000_run_study_exits_143_cleanly(tmp_path):
    out = tmp_path / "run"
    child = start(["--preset", "smoke", "--dataset", "digits", "--models", "gan",
                   "--seeds", "1000", "--sweep", f"gan.lr={','.join(LRS)}",
                   "--sweep", f"gan.noise_dim={','.join(NOISE)}", "--out", str(out)],
                  run_env(tmp_path / "cache"))
    # printed before the folder is made; "training steps" ends the warning whether the console
    # wraps it (a terminal) or not (a log)
    seen = wait_for(child, "training steps")
    words = " ".join("".join(seen).split())
    assert "90,000 runs to do (gan: 90 settings x 1,000 seeds), 1,800,000 training" in words
    child.send_signal(signal.SIGTERM)
    stdout, stderr = finish(child, seen)
    assert child.returncode == 143, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    if (out / "results.json").exists():  # the signal came after the folder was made
        results = json.loads((out / "results.json").read_text())
        assert results["status"] == "interrupted"
        assert "interrupted (SIGTERM)" in " ".join(results["notes"])
