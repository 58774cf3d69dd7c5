"""Sampling cost (benchmarks/sampling_cost.py): images/s and NFE for every model, an
iterative model scored at each NFE, and where the record's new fields show: the summary's
cost table, the throughput columns, the Sampling cost section and its figure, the console."""

from __future__ import annotations

import copy
import io

import numpy as np
from rich.console import Console as RichConsole

import models
from benchmarks import sampling_cost
from reports import plots, records, schema
from reports.markdown import render
from tests.conftest import SHAPE
from tests.test_reports import _column, _row, _section, make_results


def test_sampling_speed_times_sample_after_a_first_call_and_says_the_nfe(monkeypatch):
    model = models.get("gan")(image_shape=SHAPE)
    calls = []
    real_sample = model.sample
    monkeypatch.setattr(model, "sample", lambda n, seed: calls.append(n) or real_sample(n, seed))
    speed = sampling_cost.sampling_speed(model, batch=16)
    assert speed["nfe"] == 1 and speed["sampling_images_per_s"] > 0
    # one untimed call, then at least MIN_CALLS timed ones, all at the batch asked for
    assert len(calls) >= 1 + sampling_cost.MIN_CALLS and set(calls) == {16}
    flow = models.get("flow")(models.get("flow").Config(nfe=2), SHAPE)
    assert sampling_cost.sampling_speed(flow, batch=2)["nfe"] == 2


def test_an_iterative_models_sweep_scores_each_nfe_and_keeps_scalar_figures(monkeypatch):
    import metrics

    seen = []

    def evaluate(samples, reference):  # a stand-in scoring: what the sweep did with it
        seen.append(samples.shape)
        return {"fid": float(len(seen)), "recall": float("nan"), "class_histogram": [0.5]}

    monkeypatch.setattr(metrics, "evaluate", evaluate)
    model = models.get("ddpm")(image_shape=SHAPE)
    sweep = sampling_cost.nfe_sweep(model, None, samples=3, seed=0, counts=(1, 2))
    assert seen == [(3, *SHAPE)] * 2
    # each count's figure in its place; a figure that is not finite is null; lists dropped
    assert sweep == {"nfe": [1, 2], "samples": 3,
                     "metrics": {"fid": [1.0, 2.0], "recall": [None, None]}}
    assert sampling_cost.nfe_sweep(models.get("gan")(image_shape=SHAPE), None, 3, 0) is None


def with_sampling(results: dict) -> dict:
    """The reports' test record with sampling measured and an iterative model's sweeps."""
    out = copy.deepcopy(results)
    for run in out["runs"]:
        run["throughput"].update(sampling_images_per_s=5000.0 + run["seed"], nfe=1)
    flow = [schema.new_run("flow", seed, params={"unet": 1_079_473, "total": 1_079_473},
                           steps_done=1500, final={"fid": 30.0 + seed, "recall": 0.8},
                           throughput={"images_per_s": 150.0, "sampling_images_per_s": 40.0,
                                       "nfe": 16, "batch_size": 64, "backend": "tensorflow",
                                       "precision": "float32"},
                           nfe_sweep={"nfe": [1, 4, 16], "samples": 2000,
                                      "metrics": {"fid": [300.0, 60.0 + seed, 40.0 + seed],
                                                  "recall": [0.1, 0.6, None],
                                                  "modes_covered": [4.0, 10.0, 10.0]}})
            for seed in (0, 1)]
    out["runs"] += flow
    out["config"]["models"] = [*out["config"]["models"], "flow"]
    return schema.validate(out)


def test_the_report_shows_sampling_cost_where_measured_and_nothing_new_where_not(tmp_path):
    old = make_results()
    text = render(old)
    assert "## Sampling cost" not in text and "Sampling images/s" not in text
    assert plots.nfe_curves(old, tmp_path / "none.png") is None
    new = with_sampling(old)
    text = render(new)
    summary = _section(text, "Summary")
    cost = summary[summary.index("Cost:"):]
    assert _row(cost, "flow")[2:] == ["150 ± 0", "40.0 ± 0", "16"]  # mean ± std over seeds
    assert _row(cost, "dcgan")[3:] == ["5,000 ± 0.71", "1"]
    tput = _section(text, "Throughput")
    assert _row(tput, "flow")[_column(tput, "NFE")] == "16"
    sweep = _section(text, "Sampling cost")
    assert "FID ↓ at each NFE" in sweep and "dcgan" not in sweep
    # FID at NFE 4 over seeds 0 and 1 (60, 61); recall at 16 measured by none: no column
    fid_table = sweep[sweep.index("FID ↓ at each NFE"):sweep.index("Recall")]
    assert _row(fid_table, "flow")[1:] == ["300 ± 0", "60.5 ± 0.71", "40.5 ± 0.71"]
    recall = sweep[sweep.index("Recall"):sweep.index("Modes")]
    assert _row(recall, "Model")[1:] == ["NFE 1", "NFE 4"]
    assert records.nfe_sweeps(new)["flow"]["modes_covered"][16].mean == 10.0
    assert plots.nfe_curves(new, tmp_path / "nfe.png").stat().st_size > 0


def test_the_console_summary_gains_sampling_columns_when_measured():
    from benchmarks.console import Console

    console = Console()
    console.rich = RichConsole(width=240, file=io.StringIO(), record=True, color_system=None)
    console.summary(with_sampling(make_results()), "report.md")
    lines = console.rich.export_text().splitlines()
    header = next(line for line in lines if "FID↓" in line).split()
    assert header[-4:] == ["img/s", "sample", "img/s", "NFE"]  # "sample img/s" split
    flow = next(line for line in lines if line.split()[:1] == ["flow"]).split()
    assert flow[-3:] == ["150", "40", "16"]


def test_sample_at_draws_the_exported_samplers_images_at_another_nfe():
    import keras

    nfe, cls = 2, models.get("flow")
    model = cls(cls.Config(nfe=1), SHAPE)
    drawn = model.sample_at(3, seed=5, nfe=nfe)
    noise = np.random.default_rng(5).standard_normal((3, *SHAPE)).astype(np.float32)
    direct = np.clip(keras.ops.convert_to_numpy(model.sampler(nfe)(noise)), -1, 1)
    np.testing.assert_allclose(drawn, direct, atol=1e-5 * nfe)
    assert not np.allclose(drawn, model.sample(3, seed=5))  # nfe 1: another image
