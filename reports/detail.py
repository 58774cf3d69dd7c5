"""The report's detail: sample images per model, training curves with the best checkpoint
against the final one, and the notes (divergence, unfinished runs, the classifier, settings).
"""

from __future__ import annotations

from pathlib import Path

from reports import records, schema
from reports.blocks import figure_block, head, label, link, primary, table
from reports.format import DASH, cell, fmt, text

SAMPLE_FIGURES = ("samples_final", "samples_best", "progression_strip", "progression_gif")


def samples(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    for name, runs in records.runs_by_model(results).items():
        runs = sorted((r for r in runs if r.get("figures")), key=lambda r: r["seed"])
        shown = [(r, _sample_figures(r, run_dir)) for r in runs]
        shown = [(r, figs) for r, figs in shown if figs]
        if not shown:
            continue
        name = text(name)
        lines += [f"### {name}", ""]
        run, figs = shown[0]
        best_step = (run.get("best") or {}).get("step")
        heads, cells = [], []
        final = (f"final (step {fmt(run.get('steps_done'))})" if records.trained(run)
                 else "scored samples")
        for key, title in (("samples_final", final),
                           ("samples_best", f"best (step {fmt(best_step)})")):
            if key in figs:
                heads.append(f"seed {run['seed']}, {title}")
                cells.append(f"![{name} {key}]({figs[key]})")
        if heads:
            lines += table(heads, [cells], text_cols=tuple(range(len(heads)))) + [""]
        if "progression_strip" in figs:
            lines += [f"Progression (same noise each checkpoint): "
                      f"![{name} progression]({figs['progression_strip']})", ""]
        if "progression_gif" in figs:
            lines += [f"Animated: ![{name} progression GIF]({figs['progression_gif']})", ""]
        for other, ofigs in shown[1:]:
            links = " · ".join(f"[{key.replace('_', ' ')}]({path})" for key, path in ofigs.items())
            lines += [f"- seed {other['seed']}: {links}"]
        if len(shown) > 1:
            lines.append("")
    return lines or ["_No sample images in this run folder._"]


def _sample_figures(run: dict, run_dir: Path | None) -> dict[str, str]:
    """Each sample figure of the run that is a file inside the run folder, as a link target."""
    figs = run.get("figures") or {}
    links = {k: link(run_dir, figs.get(k)) for k in SAMPLE_FIGURES}
    return {k: target for k, target in links.items() if target}


def curves(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    if records.has_losses(results):
        lines += figure_block(run_dir, "figures/losses.png", "Training losses")
    if records.has_curve(results, "fid"):
        lines += figure_block(run_dir, "figures/fid_curves.png", "FID over training")
    lines += _best_vs_final(results)
    return lines or ["_No curves in this run._"]


def _best_vs_final(results: dict) -> list[str]:
    final = records.aggregate(results)
    key = primary(results, final)
    if key is None:
        return []
    best = records.aggregate(results, "best")
    trained = {name for name, runs in records.runs_by_model(results).items()
               if any(records.trained(r) for r in runs)}
    steps = records.aggregate_best_step(results)
    count = records.is_count(results, key)
    rows = [[text(name), cell(steps.get(name)), cell(best[name].get(key), count),
             cell(final[name].get(key), count)]
            for name in final if key in final[name] or key in best[name]
            if name in trained]
    if not rows:
        return []
    column = head(results, key)
    return [f"Best checkpoint (by {label(results, key)}) against the final one:", "",
            *table(["Model", "Best at step", f"Best {column}", f"Final {column}"], rows)]


def notes(results: dict) -> list[str]:
    cfg = results.get("config", {})
    notes: list[str] = []
    ds = results.get("dataset", {})
    if ds.get("note"):
        notes.append(f"Dataset: {ds['note']}")
    notes += _run_notes(results)
    notes += _classifier_note(results)
    for model, values in (cfg.get("overrides") or {}).items():
        settings = ", ".join(f"{k}={v}" for k, v in values.items())
        notes.append(f"Overrides for {model}: {settings}.")
    for where, key, value in records.unreadable_metrics(results):
        notes.append(f"{where} {key} is stored as {type(value).__name__} {value!r}, not a "
                     "number; it is left out of the tables.")
    notes += [str(n) for n in results.get("notes") or []]
    notes += _outside_notes(results)
    return [f"- {text(n)}" for n in notes] or ["None."]


def _outside_notes(results: dict) -> list[str]:
    """A figure path a record names outside its run folder is not linked: said here."""
    return [f"{run.get('key', f'runs[{i}]')} names its {key} {path!r}, not a path inside the "
            "run folder; it is not linked."
            for i, run in enumerate(results.get("runs") or [])
            for key, path in (run.get("figures") or {}).items() if not schema.inside(path)]


def _run_notes(results: dict) -> list[str]:
    """Runs that diverged, failed or did not finish, and models scored with averaged weights."""
    steps = (results.get("config") or {}).get("steps")
    of = f" of {steps:,}" if isinstance(steps, int) else ""
    notes = []
    for name, runs in records.runs_by_model(results).items():
        for run in runs:
            if not records.trained(run):
                notes.append(_source_note(name, run))
                continue
            steps_done = run.get("steps_done")
            if run["status"] == "diverged":
                at = run.get("diverged_at")
                notes.append(f"{name} seed {run['seed']} diverged at step "
                             f"{fmt(at) if at is not None else 'unknown'}{of}"
                             + ("; its final metrics are from that point." if run.get("final")
                                else "; it has no final metrics."))
            elif run["status"] == "failed":
                notes.append(f"{name} seed {run['seed']} failed ({run.get('error')}); it has "
                             "no metrics.")
            elif not records.scored(run):
                after = f" after {fmt(steps_done)}{of} steps" if steps_done is not None else ""
                notes.append(f"{name} seed {run['seed']} is {run['status']}{after}; "
                             + ("its metrics are left out." if run.get("final")
                                else "it has no final metrics."))
        ema = [str(r["seed"]) for r in runs if r.get("weights_scored") == "ema"]
        if ema:
            notes.append(f"{name}: seed{'s' * (len(ema) > 1)} {', '.join(ema)} scored with the "
                         "generator's moving-average (EMA) weights, not the raw ones.")
    return notes


def _source_note(name: str, run: dict) -> str:
    src = run.get("source") or {}
    count = src.get("count")
    facts = [src.get("format"), src.get("range"),
             f"{count:,} images" if isinstance(count, int) else None, src.get("note")]
    return (f"{name} seed {run['seed']}: samples scored from {src.get('path', '?')} "
            f"({'; '.join(str(f) for f in facts if f)}); nothing was trained.")


def _classifier_note(results: dict) -> list[str]:
    clf = results.get("classifier") or {}
    acc, gate = clf.get("test_accuracy"), clf.get("gate")
    if not isinstance(acc, (int, float)):
        return []
    verdict = DASH
    if isinstance(gate, (int, float)):
        verdict = f"gate {gate:.2%}: " + ("passes" if acc >= gate else "**BELOW THE GATE**")
    source = f" The gate: {clf['gate_source']}." if clf.get("gate_source") else ""
    return [f"Feature classifier test accuracy {acc:.2%} ({verdict}).{source}"]
