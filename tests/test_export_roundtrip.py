"""The loop closed: a trained run's exported generator, scored with ``score``, gives the run's
own final figures. Needs ``benchmarks.score`` (the score command's Python API)."""

from __future__ import annotations

import json

import pytest

from benchmarks.experiment import EVAL_SEED

try:
    from benchmarks import score
except ImportError:
    score = None


@pytest.mark.slow
@pytest.mark.skipif(score is None, reason="benchmarks.score (python -m benchmarks score) is "
                                          "not in this checkout")
def test_an_exported_generator_scores_as_the_run_it_came_from(smoke_run, classifier_cache):
    out, cache = smoke_run.folder, str(classifier_cache)  # the session's smoke run, read only
    results = json.loads((out / "results.json").read_text())
    samples = results["config"]["samples"]
    for run in results["runs"]:
        final = run["final"]
        # the run scored sample(samples, EVAL_SEED): the same noise through the same network
        scored = score(str(out / run["exported"]["final"]), dataset="digits", n=samples,
                       seed=EVAL_SEED, cache_dir=cache)
        assert scored["fid_ci_low"] <= final["fid"] <= scored["fid_ci_high"], run["model"]
        assert scored["fid"] == pytest.approx(final["fid"], rel=1e-3)
        assert scored["modes_covered"] == final["modes_covered"]
