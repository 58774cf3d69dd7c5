"""The report package: record loading, the Markdown report and the figures.

The fixture is a realistic schema-1 record: dcgan and ae with two finished seeds each, gan
with one finished seed and one that diverged at step 1,234, and the real-data floor.
"""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest
from PIL import Image

import reports
from reports import figures, markdown, records

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ["Verdict", "Summary", "Mode collapse", "Diversity and fidelity", "Throughput",
            "Samples", "Curves", "All metrics", "Notes"]
METRICS = {
    "fid": ("FID", "Fréchet distance in classifier feature space", "lower"),
    "kid": ("KID", "Kernel inception distance (unbiased MMD²)", "lower"),
    "modes_covered": ("Modes", "Classes with at least a tenth of their expected share",
                      "higher"),
    "kl_classes": ("KL classes", "KL(generated class histogram ‖ uniform prior)", "lower"),
    "ndb": ("NDB", "Number of statistically different bins (of 50)", "lower"),
    "precision": ("Precision", "Share of samples inside the real manifold", "higher"),
    "recall": ("Recall", "Share of real data inside the generated manifold", "higher"),
    "coverage": ("Coverage", "Real neighbourhoods holding a sample", "higher"),
    "pairwise_distance_ratio": ("Pairwise ratio", "Mean pairwise distance vs real",
                                "target"),
    "recon_psnr": ("Recon PSNR", "Reconstruction PSNR on test images, dB", "higher"),
}
STEPS = 1500


def _hist(covered: int, rng) -> list[float]:
    h = np.zeros(10)
    h[:covered] = rng.uniform(0.8, 1.2, covered)
    return list(np.round(h / h.sum(), 4))


def _run(model, seed, fid, kid, modes, kl, prec, rec, cov, rng, status="finished",
         diverged_at=None, extra=None):
    final = {"fid": fid, "kid": kid, "modes_covered": modes, "kl_classes": kl, "ndb": 12 - modes,
             "precision": prec, "recall": rec, "coverage": cov, "pairwise_distance_ratio": 0.9,
             "class_histogram": _hist(modes, rng), **(extra or {})}
    stop = diverged_at or STEPS
    eval_steps = [s for s in (500, 1000, 1500) if s <= stop]
    loss_steps = list(range(1, stop + 1))
    names = ["reconstruction"] if model == "ae" else ["generator", "discriminator"]
    losses = {"step": loss_steps}
    for i, name in enumerate(names):
        losses[name] = list(1.0 + i + 0.3 * rng.standard_normal(len(loss_steps)))
    return {
        "model": model, "seed": seed, "status": status,
        "params": {"generator": 2330944, "discriminator": 212865, "total": 2543809},
        "model_config": {"lr": 0.0002}, "steps_done": stop, "diverged_at": diverged_at,
        "final": final,
        "best": {"step": eval_steps[-1], "metrics": {**final, "fid": fid * 0.9}},
        "curves": {"step": eval_steps, "fid": [fid * 3, fid * 1.5, fid][:len(eval_steps)],
                   "modes_covered": [modes] * len(eval_steps),
                   "kl_classes": [kl * 2, kl * 1.5, kl][:len(eval_steps)]},
        "losses": losses,
        "throughput": {"images_per_s": 300.0 + 10 * seed + (50 if model == "gan" else 0),
                       "step_ms_median": 205.0, "step_ms_p90": 230.0, "compile_s": 4.2,
                       "peak_memory_mb": 1800.0, "batch_size": 64, "backend": "tensorflow",
                       "precision": "float32"},
        "figures": {"samples_final": f"figures/{model}-s{seed}-final.png",
                    "samples_best": f"figures/{model}-s{seed}-best.png",
                    "progression_strip": f"figures/{model}-s{seed}-progression.png",
                    "progression_gif": f"figures/{model}-s{seed}-progression.gif"},
        "weights": f"weights/{model}-s{seed}",
    }


def make_results() -> dict:
    rng = np.random.default_rng(0)
    return {
        "schema_version": 1, "status": "complete",
        "started": "2026-11-22T21:50:00", "finished": "2026-11-22T22:41:30",
        "command": "python -m benchmarks run --models dcgan,gan,ae --seeds 2",
        "config": {"models": ["dcgan", "gan", "ae"], "dataset": "mnist", "preset": "quick",
                   "steps": STEPS, "batch_size": 64, "seeds": 2, "eval_every": 500,
                   "eval_samples": 2000, "samples": 10000, "backend": "tensorflow",
                   "precision": "float32", "overrides": {"dcgan": {"lr": 0.0002}}},
        "environment": {"backend": "tensorflow", "device": "CPU (2 cores)", "python": "3.11.7",
                        "platform": "Linux-6.1-x86_64",
                        "versions": {"keras": "3.15.1", "tensorflow": "2.21.0",
                                     "numpy": "2.4.6", "jax": None, "genbench": "0.1.0"}},
        "dataset": {"name": "mnist", "source": "/data/mnist", "note": None,
                    "train_size": 60000, "test_size": 10000,
                    "class_names": [str(i) for i in range(10)]},
        "classifier": {"test_accuracy": 0.9921, "gate": 0.99, "train_seconds": 0.0},
        "metrics": {k: {"label": lab, "description": d, "direction": dr}
                    for k, (lab, d, dr) in METRICS.items()},
        "floor": {"fid": 0.8, "kid": 0.0001, "modes_covered": 10, "kl_classes": 0.001,
                  "ndb": 2, "precision": 0.78, "recall": 0.77, "coverage": 0.95,
                  "pairwise_distance_ratio": 1.0, "class_histogram": [0.1] * 10},
        "runs": [
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
        "notes": ["resumed from runs/2026-11-22-mnist after a restart"],
    }


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


def test_load_round_trip_and_directory(tmp_path, results):
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert records.load(tmp_path)["runs"][3]["diverged_at"] == 1234


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(records.RecordError, match=r"nope.*results\.json.*no such file"):
        records.load(tmp_path / "nope" / "results.json")


def test_load_bad_json_says_so(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"schema_version": 1, "runs": [')
    with pytest.raises(records.RecordError, match=r"results\.json: not valid JSON.*re-run"):
        records.load(path)


def test_load_wrong_schema_version(tmp_path, results):
    results["schema_version"] = 2
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"results\.json: schema_version 2 is not supported"):
        records.load(path)


def test_validate_names_missing_keys(results):
    del results["runs"][2]["seed"]
    with pytest.raises(records.RecordError, match=r"runs\[2\] is missing keys: seed"):
        records.validate(results)
    del results["metrics"]
    with pytest.raises(records.RecordError, match="missing top-level keys: metrics"):
        records.validate(results)


# ---- formatting ----------------------------------------------------------------------

@pytest.mark.parametrize("value, key, text", [
    (12.345, "fid", "12.3"), (0.012345, "kid", "0.0123"), (1234.5, None, "1,234"),
    (2543809, None, "2,543,809"), (10, "modes_covered", "10"), (7.5, "modes_covered", "7.5"),
    (None, "fid", "—"), (float("inf"), "fid", "∞"), (0.00001234, "kid", "1.23e-05"),
    (9.9996, "fid", "10.0"),
])
def test_fmt(value, key, text):
    assert markdown.fmt(value, key) == text


def test_cell_mean_std():
    assert markdown.cell(records.mean_std([10.0, 14.0]), "fid") == "12.0 ± 2.8"
    assert markdown.cell(records.mean_std([10.0]), "fid") == "10.0"
    assert markdown.cell(None) == "—"


# ---- the report ----------------------------------------------------------------------

def test_sections_in_order(results):
    text = markdown.render(results)
    positions = [text.index(f"\n## {s}\n") for s in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Generative model benchmark: mnist\n")
    for fact in ("tensorflow on CPU (2 cores)", "keras 3.15.1", "preset **quick**",
                 "`python -m benchmarks run --models dcgan,gan,ae --seeds 2`",
                 "2026-11-22 21:50 → 22:41 (51m 30s)", "/data/mnist"):
        assert fact in text.split("## Verdict")[0]


def test_summary_bolds_best_per_column(results):
    summary = _section(markdown.render(results), "Summary")
    fid, prec, rec = (_column(summary, h) for h in ("FID ↓", "Precision ↑", "Recall ↑"))
    dcgan, gan, ae = _row(summary, "dcgan"), _row(summary, "gan †"), _row(summary, "ae")
    assert dcgan[fid] == "**12.0 ± 2.8**"  # lower is better
    assert gan[fid] == "45.0 ± 7.1" and ae[fid] == "62.0 ± 2.8"
    assert gan[prec] == "**0.820 ± 0.028**"  # higher is better
    assert dcgan[prec] == "0.720 ± 0.028"
    assert ae[rec] == "**0.910 ± 0.014**"
    assert gan[_column(summary, "Modes ↑")] == "7.5 ± 0.71"
    assert dcgan[_column(summary, "Modes ↑")] == "**10 ± 0**"  # ties are all bold
    assert ae[_column(summary, "Modes ↑")] == "**10 ± 0**"
    floor = _row(summary, "*real data (floor)*")
    assert floor[fid] == "*0.800*" and floor[prec] == "*0.780*"  # better than all: never bold
    assert not any(c.startswith("**") for c in floor)


def test_verdict_names_best_and_collapse(results):
    verdict = _section(markdown.render(results), "Verdict")
    assert "**dcgan** has the best FID (12.0 ± 2.8; real data scores 0.800)" in verdict
    assert "ahead of gan (45.0 ± 7.1) and ae (62.0 ± 2.8)" in verdict
    assert "Mode collapse: gan covers 7.5 of 10 classes (mean of 2 seeds)" in verdict
    assert "gan diverged in 1 of 2 seeds (at step 1,234)" in verdict


def test_best_models_needs_something_to_beat():
    stat = records.mean_std
    assert markdown.best_models({"a": stat([1.0]), "b": stat([1.0])}, "lower") == set()
    assert markdown.best_models({"a": stat([1.0])}, "higher") == set()
    assert markdown.best_models({"a": stat([2.0]), "b": stat([float("nan")]),
                                 "c": stat([3.0])}, "higher") == {"c"}
    assert markdown.best_models({"a": stat([2.0]), "b": stat([1.0])}, None) == set()


def test_verdict_names_fastest(results):
    assert "Fastest to train: gan (355 ± 7.1 images/s on tensorflow)." in markdown.render(results)


def test_divergence_note_names_model_seed_step(results):
    notes = _section(markdown.render(results), "Notes")
    assert "- gan seed 1 diverged at step 1,234 of 1,500" in notes
    assert "Feature classifier test accuracy 99.21% (gate 99.00%: passes)" in notes
    assert "- resumed from runs/2026-11-22-mnist after a restart" in notes


def test_fallback_warning_at_top_only_when_noted(results):
    assert "WARNING" not in markdown.render(results)
    # as the runner writes it: the dataset trained on, and the one asked for
    results["config"].update(dataset="digits", dataset_requested="mnist")
    results["dataset"].update(name="digits", note="FELL BACK TO 'digits': mnist was not found "
                              "(tried: /data/mnist)")
    text = markdown.render(results)
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
    text = markdown.render(results)
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
    text = markdown.render(empty)
    assert "No model has final metrics" in _section(text, "Verdict")
    assert "_No run measured throughput._" in text
    sparse = copy.deepcopy(results)
    for run in sparse["runs"]:
        run["final"] = {"fid": run["final"]["fid"]}
        run.pop("curves")
    sparse["floor"] = {}
    text = markdown.render(sparse)
    assert "KID" not in _section(text, "Summary")
    assert "_No model has these metrics in this run._" in _section(text, "Diversity and fidelity")


def test_target_direction_bolds_closest_to_one(results):
    results["runs"][0]["final"]["pairwise_distance_ratio"] = 1.05
    results["runs"][1]["final"]["pairwise_distance_ratio"] = 1.03
    div = _section(markdown.render(results), "Diversity and fidelity")
    col = _column(div, "Pairwise ratio →1")
    assert _row(div, "dcgan")[col] == "**1.04 ± 0.014**"
    assert _row(div, "ae")[col] == "0.900 ± 0"


def test_samples_only_link_existing_files(tmp_path, results):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "dcgan-s0-final.png").write_bytes(PNG_MAGIC)
    (tmp_path / "figures" / "dcgan-s0-progression.gif").write_bytes(b"GIF89a")
    samples = _section(markdown.render(results, tmp_path), "Samples")
    assert "](figures/dcgan-s0-final.png)" in samples
    assert "](figures/dcgan-s0-progression.gif)" in samples
    assert "dcgan-s0-best.png" not in samples and "figures/gan-s0" not in samples
    assert "figures/gan-s0-best.png" in markdown.render(results)  # no run_dir: assumed there


def test_render_run_writes_report_and_figures(tmp_path, results):
    (tmp_path / "results.json").write_text(json.dumps(results))
    rng = np.random.default_rng(1)
    batch = rng.uniform(-1, 1, (8, 28, 28, 1))
    figures.sample_grid(batch, tmp_path / "figures" / "dcgan-s0-final.png")
    path = reports.render_run(tmp_path)
    assert path == tmp_path / "report.md"
    text = path.read_text(encoding="utf-8")
    for name in ("class_histograms", "mode_curves", "fid_curves", "losses"):
        png = tmp_path / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
        assert f"](figures/{name}.png)" in text
    assert "](figures/dcgan-s0-final.png)" in text
    assert "dcgan-s0-best.png" not in text
    assert not list(tmp_path.glob(".report.*")) and not list(tmp_path.glob("figures/.*"))


def test_render_run_bad_record_raises(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(records.RecordError, match="schema_version None is not supported"):
        reports.render_run(tmp_path)
    assert not (tmp_path / "report.md").exists()


def test_reports_does_not_import_the_pipeline():
    import pathlib

    source = "".join(p.read_text() for p in pathlib.Path(reports.__file__).parent.glob("*.py"))
    assert not re.search(r"^\s*(from|import)\s+(benchmarks|models|metrics)\b", source, re.M)


# ---- figures -------------------------------------------------------------------------

def test_sample_grid_pixel_size(tmp_path):
    images = np.linspace(-1, 1, 10 * 28 * 28).reshape(10, 28, 28, 1)
    path = figures.sample_grid(images, tmp_path / "g.png", ncols=4)
    with Image.open(path) as img:
        s, p = figures.SCALE, figures.PAD
        assert img.mode == "L"
        assert img.size == (4 * 28 * s + 5 * p, 3 * 28 * s + 4 * p)  # 10 images -> 3 rows
        px = np.asarray(img)
    assert px[p, p] == 0  # -1 -> black
    last = (p + 2 * (28 * s + p) + 28 * s - 1, p + 1 * (28 * s + p) + 28 * s - 1)  # image 9
    assert px[last] == 255  # +1 -> white
    assert px[-1, -1] == figures.PAD_VALUE  # two empty cells in the last row


def test_progression_gif_frames(tmp_path):
    rng = np.random.default_rng(2)
    frames = [(step, rng.uniform(-1, 1, (8, 28, 28, 1))) for step in (0, 500, 1000, 1500)]
    path = figures.progression_gif(frames, tmp_path / "p.gif", duration_ms=200)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
        assert gif.size[0] == 8 * 28 * figures.SCALE + 9 * figures.PAD
        assert gif.info["duration"] == 200
        gif.seek(3)
        assert gif.info["duration"] == 800  # the last frame is held


def test_progression_strip_one_row_per_step(tmp_path):
    rng = np.random.default_rng(3)
    frames = [(step, rng.uniform(-1, 1, (8, 28, 28, 1))) for step in (500, 1000, 1500)]
    path = figures.progression_strip(frames, tmp_path / "s.png")
    with Image.open(path) as img:
        row = 28 * figures.SCALE + 2 * figures.PAD
        assert img.format == "PNG" and img.size[1] == 3 * row
        assert img.size[0] > 8 * 28 * figures.SCALE


def test_plot_functions_skip_when_nothing_to_plot(tmp_path, results):
    results["runs"] = []
    assert figures.loss_curves(results, tmp_path / "l.png") is None
    assert figures.class_histograms(results, tmp_path / "h.png") is None
    assert not list(tmp_path.iterdir())


def test_render_survives_any_optional_key_missing_or_null(results):
    """Every optional key of the record and of a run, dropped or null, still renders."""
    cases = [(None, k) for k in results if k not in records.REQUIRED_KEYS]
    cases += [(3, k) for k in results["runs"][3] if k not in records.RUN_KEYS]
    for run_index, key in cases:
        for how in ("drop", "null"):
            broken = copy.deepcopy(results)
            target = broken if run_index is None else broken["runs"][run_index]
            if how == "drop":
                del target[key]
            else:
                target[key] = None
            text = markdown.render(broken)
            assert all(f"\n## {s}\n" in text for s in SECTIONS), (key, how)


def test_minimal_record_renders_without_ranking():
    minimal = {"schema_version": 1, "status": "partial", "config": {}, "environment": {},
               "dataset": {}, "metrics": {},
               "runs": [{"model": "gan", "seed": 0, "status": "interrupted"},
                        {"model": "ae", "seed": 0, "status": "finished", "final": {"fid": 3}}]}
    text = markdown.render(records.validate(minimal))
    assert "No metric says which direction is better" in text
    assert "- gan seed 0 is interrupted; it has no final metrics." in text
    assert "> **WARNING — PARTIAL RUN.** Only 1 of 2 planned" in text


def test_seed_band_mean_std_and_short_seed():
    a = (np.array([0.0, 10.0, 20.0]), np.array([1.0, 3.0, 5.0]))
    b = (np.array([0.0, 10.0]), np.array([3.0, 5.0]))  # stopped early (diverged)
    grid, mean, std, count = figures._band([a, b])
    assert grid.tolist() == [0, 10, 20] and count.tolist() == [2, 2, 1]
    assert mean.tolist() == [2.0, 4.0, 5.0]
    assert std == pytest.approx([2**.5, 2**.5, 0.0])


def test_loss_curves_tolerate_nan_losses(tmp_path, results):
    gan1 = results["runs"][3]["losses"]
    gan1["generator"][-50:] = [float("nan")] * 50  # what divergence looks like
    path = figures.loss_curves(results, tmp_path / "losses.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 1000
