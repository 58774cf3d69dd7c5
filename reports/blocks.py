"""Markdown building blocks the report's sections share: tables, emphasis, figure links, and
the models x metrics table with the best per column in bold and the real-data floor below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from reports import records, schema
from reports.format import DASH, fmt, interval_cell, text
from reports.records import Stat

FLOOR_LABEL = "*real data (floor)*"


def arrow(results: dict, key: str) -> str | None:
    """↓ lower is better, ↑ higher, →1 closest to the target 1; None when unknown."""
    direction = records.direction(results, key)
    goal = records.target(results, key)
    if direction == "target":
        return f"→{goal:g}" if goal is not None else None
    return {"lower": "↓", "higher": "↑"}.get(direction)


def better(results: dict, key: str) -> str:
    """The All metrics table's "Better" cell: lower, higher, closer to 1 (or "—")."""
    direction = records.direction(results, key)
    goal = records.target(results, key)
    if direction == "target":
        return f"closer to {goal:g}" if goal is not None else DASH
    return direction if direction in ("lower", "higher") else DASH


def best_in_column(results: dict, stats: dict[str, Stat | None], key: str) -> set[str]:
    return records.best_models(stats, records.direction(results, key),
                               records.target(results, key))


def bold(text: str, on: bool) -> str:
    return f"**{text}**" if on and text != DASH else text


def italic(text: str) -> str:
    return f"*{text}*" if text != DASH else text


def table(header: list[str], rows: list[list[str]], text_cols: tuple[int, ...] = (0,)
          ) -> list[str]:
    """A Markdown table: text_cols (indexes, negative allowed) left-aligned, numbers right."""
    left = {i % len(header) for i in text_cols}
    align = [":---" if i in left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]


def head(results: dict, key: str) -> str:
    """A column header: the metric's label and its arrow."""
    mark = arrow(results, key)
    return f"{label(results, key)} {mark}" if mark else label(results, key)


def label(results: dict, key: str) -> str:
    """The metric's label as the record has it, as Markdown text."""
    return text(records.label(results, key))


def present(agg: dict[str, dict[str, Stat]], keys) -> list[str]:
    return [k for k in keys if any(k in stats for stats in agg.values())]


def floor(results: dict) -> dict:
    return results.get("floor") or {}


def primary(results: dict, agg: dict[str, dict[str, Stat]]) -> str | None:
    """The metric the verdict ranks by: the first of the record's verdict metrics the runs
    have (records.verdict_keys), else the first metric with a lower or higher direction."""
    found = present(agg, records.metric_keys(results))
    for key in records.verdict_keys(results) + found:
        if key in found and records.direction(results, key) in ("lower", "higher"):
            return key
    return None


def diverged(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] == "diverged"]


def _model_cell(name: str, runs: list[dict]) -> str:
    return f"{text(name)} †" if diverged(runs) else text(name)


def _seeds_cell(runs: list[dict]) -> str:
    n = sum(records.scored(r) for r in runs)
    return str(n) if n == len(runs) else f"{n} of {len(runs)}"


# the rows set under one of ours (name, its runs, the table's keys): reports/published.py
Under = Callable[[dict, str, list[dict], list[str]], list[list[str]]]


def _metric_rows(results: dict, keys: list[str], under: Under | None = None
                 ) -> list[list[str]]:
    """Models x keys, best per column in bold, each followed by the rows ``under`` gives for
    it; then the italic real-data floor row."""
    agg = records.aggregate(results)
    vals = records.values(results)
    grouped = records.runs_by_model(results)
    best = {k: best_in_column(results, {n: s.get(k) for n, s in agg.items()}, k) for k in keys}
    rows = []
    for n, runs in grouped.items():
        rows.append([_model_cell(n, runs), _seeds_cell(runs)]
                    + [bold(interval_cell(agg[n].get(k), vals[n].get(k),
                                          records.is_count(results, k)), n in best[k])
                       for k in keys])
        rows += under(results, n, runs, keys) if under else []
    real = floor(results)
    if any(k in real for k in keys):
        rows.append([FLOOR_LABEL, ""] + [italic(fmt(real.get(k), records.is_count(results, k)))
                                         for k in keys])
    return rows


def metric_table(results: dict, keys, under: Under | None = None) -> list[str]:
    keys = present(records.aggregate(results), keys)
    if not keys:
        return ["_No model has these metrics in this run._"]
    lines = table(["Model", "Seeds"] + [head(results, k) for k in keys],
                  _metric_rows(results, keys, under))
    if any(diverged(runs) for runs in records.runs_by_model(results).values()):
        lines += ["", "† diverged in at least one seed; its metrics are from where training "
                  "stopped (see Notes)."]
    return lines


def link(run_dir: Path | None, rel) -> str | None:
    """rel as a link target (percent-encoded: a '#', ':' or ')' in it is part of the name),
    or None when it is not a path inside the run folder (schema.inside) or, when run_dir is
    given, not a file there (schema.run_file)."""
    if not schema.inside(rel) or (run_dir is not None and not schema.run_file(run_dir, rel)):
        return None
    return quote(rel, safe="/+=")


def figure(run_dir: Path | None, rel: str | None, alt: str) -> str | None:
    """An image line for rel (alt: Markdown text), or None when it is no file of the run's
    (``link``)."""
    target = link(run_dir, rel)
    return f"![{alt}]({target})" if target else None


def figure_block(run_dir: Path | None, rel: str, alt: str) -> list[str]:
    """The image line and a blank line after it, or nothing when the figure is missing."""
    fig = figure(run_dir, rel, alt)
    return [fig, ""] if fig else []


def when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
