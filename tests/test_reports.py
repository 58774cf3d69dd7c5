"""The report: record queries, number formatting and the Markdown report.

The record is built through reports.schema (new_results, new_run) with the metric table a real
run wrote (tests/fixtures/v1-digits): dcgan and ae with two finished seeds each, gan with one
finished seed and one that diverged at step 1,234, and the real-data floor.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import reports
from reports import images, plots, records, schema
from reports.format import cell, fmt
from reports.markdown import render
from tests.conftest import V1_DIGITS

SECTIONS = ["Verdict", "Summary", "Mode collapse", "Diversity and fidelity", "Throughput",
            "Samples", "Curves", "All metrics", "Notes"]
FIXTURE = V1_DIGITS / "results.json"
STEPS = 1500


def _hist(covered: int, rng) -> list[float]:
    h = np.zeros(10)
    h[:covered] = rng.uniform(0.8, 1.2, covered)
    return list(np.round(h / h.sum(), 4))


def _run(model, seed, fid, kid, modes, kl, prec, rec, cov, rng, status="finished",
         diverged_at=None, extra=None):
    # ndb is the share of 100 k-means cells that differ (metrics.info): a fraction, not a count
    final = {"fid": fid, "kid": kid, "modes_covered": modes, "kl_classes": kl,
             "ndb": round(0.03 * (12 - modes), 2), "precision": prec, "recall": rec,
             "coverage": cov, "pairwise_distance_ratio": 0.9,
             "class_histogram": _hist(modes, rng), **(extra or {})}
    stop = diverged_at or STEPS
    eval_steps = [s for s in (500, 1000, 1500) if s <= stop]
    loss_steps = list(range(1, stop + 1))
    names = ["reconstruction"] if model == "ae" else ["generator", "discriminator"]
    losses = {"step": loss_steps}
    for i, name in enumerate(names):
        losses[name] = list(1.0 + i + 0.3 * rng.standard_normal(len(loss_steps)))
    return schema.new_run(
        model, seed, status=status,
        params={"generator": 2330944, "discriminator": 212865, "total": 2543809},
        model_config={"lr": 0.0002}, steps_done=stop, diverged_at=diverged_at,
        final=final, best={"step": eval_steps[-1], "metrics": {**final, "fid": fid * 0.9}},
        curves={"step": eval_steps, "fid": [fid * 3, fid * 1.5, fid][:len(eval_steps)],
                "modes_covered": [modes] * len(eval_steps),
                "kl_classes": [kl * 2, kl * 1.5, kl][:len(eval_steps)]},
        losses=losses,
        throughput={"images_per_s": 300.0 + 10 * seed + (50 if model == "gan" else 0),
                    "step_ms_median": 205.0, "step_ms_p90": 230.0, "compile_s": 4.2,
                    "peak_memory_mb": 1800.0, "batch_size": 64, "backend": "tensorflow",
                    "precision": "float32"},
        figures={"samples_final": f"figures/{model}-s{seed}-final.png",
                 "samples_best": f"figures/{model}-s{seed}-best.png",
                 "progression_strip": f"figures/{model}-s{seed}-progression.png",
                 "progression_gif": f"figures/{model}-s{seed}-progression.gif"},
        weights=f"weights/{model}-s{seed}",
    )


def make_results() -> dict:
    rng = np.random.default_rng(0)
    results = schema.new_results(
        command="python -m benchmarks run --models dcgan,gan,ae --seeds 2",
        config={"models": ["dcgan", "gan", "ae"], "dataset": "mnist", "preset": "quick",
                "steps": STEPS, "batch_size": 64, "seeds": 2, "eval_every": 500,
                "eval_samples": 2000, "samples": 10000, "backend": "tensorflow",
                "precision": "float32", "overrides": {"dcgan": {"lr": 0.0002}}},
        environment={"backend": "tensorflow", "device": "CPU (2 cores)", "python": "3.11.7",
                     "platform": "Linux-6.1-x86_64",
                     "versions": {"keras": "3.15.1", "tensorflow": "2.21.0",
                                  "numpy": "2.4.6", "jax": None, "genbench": "0.1.0"}},
        dataset={"name": "mnist", "source": "/data/mnist", "note": None,
                 "train_size": 60000, "test_size": 10000,
                 "class_names": [str(i) for i in range(10)], "image_shape": [28, 28, 1]})
    # the metric table as a real run wrote it (labels, descriptions, directions), migrated
    written = schema.validate(json.loads(FIXTURE.read_text(encoding="utf-8")))
    results.update(
        started="2026-11-22T21:50:00", finished="2026-11-22T22:41:30", status="complete",
        classifier={"test_accuracy": 0.9921, "gate": 0.99, "train_seconds": 0.0},
        metrics=written["metrics"],
        floor={"fid": 0.8, "kid": 0.0001, "modes_covered": 10, "kl_classes": 0.001,
               "ndb": 0.02, "precision": 0.78, "recall": 0.77, "coverage": 0.95,
               "pairwise_distance_ratio": 1.0, "class_histogram": [0.1] * 10},
        runs=[
            # FID 10 and 14: mean 12, sample std sqrt(((10-12)^2 + (14-12)^2) / 1) = 2.83
            _run("dcgan", 0, 10.0, 0.010, 10, 0.02, 0.70, 0.50, 0.80, rng),
            _run("dcgan", 1, 14.0, 0.014, 10, 0.04, 0.74, 0.54, 0.84, rng),
            # gan: best precision (0.82), dropped modes (8 and 7 -> 7.5), seed 1 diverged
            _run("gan", 0, 40.0, 0.040, 8, 0.30, 0.80, 0.20, 0.40, rng),
            _run("gan", 1, 50.0, 0.050, 7, 0.50, 0.84, 0.10, 0.30, rng, status="diverged",
                 diverged_at=1234),
            # ae: best recall (0.9 and 0.92 -> 0.91), worst FID, has recon_psnr
            _run("ae", 0, 60.0, 0.060, 10, 0.05, 0.40, 0.90, 0.60, rng,
                 extra={"recon_psnr": 18.0}),
            _run("ae", 1, 64.0, 0.064, 10, 0.07, 0.42, 0.92, 0.62, rng,
                 extra={"recon_psnr": 18.5}),
        ],
        notes=["resumed from runs/2026-11-22-mnist after a restart"])
    return schema.validate(results)


@pytest.fixture
def results() -> dict:
    return make_results()


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    nxt = text.find("\n## ", start + 1)
    return text[start:] if nxt < 0 else text[start:nxt]


def _row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def _column(table_text: str, header: str) -> int:
    for line in table_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and header in cells:
            return cells.index(header)
    raise AssertionError(f"no column {header!r}")


# ---- records -------------------------------------------------------------------------

def test_aggregate_mean_and_sample_std(results):
    agg = records.aggregate(results)
    assert agg["dcgan"]["fid"] == pytest.approx((12.0, math.sqrt(8.0), 2))
    assert agg["gan"]["modes_covered"] == pytest.approx((7.5, math.sqrt(0.5), 2))
    assert "class_histogram" not in agg["dcgan"]
    assert agg["ae"]["recon_psnr"] == pytest.approx((18.25, math.sqrt(0.125), 2))
    best = records.aggregate(results, "best")
    assert best["dcgan"]["fid"] == pytest.approx((10.8, 0.9 * math.sqrt(8.0), 2))
    assert records.aggregate_best_step(results)["gan"] == pytest.approx((1250.0, 250 * 2**.5, 2))


def test_aggregate_single_seed_has_zero_std_and_skips_interrupted(results):
    results["runs"][1]["status"] = "interrupted"
    del results["runs"][1]["final"]
    assert records.aggregate(results)["dcgan"]["fid"] == (10.0, 0.0, 1)
    results["runs"] = [r for r in results["runs"] if r["model"] != "ae"]
    assert records.aggregate(results)["ae"] == {}  # listed in config, no runs


def test_aggregate_throughput_by_model_and_backend(results):
    tput = records.aggregate_throughput(results)
    assert set(tput) == {("dcgan", "tensorflow"), ("gan", "tensorflow"), ("ae", "tensorflow")}
    assert tput[("gan", "tensorflow")]["images_per_s"] == pytest.approx((355.0, 10 / 2**.5, 2))


def test_runs_by_model_keeps_config_order(results):
    grouped = records.runs_by_model(results)
    assert list(grouped) == ["dcgan", "gan", "ae"]
    assert [r["seed"] for r in grouped["gan"]] == [0, 1]


def test_a_report_does_not_depend_on_the_order_its_runs_finished(results):
    # with several workers results.json lists runs as they finish; a bootstrap interval
    # resamples by position, so the same seeds listed in another order must render the same
    # report (before runs were put in seed order, these ten FIDs gave 27.1 [17.3, 52.0] in
    # seed order and 27.1 [17.6, 49.6] in the order below)
    rng = np.random.default_rng(1)
    fids = [10.0, 14.0, 44.0, 15.5, 31.0, 12.5, 90.0, 18.0, 11.0, 25.0]
    in_order = copy.deepcopy(results)
    in_order["runs"] = [_run("dcgan", seed, fid, fid / 1000, 10, 0.02, 0.70, 0.50, 0.80, rng)
                        for seed, fid in enumerate(fids)] + [
                        r for r in in_order["runs"] if r["model"] != "dcgan"]
    finished = copy.deepcopy(in_order)
    finished["runs"] = [finished["runs"][i] for i in (3, 1, 0, 2, 5, 4, 7, 6, 9, 8)] + \
        finished["runs"][10:]
    assert [r["seed"] for r in records.runs_by_model(finished)["dcgan"]] == list(range(10))
    summary = _section(render(finished), "Summary")
    assert _row(summary, "dcgan")[_column(summary, "FID ↓")] == "**27.1 [17.3, 52.0]**"
    assert render(finished) == render(in_order)


# ---- formatting ----------------------------------------------------------------------

@pytest.mark.parametrize("value, count, text", [
    (12.345, False, "12.3"), (0.012345, False, "0.0123"), (1234.5, False, "1,234"),
    (2543809, False, "2,543,809"), (10.0, True, "10"), (10.0, False, "10.0"),
    (7.5, True, "7.5"), (None, False, "—"), (float("inf"), False, "∞"),
    (0.00001234, False, "1.23e-05"), (9.9996, False, "10.0"),
])
def test_fmt(value, count, text):
    assert fmt(value, count) == text


def test_cell_mean_std():
    assert cell(records.mean_std([10.0, 14.0])) == "12.0 ± 2.8"
    assert cell(records.mean_std([10.0])) == "10.0"
    assert cell(records.mean_std([10.0]), count=True) == "10"
    assert cell(None) == "—"


# ---- the report ----------------------------------------------------------------------

def test_sections_in_order(results):
    text = render(results)
    positions = [text.index(f"\n## {s}\n") for s in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Generative model benchmark: mnist\n")
    for fact in ("tensorflow on CPU (2 cores)", "keras 3.15.1", "preset **quick**",
                 "`python -m benchmarks run --models dcgan,gan,ae --seeds 2`",
                 "2026-11-22 21:50 → 22:41 (51m 30s)", "/data/mnist"):
        assert fact in text.split("## Verdict")[0]


def test_summary_bolds_best_per_column(results):
    summary = _section(render(results), "Summary")
    fid, prec, rec = (_column(summary, h) for h in ("FID ↓", "Precision ↑", "Recall ↑"))
    dcgan, gan, ae = _row(summary, "dcgan"), _row(summary, "gan †"), _row(summary, "ae")
    # lower is better; two seeds 10 and 14: the percentile bootstrap of their mean spans both
    assert dcgan[fid] == "**12.0 [10.0, 14.0]**"
    assert gan[fid] == "45.0 [40.0, 50.0]" and ae[fid] == "62.0 [60.0, 64.0]"
    assert gan[prec] == "**0.820 [0.800, 0.840]**"  # higher is better
    assert dcgan[prec] == "0.720 [0.700, 0.740]"
    assert ae[rec] == "**0.910 [0.900, 0.920]**"
    assert gan[_column(summary, "Modes covered ↑")] == "7.5 [7, 8]"
    assert dcgan[_column(summary, "Modes covered ↑")] == "**10 [10, 10]**"  # ties are all bold
    assert ae[_column(summary, "Modes covered ↑")] == "**10 [10, 10]**"
    floor = _row(summary, "*real data (floor)*")
    assert floor[fid] == "*0.800*" and floor[prec] == "*0.780*"  # better than all: never bold
    assert not any(c.startswith("**") for c in floor)


def test_verdict_names_best_and_collapse(results):
    verdict = _section(render(results), "Verdict")
    assert "dcgan has the best mean FID (12.0 [10.0, 14.0]; real data scores 0.800)" in verdict
    assert "ahead of gan (45.0 [40.0, 50.0]) and ae (62.0 [60.0, 64.0])" in verdict
    # Welch at 2 seeds (df 1.3) cannot tell 10, 14 from 40, 50: no winner is named
    assert "dcgan and gan are not distinguishable at 2 seeds" in verdict
    assert "**dcgan**" not in verdict
    assert "Mode collapse: gan covers 7.5 of 10 classes (mean of 2 seeds)" in verdict
    assert "gan diverged in 1 of 2 seeds (at step 1,234)" in verdict


def test_best_models_needs_something_to_beat():
    stat = records.mean_std
    assert records.best_models({"a": stat([1.0]), "b": stat([1.0])}, "lower") == set()
    assert records.best_models({"a": stat([1.0])}, "higher") == set()
    assert records.best_models({"a": stat([2.0]), "b": stat([float("nan")]),
                                 "c": stat([3.0])}, "higher") == {"c"}
    assert records.best_models({"a": stat([2.0]), "b": stat([1.0])}, None) == set()


def test_verdict_names_fastest(results):
    assert "Fastest to train: gan (355 ± 7.1 images/s on tensorflow)." in render(results)


def test_divergence_note_names_model_seed_step(results):
    notes = _section(render(results), "Notes")
    assert "- gan seed 1 diverged at step 1,234 of 1,500" in notes
    assert "Feature classifier test accuracy 99.21% (gate 99.00%: passes)" in notes
    assert "- resumed from runs/2026-11-22-mnist after a restart" in notes


def test_fallback_warning_at_top_only_when_noted(results):
    assert "WARNING" not in render(results)
    # as the runner writes it: the dataset trained on, and the one asked for
    results["config"].update(dataset="digits", dataset_requested="mnist")
    results["dataset"].update(name="digits", note="FELL BACK TO 'digits': mnist was not found "
                              "(tried: /data/mnist)")
    text = render(results)
    head = text.split("\n")[:4]
    assert head[0] == "# Generative model benchmark: digits"
    assert head[2].startswith("> **WARNING — dataset fallback.** FELL BACK TO 'digits'")
    assert "not mnist" in head[3]


def test_interrupted_run_without_final_renders(results):
    results["status"] = "interrupted"
    results["finished"] = None
    ae1 = results["runs"][5]
    ae1.update(status="interrupted", steps_done=700)
    for key in ("final", "best", "throughput"):
        del ae1[key]
    text = render(results)
    assert "> **WARNING — INTERRUPTED RUN.** Only 5 of 6 planned" in text
    assert "(not finished)" in text
    assert _row(_section(text, "Summary"), "ae")[1] == "1 of 2"
    assert _row(_section(text, "Summary"), "ae")[_column(_section(text, "Summary"),
                                                         "FID ↓")] == "60.0"
    assert "- ae seed 1 is interrupted after 700 of 1,500 steps; it has no final metrics." \
        in _section(text, "Notes")


def test_zero_runs_and_missing_metrics_render(results):
    empty = copy.deepcopy(results)
    empty["runs"] = []
    text = render(empty)
    assert "No model has final metrics" in _section(text, "Verdict")
    assert "_No run measured throughput._" in text
    sparse = copy.deepcopy(results)
    for run in sparse["runs"]:
        run["final"] = {"fid": run["final"]["fid"]}
        run.pop("curves")
    sparse["floor"] = {}
    text = render(sparse)
    assert "KID" not in _section(text, "Summary")
    assert "_No model has these metrics in this run._" in _section(text, "Diversity and fidelity")


def test_target_direction_bolds_closest_to_one(results):
    results["runs"][0]["final"]["pairwise_distance_ratio"] = 1.05
    results["runs"][1]["final"]["pairwise_distance_ratio"] = 1.03
    div = _section(render(results), "Diversity and fidelity")
    col = _column(div, "Diversity ratio →1")
    assert _row(div, "dcgan")[col] == "**1.04 [1.03, 1.05]**"
    assert _row(div, "ae")[col] == "0.900 [0.900, 0.900]"


def test_samples_only_link_existing_files(tmp_path, results):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "dcgan-s0-final.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "figures" / "dcgan-s0-progression.gif").write_bytes(b"GIF89a")
    samples = _section(render(results, tmp_path), "Samples")
    assert "](figures/dcgan-s0-final.png)" in samples
    assert "](figures/dcgan-s0-progression.gif)" in samples
    assert "dcgan-s0-best.png" not in samples and "figures/gan-s0" not in samples
    assert "figures/gan-s0-best.png" in render(results)  # no run_dir: assumed there


def test_render_run_bad_record_raises(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(schema.RecordError, match=r"results\.json: schema_version is missing"):
        reports.render_run(tmp_path)
    assert not (tmp_path / "report.md").exists()


def test_reports_does_not_import_the_pipeline():
    source = "".join(p.read_text() for p in Path(reports.__file__).parent.glob("*.py"))
    assert not re.search(r"^\s*(from|import)\s+(benchmarks|models|metrics)\b", source, re.M)


def test_render_survives_any_optional_key_missing_or_null(results):
    """Every optional key of the record and of a run, dropped or null, still renders."""
    cases = [(None, k) for k in results if k not in schema.Results.__required_keys__]
    cases += [(3, k) for k in results["runs"][3] if k not in schema.Run.__required_keys__]
    for run_index, key in cases:
        for how in ("drop", "null"):
            broken = copy.deepcopy(results)
            target = broken if run_index is None else broken["runs"][run_index]
            if how == "drop":
                del target[key]
            else:
                target[key] = None
            text = render(broken)
            assert all(f"\n## {s}\n" in text for s in SECTIONS), (key, how)


def test_minimal_record_renders_without_ranking():
    minimal = {"schema_version": 1, "status": "interrupted", "config": {}, "environment": {},
               "dataset": {}, "metrics": {},
               "runs": [{"model": "gan", "seed": 0, "status": "interrupted"},
                        {"model": "ae", "seed": 0, "status": "finished", "final": {"fid": 3}}]}
    text = render(schema.validate(minimal))
    assert "No metric says which direction is better" in text
    assert "- gan seed 0 is interrupted; it has no final metrics." in text
    assert "> **WARNING — INTERRUPTED RUN.** Only 1 of 2 planned" in text


def test_target_comes_from_the_record(results):
    """A "target" metric is ranked and labelled by its stored target, not a fixed 1."""
    results["metrics"]["pairwise_distance_ratio"]["target"] = 0.5
    results["runs"][0]["final"]["pairwise_distance_ratio"] = 0.55
    results["runs"][1]["final"]["pairwise_distance_ratio"] = 0.55
    text = render(results)
    div = _section(text, "Diversity and fidelity")
    col = _column(div, "Diversity ratio →0.5")
    assert _row(div, "dcgan")[col] == "**0.550 [0.550, 0.550]**"  # |0.55 - 0.5| beats |0.9 - 0.5|
    assert _row(div, "ae")[col] == "0.900 [0.900, 0.900]"
    assert "→0.5: closest to 0.5 is best" in div
    assert "| closer to 0.5 |" in _section(text, "All metrics")


def test_failed_run_is_noted_with_its_error(results):
    results["runs"][5] = schema.new_run("ae", 1, status="failed",
                                        error="worker died: exit code -9 (out of memory)")
    text = render(schema.validate(results))
    assert ("- ae seed 1 failed (worker died: exit code -9 (out of memory)); it has no "
            "metrics.") in _section(text, "Notes")
    assert _row(_section(text, "Summary"), "ae")[1] == "1 of 2"


def test_metric_stored_as_text_is_noted_not_silently_dashed(results):
    results["runs"][0]["final"]["fid"] = "10.0"
    text = render(schema.validate(results))
    assert ("- dcgan seed 0 final fid is stored as str '10.0', not a number; it is left out "
            "of the tables.") in _section(text, "Notes")
    assert _row(_section(text, "Summary"), "dcgan")[2] == "**14.0**"  # the other seed only
    assert "stored as" not in render(make_results())


def test_gate_source_and_averaged_weights_are_noted(results):
    results["classifier"]["gate_source"] = "--classifier-gate"
    for run in results["runs"][:2]:
        run["weights_scored"] = "ema"
    notes = _section(render(schema.validate(results)), "Notes")
    assert "test accuracy 99.21% (gate 99.00%: passes). The gate: --classifier-gate." in notes
    assert "- dcgan: seeds 0, 1 scored with the generator's moving-average (EMA) weights" \
        in notes
    assert "- gan: seed" not in notes and "- ae: seed" not in notes


# ---- plots of the record -------------------------------------------------------------

def test_plot_functions_skip_when_nothing_to_plot(tmp_path, results):
    results["runs"] = []
    assert plots.loss_curves(results, tmp_path / "l.png") is None
    assert plots.class_histograms(results, tmp_path / "h.png") is None
    assert not list(tmp_path.iterdir())


def test_seed_band_mean_std_and_short_seed():
    a = (np.array([0.0, 10.0, 20.0]), np.array([1.0, 3.0, 5.0]))
    b = (np.array([0.0, 10.0]), np.array([3.0, 5.0]))  # stopped early (diverged)
    grid, mean, std, count = plots._band([a, b])
    assert grid.tolist() == [0, 10, 20] and count.tolist() == [2, 2, 1]
    assert mean.tolist() == [2.0, 4.0, 5.0]
    assert std == pytest.approx([2**.5, 2**.5, 0.0])


def test_loss_curves_tolerate_nan_losses(tmp_path, results):
    gan1 = results["runs"][3]["losses"]
    gan1["generator"][-50:] = [float("nan")] * 50  # what divergence looks like
    path = plots.loss_curves(results, tmp_path / "losses.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 1000


def test_render_run_writes_report_and_figures(tmp_path, results):
    (tmp_path / "results.json").write_text(json.dumps(results))
    rng = np.random.default_rng(1)
    batch = rng.uniform(-1, 1, (8, 28, 28, 1))
    images.sample_grid(batch, tmp_path / "figures" / "dcgan-s0-final.png")
    path = reports.render_run(tmp_path)
    assert path == tmp_path / "report.md"
    text = path.read_text(encoding="utf-8")
    for name in ("class_histograms", "mode_curves", "fid_curves", "losses"):
        png = tmp_path / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f"](figures/{name}.png)" in text
    assert "](figures/dcgan-s0-final.png)" in text
    assert "dcgan-s0-best.png" not in text
    assert not list(tmp_path.glob(".*")) and not list(tmp_path.glob("figures/.*"))
    assert path.stat().st_mode & 0o777 == 0o644


def test_verdict_never_calls_a_model_that_only_diverged_fastest(results):
    assert "Fastest to train: gan" in _section(render(results), "Verdict")  # 350+ images/s
    for run in results["runs"]:
        if run["model"] == "gan":
            run.update(status="diverged", diverged_at=1234)
    verdict = _section(render(results), "Verdict")
    assert "Fastest to train: gan" not in verdict
    assert "Fastest to train: dcgan" in verdict  # ties ae at 300/310; dcgan is listed first


HOSTILE = "<img src=x onerror=alert(1)> | `x` [a](javascript:alert(1))"


def _html(markdown: str) -> str:
    """The report as a Markdown viewer shows it: CommonMark with GFM tables, raw HTML on, and
    every link target taken (markdown-it's own filter of javascript: links off)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    md.validateLink = lambda url: True
    return re.sub(r' style="[^"]*"', "", md.render(markdown))


def _hostile(results: dict) -> dict:
    """Every kind of string a record holds set to markup: a model name, a note, the dataset's
    name, source and a class name, the command line, a device, a preset, a metric's label and
    description, an error."""
    renamed = {"dcgan": HOSTILE}
    results["config"]["models"] = [renamed.get(m, m) for m in results["config"]["models"]]
    results["config"]["overrides"] = {HOSTILE: {"lr": "<b>x</b>"}}
    for run in results["runs"]:
        run["model"] = renamed.get(run["model"], run["model"])
        run["key"] = schema.run_key(run["model"], run["overrides"], run["seed"])
    results["runs"][3].update(status="failed", error="boom <script>alert(1)</script>")
    results["notes"] += ["see [here](javascript:alert(1)) or <javascript:alert(2)>",
                         "# a heading\n<iframe src=//evil></iframe>"]
    results["dataset"].update(name="mnist\n# injected\n<iframe src=//evil>",
                              source="/data/` <iframe> ``", note="fell back | <b>x</b>")
    results["dataset"]["class_names"][3] = "3|<i>3</i>"
    results["command"] = "python -m benchmarks score --name '```\n<iframe src=//evil>'"
    results["environment"]["device"] = "CPU <img src=y>"
    results["config"]["preset"] = "quick](javascript:alert(3))"
    results["metrics"]["fid"].update(label="FID <u>", description="<script>alert(4)</script>")
    return results


def test_record_strings_render_as_text_not_markup(results):
    html = _html(render(_hostile(results)))
    # nothing a record holds becomes a tag, a link, a heading or a new table cell: the only
    # images and links are the run's figures
    assert not re.findall(r"<(iframe|script|b|i|u)\b", html)
    targets = re.findall(r'<(?:img|a)\b[^>]*?(?:src|href)="([^"]*)"', html)
    assert len(targets) == len(re.findall(r"<(?:img|a)\b", html)) > 20
    assert all(t.startswith("figures/") for t in targets), targets
    assert html.count("<h1>") == 1 and "<h1>a heading" not in html
    assert "<h1>Generative model benchmark: mnist # injected &lt;iframe src=//evil&gt;</h1>" in html
    # each shown exactly as written, in its own cell
    shown = "&lt;img src=x onerror=alert(1)&gt; | `x` [a](javascript:alert(1))"
    assert f"<td>{shown}</td>" in html  # the summary's model cell
    assert f"<h3>{shown}</h3>" in html  # its samples
    assert "<th>3|&lt;i&gt;3&lt;/i&gt;</th>" in html  # a class name in the share table
    assert "<li>see [here](javascript:alert(1)) or &lt;javascript:alert(2)&gt;</li>" in html
    assert "<li># a heading &lt;iframe src=//evil&gt;&lt;/iframe&gt;</li>" in html
    assert ("<code>python -m benchmarks score --name '``` &lt;iframe src=//evil&gt;'</code>"
            in html)
    assert "<code>/data/` &lt;iframe&gt; ``</code>" in html
    assert "failed (boom &lt;script&gt;alert(1)&lt;/script&gt;)" in html
    assert "FID &lt;u&gt;" in html and "<td>&lt;script&gt;alert(4)&lt;/script&gt;</td>" in html
    assert "preset <strong>quick](javascript:alert(3))</strong>" in html


def test_figure_paths_outside_the_run_folder_are_not_linked(tmp_path, results):
    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "figures" / "link.png").symlink_to(tmp_path / "secret.png")
    (run / "figures" / "a#1 (x).png").write_bytes(b"\x89PNG\r\n\x1a\n")
    results["runs"][0]["figures"] = {
        "samples_final": "../secret.png", "samples_best": str(tmp_path / "secret.png"),
        "progression_strip": "figures/../../secret.png", "progression_gif": "figures/link.png"}
    results["runs"][2]["figures"] = {"samples_final": "figures/a#1 (x).png"}
    text = render(results, run)
    assert "secret" not in _section(text, "Samples") and "link.png" not in text
    assert "](figures/a%231%20%28x%29.png)" in text  # '#', ' ', '(' are part of the name
    notes = _section(text, "Notes")
    assert "dcgan/s0 names its samples_final '../secret.png', not a path inside the run " \
           "folder; it is not linked." in notes
    assert "progression_strip 'figures/../../secret.png'" in notes
    # without the folder to look in, the rule on the path itself still holds
    assert "secret" not in _section(render(results), "Samples")


def test_report_does_not_write_through_a_figures_link(tmp_path, results):
    from tests.clitools import assert_one_line_error, cli

    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    schema.write(run / "results.json", results)
    (run / "figures").symlink_to(elsewhere)
    assert_one_line_error(cli("report", run), f"{run / 'figures'} is a link",
                          "replace the link with a folder")
    assert not list(elsewhere.iterdir()) and not (run / "report.md").exists()


def test_a_mixture_report_counts_modes_not_classes():
    """Points drawn from a known mixture (ring: 8 components) cover modes; images, classes."""
    results = schema.new_results(
        command="python -m benchmarks run --dataset ring", environment={"backend": "tensorflow"},
        config={"models": ["gan", "pacgan"], "dataset": "ring", "preset": "quick", "seeds": 1},
        dataset={"name": "ring", "train_size": 100, "test_size": 100, "image_shape": [2],
                 "class_names": [f"({i}, 0)" for i in range(8)]})
    results.update(status="complete", metrics={"mixture_modes": schema.metric_info(
        "Modes (mixture)", "components holding a high-quality sample", "higher",
        section="mode_collapse", count=True, summary=1, verdict=1)}, runs=[
        schema.new_run("gan", 0, final={"mixture_modes": 7, "class_histogram": [0.125] * 8}),
        schema.new_run("pacgan", 0, final={"mixture_modes": 8,
                                           "class_histogram": [0.125] * 8})])
    text = render(schema.validate(results))
    assert "Mode collapse: gan covers 7 of 8 modes." in _section(text, "Verdict")
    assert "Share of samples per mode, % (uniform = 12.5):" in text
    results["runs"][0]["final"]["mixture_modes"] = 8
    assert "every model covers all 8 modes" in render(results)
    results["dataset"]["image_shape"] = [28, 28, 1]  # the same counts on images: classes
    assert "every model covers all 8 classes" in render(results)


def test_the_share_per_class_is_a_table_up_to_a_few_dozen_classes_not_for_1000():
    """Stacked MNIST's 1,000 triples: its modes and KL say it; a table of 1,000 columns (what
    a Table 3 report printed) is left out, as the histogram figure is."""
    from reports.tables import MAX_CLASSES_SHOWN

    def rendered(k: int) -> str:
        results = schema.new_results(
            command="python -m benchmarks run", environment={"backend": "tensorflow"},
            config={"models": ["gan"], "dataset": "stacked-mnist", "preset": "quick",
                    "seeds": 1},
            dataset={"name": "stacked-mnist", "train_size": 100, "test_size": 100,
                     "image_shape": [28, 28, 3], "class_names": [f"{i:03d}" for i in range(k)]})
        results.update(status="complete", metrics={"modes_1000": schema.metric_info(
            "Modes (of 1,000)", "distinct triples", "higher", section="mode_collapse",
            count=True, summary=1, verdict=1)}, runs=[
            schema.new_run("gan", 0, final={"modes_1000": 1,
                                            "class_histogram": [1.0] + [0.0] * (k - 1)})])
        return render(schema.validate(results))

    assert f"(uniform = {100 / MAX_CLASSES_SHOWN:.1f})" in rendered(MAX_CLASSES_SHOWN)
    text = rendered(1000)
    assert "Share of samples per" not in text and "| 999 |" not in text
    assert "Modes (of 1,000)" in _section(text, "Mode collapse")
