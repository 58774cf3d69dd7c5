"""The report's tables: the summary, mode collapse (class shares), diversity and fidelity,
throughput, and every metric with what it measures.
"""

from __future__ import annotations

from pathlib import Path

from reports import published, records
from reports.blocks import (
    FLOOR_LABEL,
    best_in_column,
    better,
    bold,
    figure,
    figure_block,
    floor,
    head,
    italic,
    label,
    metric_table,
    present,
    table,
)
from reports.format import DASH, cell, code, fmt, text


def summary(results: dict) -> list[str]:
    return metric_table(results, records.summary_keys(results)) + [
        "", "Mean [95% bootstrap interval] over seeds (one seed: its value; see Significance); "
        "↓ lower is better, ↑ higher is better; best per column in **bold**. The full table is "
        "under All metrics."] + _cost(results)


def _cost(results: dict) -> list[str]:
    """What each model costs to train and to sample (records that measured sampling)."""
    if not records.measured_sampling(results):
        return []
    rows = []
    for (name, backend), s in records.aggregate_throughput(results).items():
        rows.append([text(name), text(backend), cell(s.get("images_per_s")),
                     cell(s.get("sampling_images_per_s")), _nfe(s)])
    header = ["Model", "Backend", "Training images/s ↑", "Sampling images/s ↑", "NFE ↓"]
    return ["", "Cost:", "", *table(header, rows, text_cols=(0, 1))]


# a histogram or table per class reads up to a few dozen classes (the grid's 25 components),
# not Stacked MNIST's 1,000 triples: its modes and KL say it in two numbers
MAX_CLASSES_SHOWN = 30


def mode_collapse(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    shown = records.histograms(results) and (records.num_classes(results) or 0) <= MAX_CLASSES_SHOWN
    if shown:
        lines += figure_block(run_dir, "figures/class_histograms.png",
                               "Class histograms per model")
    keys = records.section_keys(results, "mode_collapse")
    shown = metric_table(results, keys, under=published.rows_under)
    lines += shown + (published.note(results) if len(shown) > 1 else [])
    lines += _class_share_table(results) if shown else []
    if any(records.has_curve(results, k) for k in keys):
        fig = figure(run_dir, "figures/mode_curves.png", "Modes covered and KL over training")
        if fig:
            lines += ["", "Over training:", "", fig]
    return lines


def _class_share_table(results: dict) -> list[str]:
    hists = records.histograms(results)
    k = records.num_classes(results)
    if not hists or not k or k > MAX_CLASSES_SHOWN:  # 1,000 columns are not read
        return []
    names = results.get("dataset", {}).get("class_names") or [str(i) for i in range(k)]
    rows = []
    for name, hs in hists.items():
        cols = [records.mean_std([float(h[i]) for h in hs if len(h) > i]) for i in range(k)]
        rows.append([text(name)] + [f"{100 * c.mean:.1f}" if c.n else DASH for c in cols])
    real = floor(results).get(records.HISTOGRAM_KEY)
    if real:
        rows.append([FLOOR_LABEL] + [italic(f"{100 * v:.1f}") for v in real[:k]])
    return ["", f"Share of samples per {records.class_words(results)[0]}, % (uniform = "
            f"{100 / k:.1f}):", "",
            *table(["Model"] + [text(n) for n in names], rows)]


def diversity(results: dict) -> list[str]:
    lines = metric_table(results, records.section_keys(results, "diversity"))
    keys = present(records.aggregate(results), records.section_keys(results, "diversity"))
    goals = sorted({records.target(results, k) for k in keys
                    if records.direction(results, k) == "target"} - {None})
    for goal in goals:
        lines += ["", f"→{goal:g}: closest to {goal:g} is best (generated samples as spread out "
                  "as real ones)."]
    return lines


def throughput(results: dict) -> list[str]:
    tput = records.aggregate_throughput(results)
    if not tput:
        return ["_No run measured throughput._"]
    grouped = records.runs_by_model(results)
    best = records.best_models({f"{m}/{b}": s.get("images_per_s") for (m, b), s in tput.items()},
                       "higher")
    sampling = records.measured_sampling(results)
    rows = []
    for (name, backend), s in tput.items():
        runs = [r for r in grouped[name] if r.get("throughput")]
        first = runs[0]["throughput"]
        params = next((r["params"] for r in grouped[name] if r.get("params")), {})
        parts = ", ".join(f"{text(k)} {fmt(v)}" for k, v in params.items() if k != "total")
        param_text = fmt(params.get("total")) + (f" ({parts})" if parts else "")
        rows.append([text(name), text(backend), text(first.get("precision", DASH)),
                     fmt(first.get("batch_size")), str(len(runs)),
                     bold(cell(s.get("images_per_s")), f"{name}/{backend}" in best),
                     cell(s.get("step_ms_median")), cell(s.get("step_ms_p90")),
                     cell(s.get("compile_s")), param_text, cell(s.get("peak_memory_mb"))]
                    + ([cell(s.get("sampling_images_per_s")), _nfe(s)]
                       if sampling else []))
    header = ["Model", "Backend", "Precision", "Batch", "Seeds", "Images/s ↑", "ms/step median",
              "ms/step p90", "Compile s", "Parameters", "Peak memory MB"]
    header += ["Sampling images/s ↑", "NFE"] if sampling else []
    text_cols = (0, 1, 2, -4) if sampling else (0, 1, 2, -2)
    return table(header, rows, text_cols=text_cols) + [
        "", "Images/s counts training images consumed per second after the first (compiling) "
        "step; compile time is the first step's."] + ([
            "Sampling images/s: sample() on the final weights at the run's batch size after a "
            "first (compiling) call, on the same machine; NFE: network evaluations per image "
            "(1 for a generator or a decoder)."] if sampling else [])


def _nfe(stats: dict) -> str:
    """A model's NFE: one number (its seeds share the setting), or a dash."""
    nfe = stats.get("nfe")
    return fmt(nfe.mean, True) if nfe is not None else DASH


def sampling_cost(results: dict, run_dir: Path | None) -> list[str]:
    """The iterative models' final weights scored at each NFE: the figure and a table."""
    sweeps = records.nfe_sweeps(results)
    if not sweeps:
        return []
    lines = figure_block(run_dir, "figures/nfe_curves.png", "Quality against NFE")
    while lines and not lines[-1]:
        lines = lines[:-1]
    samples = sorted({r["nfe_sweep"]["samples"] for r in results["runs"] if r.get("nfe_sweep")})
    for key in records.sweep_keys(results):
        counts = sorted({n for by_key in sweeps.values() for n in by_key.get(key, {})})
        rows = [[text(name)] + [cell(by_key.get(key, {}).get(n), records.is_count(results, key))
                                for n in counts] for name, by_key in sweeps.items()]
        if counts:
            lines += ["", f"{head(results, key)} at each NFE:", "",
                      *table(["Model", *[f"NFE {n}" for n in counts]], rows)]
    return lines + ["", f"The final weights sampled with each NFE ({join_ints(samples)} samples "
                    "each, the cheap evaluations' count: comparable along a row and between "
                    "models, not with the full evaluation's figures above)."]


def join_ints(values) -> str:
    return " or ".join(f"{v:,}" for v in values)


def all_metrics(results: dict) -> list[str]:
    agg = records.aggregate(results)
    names = list(agg)
    keys = [k for k in records.metric_keys(results)
            if any(k in s for s in agg.values()) or k in floor(results)]
    if not keys:
        return ["_No metrics recorded._"]
    rows = []
    for key in keys:
        best = best_in_column(results, {n: agg[n].get(key) for n in names}, key)
        info = results.get("metrics", {}).get(key) or {}
        count = records.is_count(results, key)
        rows.append([f"{label(results, key)} ({code(key)})",
                     better(results, key), italic(fmt(floor(results).get(key), count))]
                    + [bold(cell(agg[n].get(key), count), n in best) for n in names]
                    + [text(info.get("description") or DASH)])
    header = ["Metric", "Better", "Real data"] + [text(n) for n in names] + ["What it measures"]
    lines = table(header, rows, text_cols=(0, 1, -1))
    if records.histograms(results):
        lines += ["", "The class histogram (a list per run) is under Mode collapse."]
    return lines
