"""The papers' published rows (issue 27 item 3): the figures a preset's table carries
(benchmarks/published.py), written into results.json by the runner and set under our rows of
the report's Mode collapse table with the paper's 95% interval, our difference and the verdict.

Hand-computed endpoints: t(0.975, 9) = 2.2622, so the ring's GAN modes 6.3 ± 0.5 s.e. over 10
runs is 6.3 ± 1.1311 = [5.1689, 7.4311] (a normal 1.96 would give [5.32, 7.28]); PacGAN2's
7.9 ± 0.1 is [7.6738, 8.1262].
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import published, runner
from benchmarks.config import PRESETS, RunConfig
from metrics.info import METRICS
from reports import published as report_rows
from reports import schema, stats
from reports.markdown import render

MIXTURE_KEYS = ("mixture_modes", "high_quality", "reverse_kl")
NOTE = ("*Published* rows: Lin et al. 2018 (PacGAN), Table 1 (mean ± s.e. over 10 runs), "
        "each figure as the paper's mean [95% interval: mean ± t(0.975, runs − 1) × s.e.] · our "
        "mean − the paper's · whether our mean lies inside that interval.")


def ring_record(finals: dict[int, list[dict]], rows=None) -> dict:
    """A mixture run on the ring, gan swept over pack (pack -> one final per seed), carrying
    the rows the mixture preset's table has for the ring."""
    results = schema.new_results(
        command="python -m benchmarks run --dataset ring --models gan --preset mixture "
                "--sweep gan.pack=1,2", environment={"backend": "tensorflow"},
        config={"models": ["gan"], "dataset": "ring", "preset": "mixture", "seeds": 2,
                "sweep": {"gan": {"pack": sorted(finals)}}},
        dataset={"name": "ring", "train_size": 100000, "test_size": 10000, "image_shape": [2],
                 "class_names": [f"mode {i}" for i in range(8)]})
    metrics = {k: schema.metric_info(METRICS[k].label, METRICS[k].description,
                                     METRICS[k].direction, section="mode_collapse",
                                     count=METRICS[k].count) for k in MIXTURE_KEYS}
    runs = [schema.new_run("gan", seed, overrides={"pack": pack},
                           model_config={"pack": pack, "noise_dim": 2}, final=final)
            for pack, seeds in finals.items() for seed, final in enumerate(seeds)]
    results.update(status="complete", metrics=metrics, runs=runs,
                   published=published.for_run("mixture", "ring") if rows is None else rows)
    return schema.validate(results)


def final(modes: float, hq: float, kl: float) -> dict:
    return {"mixture_modes": modes, "high_quality": hq, "reverse_kl": kl}


def mode_collapse(results: dict) -> list[str]:
    text = render(results)
    section = text[text.index("## Mode collapse"):]
    return section[:section.index("\n## ", 3)].splitlines()


def test_the_mixture_presets_rows_render_under_ours_with_difference_and_verdict():
    results = ring_record({1: [final(6, 0.80, 0.30), final(7, 0.90, 0.20)],
                           2: [final(8, 0.95, 0.10), final(8, 0.96, 0.05)]})
    lines = mode_collapse(results)
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[2].startswith("| gan\\[pack=1\\] | 2 | 6.5 [6, 7] |")
    assert rows[3] == ("| *GAN, published* | 10 | 6.3 [5.17, 7.43] · +0.2 · inside "
                       "| 0.982 [0.977, 0.987] · −0.132 · outside "
                       "| 0.450 [0.246, 0.654] · −0.200 · inside |")
    assert rows[4].startswith("| gan\\[pack=2\\] | 2 |")
    assert rows[5] == ("| *PacGAN2, published* | 10 | 7.9 [7.67, 8.13] · +0.1 · inside "
                       "| 0.956 [0.911, 1.00] · −0.00100 · inside "
                       "| 0.0700 [0.00214, 0.138] · +0.00500 · inside |")
    assert len(rows) == 6  # PacGAN3 and PacGAN4 sit beside no row of this run
    assert NOTE in lines


@pytest.mark.parametrize("ours, verdict", [
    (7.43, "inside"), (7.44, "outside"),  # the upper end, 6.3 + 1.1311
    (5.17, "inside"), (5.16, "outside"),  # the lower end, 6.3 - 1.1311
    (7.35, "inside"), (5.25, "inside"),   # outside a normal (1.96) interval, inside t's
])
def test_the_verdict_flips_when_our_mean_leaves_the_published_interval(ours, verdict):
    results = ring_record({1: [final(ours, 0.98, 0.45)]})
    (row,) = [line for line in mode_collapse(results) if line.startswith("| *GAN, published*")]
    paper, difference, said = row.split(" | ")[2].split(" · ")
    assert paper == "6.3 [5.17, 7.43]" and said == verdict
    assert difference == ("+" if ours > 6.3 else "−") + f"{abs(ours - 6.3):.3g}"


def test_the_interval_is_built_from_the_standard_error_with_t():
    low, high = stats.published_interval(6.3, 0.5, "s.e.", 10)
    assert (low, high) == pytest.approx((6.3 - 1.131079, 6.3 + 1.131079), abs=1e-6)
    # a standard deviation over runs is the standard error times sqrt(runs)
    assert stats.published_interval(6.3, 0.5 * math.sqrt(10), "s.d.", 10) == pytest.approx(
        (low, high))
    assert stats.published_interval(99.0, None, None, 10) is None
    assert stats.published_interval(6.3, 0.5, "s.e.", 1) is None


def test_a_figure_without_a_spread_has_no_interval():
    rows = published.for_run("mixture", "ring")[:1]
    rows[0]["metrics"]["mixture_modes"].update(spread=None, spread_kind=None)
    results = ring_record({1: [final(7, 0.98, 0.45)]}, rows=rows)
    (row,) = [line for line in mode_collapse(results) if line.startswith("| *GAN, published*")]
    assert row.split(" | ")[2] == "6.3 · +0.7 · no interval published"


def test_the_mixture_preset_on_the_ring_with_pack_2_gets_pacgan2s_row():
    rows = {row["label"]: row for row in published.for_run("mixture", "ring")}
    assert list(rows) == ["GAN", "PacGAN2", "PacGAN3", "PacGAN4"]
    assert rows["PacGAN2"]["model"] == "gan" and rows["PacGAN2"]["settings"] == {"pack": 2}
    assert rows["PacGAN2"]["metrics"] == {
        "mixture_modes": {"mean": 7.9, "spread": 0.1, "spread_kind": "s.e.", "runs": 10},
        "high_quality": {"mean": 0.956, "spread": 0.02, "spread_kind": "s.e.", "runs": 10},
        "reverse_kl": {"mean": 0.07, "spread": 0.03, "spread_kind": "s.e.", "runs": 10}}
    # the report picks the row by the runs' settings: pack 2 gets PacGAN2's, and only it
    results = ring_record({2: [final(8, 0.95, 0.1)]})
    assert [r["label"] for r in report_rows.matching(results, results["runs"])] == ["PacGAN2"]
    assert published.for_run("pacgan-2d", "grid")[0]["metrics"]["mixture_modes"]["mean"] == 17.3


@pytest.mark.parametrize("preset, dataset", [
    ("smoke", "ring"), ("quick", "mnist"), ("mixture", "mnist"), ("pacgan-stacked", "ring")])
def test_a_preset_or_dataset_without_a_table_gets_no_rows(preset, dataset):
    assert published.for_run(preset, dataset) == []


def test_table_3s_rows_are_picked_by_pack_and_discriminator_size():
    rows = published.for_run("pacgan-table3-cpu", "stacked-mnist")
    picked = {(r["settings"]["pack"], r["settings"]["d_filters"]): r for r in rows}
    assert len(rows) == len(picked) == 8 and {r["model"] for r in rows} == {"metz"}
    assert picked[1, 2]["metrics"]["modes_1000"]["mean"] == 78.5  # DCGAN, D = 0.25 G
    assert picked[1, 4]["metrics"]["modes_1000"]["mean"] == 487.7  # DCGAN, D = 0.5 G
    assert picked[2, 4]["metrics"]["kl_triples"] == {"mean": 1.0, "spread": 0.05,
                                                      "spread_kind": "s.e.", "runs": 50}
    table2 = published.for_run("pacgan-stacked", "stacked-mnist")
    assert table2[0]["label"] == "DCGAN" and table2[0]["metrics"]["modes_1000"]["mean"] == 78.9


def test_every_table_names_metrics_that_exist_and_every_preset_a_table_that_does():
    for preset in PRESETS.values():
        assert preset.reproduces is None or preset.reproduces in published.TABLES
    for table in published.TABLES.values():
        for rows in table.rows.values():
            for row in rows:
                assert set(row.figures) <= set(METRICS), row.label
                assert all(f.kind in ("s.e.", "s.d.", None) and f.runs > 1
                           for f in row.figures.values())


def test_the_runner_writes_the_rows_its_preset_reproduces_into_results_json():
    ds = SimpleNamespace(name="ring", source="generated", note=None, request="ring",
                         image_shape=(2,), x_train=np.zeros((4, 2)), x_test=np.zeros((2, 2)),
                         class_names=("a", "b"))
    cfg = RunConfig(models=("gan",), dataset="ring", data_dir=None, backend="tensorflow",
                    preset="mixture", steps=200, batch_size=100, seeds=2, eval_every=100,
                    eval_samples=2500, samples=2500, out=None)
    record = runner.new_results(cfg, ds)
    assert record["published"] == published.for_run("mixture", "ring")
    schema.validate(record)
    smoke = runner.new_results(dataclasses.replace(cfg, preset="smoke"), ds)
    assert "published" not in smoke  # a record without a table is as before


def test_a_bad_published_row_is_named_and_an_old_record_needs_none():
    results = ring_record({1: [final(7, 0.98, 0.45)]})
    results["published"][0]["metrics"]["mixture_modes"]["spread_kind"] = "sd"
    with pytest.raises(schema.RecordError, match=r"published\[0\]\.metrics\.mixture_modes"
                                                 r"\.spread_kind must be one of"):
        schema.validate(results)
    del results["published"]
    assert "published" not in " ".join(mode_collapse(schema.validate(results)))


def test_compare_keeps_each_runs_published_rows_beside_its_renamed_models(tmp_path):
    from benchmarks import compare

    a = ring_record({1: [final(7, 0.98, 0.45)]})
    b = ring_record({2: [final(8, 0.95, 0.10)]})
    del b["published"]  # a run whose preset reproduces no table
    merged = compare.merge([("a", a), ("b", b)], [tmp_path / "a", tmp_path / "b"], tmp_path)
    rows = [line.split(" | ")[0] for line in mode_collapse(schema.validate(merged))
            if line.startswith("| ")]
    assert rows[2:] == ["| gan@a\\[pack=1\\]", "| *GAN, published*", "| gan@b\\[pack=2\\]"]


def test_the_verdict_counts_our_means_inside_the_papers_intervals():
    results = ring_record({1: [final(6, 0.80, 0.30), final(7, 0.90, 0.20)],
                           2: [final(8, 0.95, 0.10), final(8, 0.96, 0.05)]})
    verdict = render(results).split("## Verdict")[1].split("## ")[0]
    assert ("Against Lin et al. 2018 (PacGAN), Table 1: 5 of our 6 means lie inside the "
            "paper's 95% interval (its rows are under ours in Mode collapse).") in verdict
    results["runs"][0]["final"]["mixture_modes"] = 1  # GAN's modes: 4 [1, 7], outside
    verdict = render(results).split("## Verdict")[1].split("## ")[0]
    assert "Table 1: 4 of our 6 means lie inside" in verdict
    del results["published"]
    assert "Against" not in render(results).split("## Verdict")[1].split("## ")[0]
