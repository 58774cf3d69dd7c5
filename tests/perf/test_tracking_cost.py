"""What the TensorBoard writer costs (docs/tracking.md): the DCGAN step at batch 64 with and
without the trackers' per-step call, interleaved round by round in one run so the machine's
drifting load falls on both; and the size of the event files a ``quick`` run of three models
writes (its step count, evaluations and sample pictures, each model's losses).

    pytest tests/perf/test_tracking_cost.py --benchmark-only -s
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import experiment, tracking
from benchmarks.config import PRESETS
from benchmarks.harness import StepInfo
from tests.perf.test_step_timing import harness_step

PAIRS, STEPS = 12, 20  # rounds of each, steps per round


class Quiet:
    def note(self, text: str) -> None:
        raise AssertionError(text)


def trackers(folder: Path, steps: int, mixture=None) -> tracking.Trackers:
    opening = tracking.Opening(
        ("tensorboard",), folder, "dcgan-s0", "dcgan/s0", {"steps": steps}, {"model": "dcgan"},
        frozenset(experiment.loss_steps(steps)),
        lambda step, samples: tracking.picture(samples, mixture))
    return tracking.Trackers(opening, Quiet(), tracking.Held())


@pytest.mark.benchmark(group="tracking")
def test_dcgan_step_with_and_without_the_writer(tmp_path, benchmark):
    """Every step a logged one (a run of at most 500 steps): the worst case."""
    pairs, steps = (1, 2) if benchmark.disabled else (PAIRS, STEPS)  # make test: once, quickly
    step = harness_step("dcgan", 64)
    board = trackers(tmp_path, pairs * steps * 2)
    losses = {k: float(v[0]) for k, v in step()[0].items()}
    timed = {"without": 0.0, "with": 0.0}
    n = [0]

    def written() -> None:
        step()
        n[0] += 1
        board.on_step(StepInfo(n[0], pairs * steps * 2, losses, 1000.0, 0.0))

    for _ in range(pairs):
        for name, call in (("without", step), ("with", written)):
            t0 = time.perf_counter()
            for _ in range(steps):
                call()
            timed[name] += time.perf_counter() - t0
    ratio = timed["without"] / timed["with"]
    benchmark.extra_info.update(ratio=ratio, step_ms_without=1000 * timed["without"] / (
        pairs * steps), step_ms_with=1000 * timed["with"] / (pairs * steps))
    print(f"\nDCGAN step at batch 64: {benchmark.extra_info['step_ms_without']:.1f} ms "
          f"without the writer, {benchmark.extra_info['step_ms_with']:.1f} ms with it: "
          f"ratio {ratio:.3f}")
    benchmark.pedantic(written, rounds=3, iterations=1)
    board.each("close", "finished")
    assert not board.notes and len(list((tmp_path / tracking.LOG_FOLDER).rglob("events*"))) == 1


@pytest.mark.benchmark(group="tracking")
def test_event_files_of_a_quick_run_of_three_models(tmp_path, benchmark, digits):
    """The files three models' quick runs write: 3,000 steps' losses (results.json's 500
    points, 4 series and images/s), 6 evaluations and the final one (3 figures and the
    8-image picture each), settings, HParams, final and best figures, the summary."""
    quick = PRESETS["quick"]
    evals = list(range(quick.eval_every, quick.steps + 1, quick.eval_every))

    def write() -> int:
        for model in ("dcgan", "gan", "ae"):
            board = trackers(tmp_path / model, quick.steps)
            for s in range(1, quick.steps + 1):
                board.on_step(StepInfo(s, quick.steps, {"generator": 0.7, "discriminator": 1.3,
                                                        "d_real": 0.5, "d_fake": 0.5}, 750.0, 0))
                if s in evals:
                    board.evaluation(s, {"fid": 50.0, "modes_covered": 10, "kl_classes": 0.1},
                                     digits[s // 100:s // 100 + experiment.PROGRESSION_IMAGES])
            board.each("scalars", quick.steps, {f"final/m{i}": 1.0 for i in range(30)})
            board.each("close", "finished")
        return sum(p.stat().st_size for p in tmp_path.rglob("events*"))

    size = benchmark.pedantic(write, rounds=1, iterations=1)
    benchmark.extra_info["bytes"] = size
    print(f"\nevent files of a quick run of three models: {size / 1e6:.2f} MB")
    assert 0 < size < 3e6
    assert np.isfinite(size)
