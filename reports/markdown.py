"""render(results) -> the Markdown report: one screen to the verdict, then the detail.

Pure: reads the record (and, when given run_dir, only checks which figure files exist).
Every cell is ``mean ± std`` over seeds (just the value for one seed); "—" marks a value the
record does not have.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from reports import records
from reports.records import Stat

DASH = "—"
ARROWS = {"lower": "↓", "higher": "↑", "target": "→1"}
BETTER = {"lower": "lower", "higher": "higher", "target": "closer to 1"}
COUNT_KEYS = {"modes_covered", "ndb"}  # whole numbers per seed
SUMMARY_KEYS = ["fid", "kid", "modes_covered", "kl_classes", "precision", "recall", "coverage",
                "ndb", "recon_psnr"]
MODE_KEYS = ["modes_covered", "kl_classes", "ndb", "ndb_js"]
DIVERSITY_KEYS = ["precision", "recall", "density", "coverage", "pairwise_distance_ratio",
                  "memorization"]
# The verdict ranks models by the first of these the record has.
PRIMARY_KEYS = ["fid", "kid", "fid_logits", "classifier_score", "recon_mse"]
FLOOR_LABEL = "*real data (floor)*"


# ---- numbers -------------------------------------------------------------------------

def _sig(x: float, digits: int = 3) -> str:
    """x to `digits` significant figures; from 10**digits up, whole with thousands separators
    (1,234 images/s, not 1,230); below 0.001 in scientific notation."""
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits - 0.5:
        return f"{x:,.0f}"
    x = float(f"{x:.{digits}g}")
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def fmt(x, key: str | None = None) -> str:
    """One number: 3 significant figures, whole numbers for counts, "—" when missing."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return DASH
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if (key in COUNT_KEYS or isinstance(x, int)) and float(x).is_integer():
        return f"{int(x):,}"
    if key in COUNT_KEYS:
        return f"{x:.3g}"
    return _sig(x)


def cell(stat: Stat | None, key: str | None = None) -> str:
    """'mean ± std' over seeds; just the value for one seed; "—" for none."""
    if stat is None or stat.n == 0:
        return DASH
    if stat.n == 1:
        return fmt(stat.mean, key)
    return f"{fmt(stat.mean, key)} ± {_sig(stat.std, 2) if math.isfinite(stat.std) else 'nan'}"


def best_models(stats: dict[str, Stat], direction: str | None) -> set[str]:
    """The model(s) with the best finite mean; empty with fewer than two to compare."""
    score = {"lower": lambda m: m, "higher": lambda m: -m, "target": lambda m: abs(m - 1.0)}
    if direction not in score:
        return set()
    finite = {n: score[direction](s.mean) for n, s in stats.items()
              if s and s.n and math.isfinite(s.mean)}
    if len(finite) < 2:
        return set()
    top = min(finite.values())
    best = {n for n, v in finite.items() if math.isclose(v, top, rel_tol=1e-12, abs_tol=1e-15)}
    return best if len(best) < len(finite) else set()  # all tied: nothing stands out


def _bold(text: str, on: bool) -> str:
    return f"**{text}**" if on and text != DASH else text


def _italic(text: str) -> str:
    return f"*{text}*" if text != DASH else text


def _esc(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]], text_cols: tuple[int, ...] = (0,)
          ) -> list[str]:
    """A Markdown table: text_cols (indexes, negative allowed) left-aligned, numbers right."""
    left = {i % len(header) for i in text_cols}
    align = [":---" if i in left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]


# ---- record helpers ------------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _head(results: dict, key: str) -> str:
    arrow = ARROWS.get(records.direction(results, key))
    return f"{records.label(results, key)} {arrow}" if arrow else records.label(results, key)


def _present(agg: dict[str, dict[str, Stat]], keys: list[str]) -> list[str]:
    return [k for k in keys if any(k in stats for stats in agg.values())]


def _floor(results: dict) -> dict:
    return results.get("floor") or {}


def _primary(results: dict, agg: dict[str, dict[str, Stat]]) -> str | None:
    present = _present(agg, records.metric_keys(results))
    for key in PRIMARY_KEYS + present:
        if key in present and records.direction(results, key) in ("lower", "higher"):
            return key
    return None


def _diverged(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] == "diverged"]


def _model_cell(name: str, runs: list[dict]) -> str:
    return f"{name} †" if _diverged(runs) else name


def _seeds_cell(runs: list[dict]) -> str:
    n = sum(records.scored(r) for r in runs)
    return str(n) if n == len(runs) else f"{n} of {len(runs)}"


def _metric_rows(results: dict, keys: list[str]) -> list[list[str]]:
    """Models x keys, best per column in bold, then the italic real-data floor row."""
    agg = records.aggregate(results)
    grouped = records.runs_by_model(results)
    best = {k: best_models({n: s.get(k) for n, s in agg.items()},
                           records.direction(results, k)) for k in keys}
    rows = [[_model_cell(n, runs), _seeds_cell(runs)]
            + [_bold(cell(agg[n].get(k), k), n in best[k]) for k in keys]
            for n, runs in grouped.items()]
    floor = _floor(results)
    if any(k in floor for k in keys):
        rows.append([FLOOR_LABEL, ""] + [_italic(fmt(floor.get(k), k)) for k in keys])
    return rows


def _metric_table(results: dict, keys: list[str]) -> list[str]:
    keys = _present(records.aggregate(results), keys)
    if not keys:
        return ["_No model has these metrics in this run._"]
    lines = table(["Model", "Seeds"] + [_head(results, k) for k in keys],
                  _metric_rows(results, keys))
    if any(_diverged(runs) for runs in records.runs_by_model(results).values()):
        lines += ["", "† diverged in at least one seed; its metrics are from where training "
                  "stopped (see Notes)."]
    return lines


def _figure(run_dir: Path | None, rel: str | None, alt: str) -> str | None:
    """An image line for rel, or None when run_dir is given and the file is not there."""
    if not rel:
        return None
    if run_dir is not None and not (Path(run_dir) / rel).is_file():
        return None
    return f"![{alt}]({rel})"


def _figure_block(run_dir: Path | None, rel: str, alt: str) -> list[str]:
    """The image line and a blank line after it, or nothing when the figure is missing."""
    fig = _figure(run_dir, rel, alt)
    return [fig, ""] if fig else []


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


# ---- sections ------------------------------------------------------------------------

def _header(results: dict) -> list[str]:
    ds = results.get("dataset", {})
    cfg = results.get("config", {})
    env = results.get("environment", {})
    lines = [f"# Generative model benchmark: {ds.get('name') or cfg.get('dataset') or '?'}", ""]
    if ds.get("note"):
        wanted = cfg.get("dataset_requested") or "the requested dataset"
        lines += [f"> **WARNING — dataset fallback.** {_esc(ds['note'])}",
                  f"> These numbers are on **{ds.get('name', '?')}**, not {wanted}; do not "
                  f"compare them with {wanted} results.", ""]
    status = results.get("status")
    if status != "complete":
        runs = results.get("runs", [])
        planned = len(cfg.get("models", [])) * (cfg.get("seeds") or 0)
        scored = sum(records.scored(r) for r in runs)
        lines += [f"> **WARNING — {str(status).upper()} RUN.** Only {scored} of "
                  f"{planned or len(runs)} planned model × seed runs have final metrics; "
                  "everything below covers only those.", ""]
    clf = results.get("classifier") or {}
    acc, gate = clf.get("test_accuracy"), clf.get("gate")
    if isinstance(acc, (int, float)) and isinstance(gate, (int, float)) and acc < gate:
        lines += [f"> **WARNING — weak classifier.** Its test accuracy {acc:.2%} is below the "
                  f"gate {gate:.2%}; metrics in its feature space are not trustworthy.", ""]

    versions = env.get("versions") or {}
    version_text = " · ".join(f"{k} {v}" for k, v in versions.items() if v)
    if env.get("python"):
        version_text = f"Python {env['python']}" + (f" · {version_text}" if version_text else "")
    sizes = [f"{ds[k]:,} {k.split('_')[0]}" for k in ("train_size", "test_size")
             if isinstance(ds.get(k), int)]
    data = ds.get("name", "?") + (f" ({' / '.join(sizes)})" if sizes else "")
    if ds.get("source"):
        data += f" from `{ds['source']}`"
    preset = [f"preset **{cfg.get('preset', '?')}**"]
    for key, word in (("steps", "step"), ("seeds", "seed")):
        if isinstance(cfg.get(key), int):
            preset.append(_plural(cfg[key], word))
    if cfg.get("batch_size"):
        preset.append(f"batch {cfg['batch_size']}")
    if cfg.get("eval_every"):
        preset.append(f"evaluated every {cfg['eval_every']:,} steps on "
                      f"{cfg.get('eval_samples', '?'):,} samples")
    if cfg.get("samples"):
        preset.append(f"final metrics on {cfg['samples']:,} samples")
    started, finished = _when(results.get("started")), _when(results.get("finished"))
    date = started.strftime("%Y-%m-%d %H:%M") if started else results.get("started") or DASH
    if started and finished:
        took = _duration((finished - started).total_seconds())
        date += f" → {finished.strftime('%H:%M')} ({took})"
    elif not finished:
        date += " (not finished)"
    rows = [
        ["Dataset", _esc(data)],
        ["Backend", _esc(f"{env.get('backend') or cfg.get('backend', '?')} on "
                         f"{env.get('device', '?')}, {cfg.get('precision', 'float32')}")],
        ["Versions", _esc(version_text or DASH)],
        ["Config", _esc(", ".join(preset))],
        ["Command", f"`{results['command']}`" if results.get("command") else DASH],
        ["Date", _esc(date)],
        ["Status", f"**{status}**" if status != "complete" else str(status)],
    ]
    if env.get("platform"):
        rows.insert(3, ["Platform", _esc(env["platform"])])
    return lines + table(["", ""], rows, text_cols=(0, 1))


def _verdict(results: dict) -> list[str]:
    agg = records.aggregate(results)
    grouped = records.runs_by_model(results)
    key = _primary(results, agg)
    sentences = []
    if not any(agg.values()):
        sentences.append(f"No model has final metrics (run status: {results.get('status')}), "
                         "so there is no verdict yet.")
    elif key is None:
        sentences.append("No metric says which direction is better, so models are not ranked.")
    else:
        direction = records.direction(results, key)
        ranked = sorted((n for n in agg if key in agg[n] and math.isfinite(agg[n][key].mean)),
                        key=lambda n: agg[n][key].mean, reverse=direction == "higher")
        label = records.label(results, key)
        floor = _floor(results).get(key)
        floor_text = f"; real data scores {fmt(floor, key)}" if floor is not None else ""
        if len(ranked) == 1:
            sentences.append(f"Only **{ranked[0]}** has a finite {label}: "
                             f"{cell(agg[ranked[0]][key], key)}{floor_text}.")
        elif ranked:
            first, second = agg[ranked[0]][key], agg[ranked[1]][key]
            others = _join([f"{n} ({cell(agg[n][key], key)})" for n in ranked[1:]])
            sentences.append(f"**{ranked[0]}** has the best {label} ({cell(first, key)}"
                             f"{floor_text}), ahead of {others}.")
            if first.n > 1 and second.n > 1 and \
                    abs(first.mean - second.mean) <= first.std + second.std:
                sentences.append(f"Its lead over {ranked[1]} is within one std over seeds, so "
                                 "that ranking is not settled.")
    sentences += _collapse_sentences(results, agg)
    sentences += _speed_sentence(results)
    for name, runs in grouped.items():
        bad = _diverged(runs)
        if bad:
            steps = _join([f"{r['diverged_at']:,}" for r in bad
                           if isinstance(r.get("diverged_at"), int)])
            sentences.append(f"{name} diverged in {len(bad)} of {_plural(len(runs), 'seed')}"
                             + (f" (at step {steps})." if steps else "."))
        if runs and not any(records.scored(r) for r in runs):
            sentences.append(f"{name} has no final metrics ({runs[0]['status']}).")
    return [" ".join(sentences)]


def _collapse_sentences(results: dict, agg: dict[str, dict[str, Stat]]) -> list[str]:
    k = records.num_classes(results)
    covered = {n: s["modes_covered"] for n, s in agg.items() if "modes_covered" in s}
    if not k or not covered:
        return []
    dropped = {n: s for n, s in covered.items() if s.mean < k}
    if not dropped:
        return [f"No mode collapse: every model covers all {k} classes."]
    parts = [f"{n} covers {fmt(s.mean, 'modes_covered')} of {k} classes"
             + (f" (mean of {s.n} seeds)" if s.n > 1 else "") for n, s in dropped.items()]
    return [f"Mode collapse: {_join(parts)}."]


def _speed_sentence(results: dict) -> list[str]:
    tput = {key: s["images_per_s"] for key, s in records.aggregate_throughput(results).items()
            if "images_per_s" in s and math.isfinite(s["images_per_s"].mean)}
    if len(tput) < 2:
        return []
    (name, backend), stat = max(tput.items(), key=lambda item: item[1].mean)
    return [f"Fastest to train: {name} ({cell(stat)} images/s on {backend})."]


def _summary(results: dict) -> list[str]:
    return _metric_table(results, SUMMARY_KEYS) + [
        "", "Mean ± std over seeds; ↓ lower is better, ↑ higher is better; best per column in "
        "**bold**. The full table is under All metrics."]


def _mode_collapse(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    if records.histograms(results):
        lines += _figure_block(run_dir, "figures/class_histograms.png",
                               "Class histograms per model")
    lines += _metric_table(results, MODE_KEYS)
    lines += _class_share_table(results)
    if records.has_curve(results, "modes_covered") or records.has_curve(results, "kl_classes"):
        fig = _figure(run_dir, "figures/mode_curves.png", "Modes covered and KL over training")
        if fig:
            lines += ["", "Over training:", "", fig]
    return lines


def _class_share_table(results: dict) -> list[str]:
    hists = records.histograms(results)
    k = records.num_classes(results)
    if not hists or not k:
        return []
    names = results.get("dataset", {}).get("class_names") or [str(i) for i in range(k)]
    rows = []
    for name, hs in hists.items():
        cols = [records.mean_std([float(h[i]) for h in hs if len(h) > i]) for i in range(k)]
        rows.append([name] + [f"{100 * c.mean:.1f}" if c.n else DASH for c in cols])
    floor = _floor(results).get(records.HISTOGRAM_KEY)
    if floor:
        rows.append([FLOOR_LABEL] + [_italic(f"{100 * v:.1f}") for v in floor[:k]])
    return ["", f"Share of samples per class, % (uniform = {100 / k:.1f}):", "",
            *table(["Model"] + [_esc(n) for n in names], rows)]


def _diversity(results: dict) -> list[str]:
    lines = _metric_table(results, DIVERSITY_KEYS)
    keys = _present(records.aggregate(results), DIVERSITY_KEYS)
    if any(records.direction(results, k) == "target" for k in keys):
        lines += ["", "→1: closest to 1 is best (generated samples as spread out as real ones)."]
    return lines


def _throughput(results: dict) -> list[str]:
    tput = records.aggregate_throughput(results)
    if not tput:
        return ["_No run measured throughput._"]
    grouped = records.runs_by_model(results)
    best = best_models({f"{m}/{b}": s.get("images_per_s") for (m, b), s in tput.items()},
                       "higher")
    rows = []
    for (name, backend), s in tput.items():
        runs = [r for r in grouped[name] if r.get("throughput")]
        first = runs[0]["throughput"]
        params = next((r["params"] for r in grouped[name] if r.get("params")), {})
        parts = ", ".join(f"{k} {fmt(v)}" for k, v in params.items() if k != "total")
        param_text = fmt(params.get("total")) + (f" ({parts})" if parts else "")
        rows.append([name, backend, str(first.get("precision", DASH)),
                     fmt(first.get("batch_size")), str(len(runs)),
                     _bold(cell(s.get("images_per_s")), f"{name}/{backend}" in best),
                     cell(s.get("step_ms_median")), cell(s.get("step_ms_p90")),
                     cell(s.get("compile_s")), param_text, cell(s.get("peak_memory_mb"))])
    header = ["Model", "Backend", "Precision", "Batch", "Seeds", "Images/s ↑", "ms/step median",
              "ms/step p90", "Compile s", "Parameters", "Peak memory MB"]
    return table(header, rows, text_cols=(0, 1, 2, -2)) + [
        "", "Images/s counts training images consumed per second after the first (compiling) "
        "step; compile time is the first step's."]


def _samples(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    for name, runs in records.runs_by_model(results).items():
        runs = sorted((r for r in runs if r.get("figures")), key=lambda r: r["seed"])
        shown = [(r, _sample_figures(r, run_dir)) for r in runs]
        shown = [(r, figs) for r, figs in shown if figs]
        if not shown:
            continue
        lines += [f"### {name}", ""]
        run, figs = shown[0]
        best_step = (run.get("best") or {}).get("step")
        heads, cells = [], []
        for key, title in (("samples_final", f"final (step {fmt(run.get('steps_done'))})"),
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
    keys = ("samples_final", "samples_best", "progression_strip", "progression_gif")
    figs = run.get("figures") or {}
    return {k: figs[k] for k in keys if _figure(run_dir, figs.get(k), k)}


def _curves(results: dict, run_dir: Path | None) -> list[str]:
    lines: list[str] = []
    if records.has_losses(results):
        lines += _figure_block(run_dir, "figures/losses.png", "Training losses")
    if records.has_curve(results, "fid"):
        lines += _figure_block(run_dir, "figures/fid_curves.png", "FID over training")
    lines += _best_vs_final(results)
    return lines or ["_No curves in this run._"]


def _best_vs_final(results: dict) -> list[str]:
    final = records.aggregate(results)
    key = _primary(results, final)
    if key is None:
        return []
    best = records.aggregate(results, "best")
    steps = records.aggregate_best_step(results)
    rows = [[name, cell(steps.get(name)), cell(best[name].get(key), key),
             cell(final[name].get(key), key)]
            for name in final if key in final[name] or key in best[name]]
    if not rows:
        return []
    label = _head(results, key)
    return [f"Best checkpoint (by {records.label(results, key)}) against the final one:", "",
            *table(["Model", "Best at step", f"Best {label}", f"Final {label}"], rows)]


def _all_metrics(results: dict) -> list[str]:
    agg = records.aggregate(results)
    names = list(agg)
    keys = [k for k in records.metric_keys(results)
            if any(k in s for s in agg.values()) or k in _floor(results)]
    if not keys:
        return ["_No metrics recorded._"]
    rows = []
    for key in keys:
        direction = records.direction(results, key)
        best = best_models({n: agg[n].get(key) for n in names}, direction)
        info = results.get("metrics", {}).get(key) or {}
        rows.append([f"{_esc(records.label(results, key))} (`{key}`)",
                     BETTER.get(direction, DASH), _italic(fmt(_floor(results).get(key), key))]
                    + [_bold(cell(agg[n].get(key), key), n in best) for n in names]
                    + [_esc(info.get("description") or DASH)])
    header = ["Metric", "Better", "Real data"] + names + ["What it measures"]
    lines = table(header, rows, text_cols=(0, 1, -1))
    if records.histograms(results):
        lines += ["", "The class histogram (a list per run) is under Mode collapse."]
    return lines


def _notes(results: dict) -> list[str]:
    cfg = results.get("config", {})
    notes: list[str] = []
    ds = results.get("dataset", {})
    if ds.get("note"):
        notes.append(f"Dataset: {ds['note']}")
    for name, runs in records.runs_by_model(results).items():
        for run in runs:
            steps_done = run.get("steps_done")
            of = f" of {cfg['steps']:,}" if isinstance(cfg.get("steps"), int) else ""
            if run["status"] == "diverged":
                at = run.get("diverged_at")
                notes.append(f"{name} seed {run['seed']} diverged at step "
                             f"{fmt(at) if at is not None else 'unknown'}{of}"
                             + ("; its final metrics are from that point." if run.get("final")
                                else "; it has no final metrics."))
            elif not records.scored(run):
                after = f" after {fmt(steps_done)}{of} steps" if steps_done is not None else ""
                notes.append(f"{name} seed {run['seed']} is {run['status']}{after}; "
                             + ("its metrics are left out." if run.get("final")
                                else "it has no final metrics."))
    clf = results.get("classifier") or {}
    acc, gate = clf.get("test_accuracy"), clf.get("gate")
    if isinstance(acc, (int, float)):
        verdict = DASH
        if isinstance(gate, (int, float)):
            verdict = f"gate {gate:.2%}: " + ("passes" if acc >= gate else "**BELOW THE GATE**")
        notes.append(f"Feature classifier test accuracy {acc:.2%} ({verdict}).")
    for model, values in (cfg.get("overrides") or {}).items():
        text = ", ".join(f"{k}={v}" for k, v in values.items())
        notes.append(f"Overrides for {model}: {text}.")
    notes += [str(n) for n in results.get("notes") or []]
    return [f"- {_esc(n)}" for n in notes] or ["None."]


def render(results: dict, run_dir: str | Path | None = None) -> str:
    """The whole report. With run_dir, figures missing from that folder are left out."""
    run_dir = Path(run_dir) if run_dir is not None else None
    sections = [
        ("Verdict", _verdict(results)),
        ("Summary", _summary(results)),
        ("Mode collapse", _mode_collapse(results, run_dir)),
        ("Diversity and fidelity", _diversity(results)),
        ("Throughput", _throughput(results)),
        ("Samples", _samples(results, run_dir)),
        ("Curves", _curves(results, run_dir)),
        ("All metrics", _all_metrics(results)),
        ("Notes", _notes(results)),
    ]
    lines = _header(results)
    for title, body in sections:
        while body and not body[-1]:
            body = body[:-1]
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines).rstrip() + "\n"
