"""The report's first screen: the header (what ran, where, on what) and the verdict (which
model is best by the primary metric, mode collapse, speed, divergence) in a few sentences.
"""

from __future__ import annotations

import math

from reports import published, records, significance
from reports.blocks import diverged, floor, label, primary, table, when
from reports.format import DASH, cell, code, duration, fmt, interval_cell, join, plural, text
from reports.records import Stat


def header(results: dict) -> list[str]:
    ds = results.get("dataset", {})
    cfg = results.get("config", {})
    env = results.get("environment", {})
    title = text(ds.get("name") or cfg.get("dataset") or "?")
    lines = [f"# Generative model benchmark: {title}", ""]
    lines += _warnings(results)
    versions = env.get("versions") or {}
    version_text = " · ".join(f"{k} {v}" for k, v in versions.items() if v)
    if env.get("python"):
        version_text = f"Python {env['python']}" + (f" · {version_text}" if version_text else "")
    sizes = [f"{ds[k]:,} {k.split('_')[0]}" for k in ("train_size", "test_size")
             if isinstance(ds.get(k), int)]
    data = text(ds.get("name", "?")) + (f" ({' / '.join(sizes)})" if sizes else "")
    if ds.get("source"):
        data += f" from {code(ds['source'])}"
    status = text(results.get("status"))
    rows = [
        ["Dataset", data],
        ["Backend", text(f"{env.get('backend') or cfg.get('backend', '?')} on "
                         f"{env.get('device', '?')}, {cfg.get('precision', 'float32')}")],
        ["Versions", text(version_text or DASH)],
        ["Config", ", ".join(_preset(results)) or DASH],
        ["Command", code(results["command"]) if results.get("command") else DASH],
        ["Date", text(_date(results))],
        ["Status", f"**{status}**" if status != "complete" else status],
    ]
    if env.get("platform"):
        rows.insert(3, ["Platform", text(env["platform"])])
    return lines + table(["", ""], rows, text_cols=(0, 1))


def _warnings(results: dict) -> list[str]:
    """What makes the numbers below not what they seem: other data, an unfinished run, a
    classifier under its gate."""
    ds = results.get("dataset", {})
    cfg = results.get("config", {})
    lines = []
    if ds.get("note"):
        wanted = text(cfg.get("dataset_requested") or "the requested dataset")
        lines += [f"> **WARNING — dataset fallback.** {text(ds['note'])}",
                  f"> These numbers are on **{text(ds.get('name', '?'))}**, not {wanted}; do not "
                  f"compare them with {wanted} results.", ""]
    status = results.get("status")
    if status != "complete":
        runs = results.get("runs", [])
        planned = records.planned(results)
        scored = sum(records.scored(r) for r in runs)
        lines += [f"> **WARNING — {text(str(status).upper())} RUN.** Only {scored} of "
                  f"{planned or len(runs)} planned model × seed runs have final metrics; "
                  "everything below covers only those.", ""]
    clf = results.get("classifier") or {}
    acc, gate = clf.get("test_accuracy"), clf.get("gate")
    if isinstance(acc, (int, float)) and isinstance(gate, (int, float)) and acc < gate:
        lines += [f"> **WARNING — weak classifier.** Its test accuracy {acc:.2%} is below the "
                  f"gate {gate:.2%}; metrics in its feature space are not trustworthy.", ""]
    return lines


def _preset(results: dict) -> list[str]:
    cfg = results.get("config", {})
    # a field absent is left out: a comparison keeps only what its runs share (the notes
    # give the rest, benchmarks/compare.py)
    if not records.any_trained(results):
        preset = ["**scored samples**, nothing trained"]
    else:
        preset = [f"preset **{text(cfg['preset'])}**"] if "preset" in cfg else []
    for key, word in (("steps", "step"), ("seeds", "seed")):
        if isinstance(cfg.get(key), int):
            preset.append(plural(cfg[key], word))
    if cfg.get("batch_size"):
        preset.append(f"batch {cfg['batch_size']}")
    if cfg.get("eval_every"):
        preset.append(f"evaluated every {cfg['eval_every']:,} steps on "
                      f"{cfg.get('eval_samples', '?'):,} samples")
    if cfg.get("samples"):
        preset.append(f"final metrics on {cfg['samples']:,} samples")
    return preset


def _date(results: dict) -> str:
    started, finished = when(results.get("started")), when(results.get("finished"))
    date = started.strftime("%Y-%m-%d %H:%M") if started else results.get("started") or DASH
    if started and finished:
        took = duration((finished - started).total_seconds())
        end = finished.strftime("%H:%M" if finished.date() == started.date() else "%Y-%m-%d %H:%M")
        date += f" → {end} ({took})"
    elif not finished:
        date += " (not finished)"
    return date


def verdict(results: dict) -> list[str]:
    agg = records.aggregate(results)
    grouped = records.runs_by_model(results)
    key = primary(results, agg)
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
        metric = label(results, key)
        count = records.is_count(results, key)
        real = floor(results).get(key)
        floor_text = f"; real data scores {fmt(real, count)}" if real is not None else ""
        if len(ranked) == 1:
            sentences.append(f"Only **{text(ranked[0])}** has a finite {metric}: "
                             f"{cell(agg[ranked[0]][key], count)}{floor_text}.")
        elif ranked:
            vals = records.values(results)
            first = agg[ranked[0]][key]
            others = join([f"{text(n)} ({interval_cell(agg[n][key], vals[n].get(key), count)})"
                           for n in ranked[1:]])
            holds, why = significance.lead(results, key, ranked[0], ranked[1])
            name = f"**{text(ranked[0])}**" if holds else text(ranked[0])
            sentences.append(f"{name} has the best mean {metric} "
                             f"({interval_cell(first, vals[ranked[0]].get(key), count)}"
                             f"{floor_text}), ahead of {others}.")
            sentences.append(why)
    sentences += _collapse_sentences(results, agg)
    sentences += published.sentence(results)
    sentences += _speed_sentence(results)
    for name, runs in grouped.items():
        bad = diverged(runs)
        if bad:
            steps = join([f"{r['diverged_at']:,}" for r in bad
                           if isinstance(r.get("diverged_at"), int)])
            sentences.append(f"{text(name)} diverged in {len(bad)} of {plural(len(runs), 'seed')}"
                             + (f" (at step {steps})." if steps else "."))
        if runs and not any(records.scored(r) for r in runs):
            sentences.append(f"{text(name)} has no final metrics ({runs[0]['status']}).")
    return [" ".join(sentences)]


def _collapse_sentences(results: dict, agg: dict[str, dict[str, Stat]]) -> list[str]:
    k = records.num_classes(results)
    # the first count among the mode-collapse figures: classes, or a mixture's components
    counts = [key for key in records.section_keys(results, "mode_collapse")
              if records.is_count(results, key)]
    key = counts[0] if counts else "modes_covered"
    covered = {n: s[key] for n, s in agg.items() if key in s}
    if not k or not covered:
        return []
    dropped = {n: s for n, s in covered.items() if s.mean < k}
    classes = f"{k} {records.class_words(results)[1]}"
    if not dropped:
        return [f"No mode collapse: every model covers all {classes}."]
    count = records.is_count(results, key)
    parts = [f"{text(n)} covers {fmt(s.mean, count)} of {classes}"
             + (f" (mean of {s.n} seeds)" if s.n > 1 else "") for n, s in dropped.items()]
    return [f"Mode collapse: {join(parts)}."]


def _speed_sentence(results: dict) -> list[str]:
    # a model none of whose runs finished is no candidate: speed of a diverged run is moot
    finished = {r["model"] for r in results["runs"] if r["status"] == "finished"}
    tput = {key: s["images_per_s"] for key, s in records.aggregate_throughput(results).items()
            if key[0] in finished and "images_per_s" in s
            and math.isfinite(s["images_per_s"].mean)}
    if len(tput) < 2:
        return []
    (name, backend), stat = max(tput.items(), key=lambda item: item[1].mean)
    return [f"Fastest to train: {text(name)} ({cell(stat)} images/s on {text(backend)})."]
