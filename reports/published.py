"""The papers' rows under ours: results.json's ``published`` (the rows of the table the run's
preset reproduces, written by the runner) set under the matching row of the Mode collapse
table, each figure with the paper's 95% interval, our mean minus the paper's, and whether our
mean lies inside that interval (``reports.stats.published_interval``).

A published row sits under one of our rows (a model and its swept settings) when the model is
its model and every setting it names has its value in those runs: their swept settings, else
their model settings, else the run's fixed ones (config.overrides).
"""

from __future__ import annotations

from reports import records, stats
from reports.format import DASH, fmt, join, plural, text
from reports.records import Stat

INSIDE, OUTSIDE, NO_INTERVAL = "inside", "outside", "no interval published"
_MISSING = object()


def _setting(results: dict, runs: list[dict], key: str):
    for run in runs:
        for settings in (run.get("overrides"), run.get("model_config")):
            if isinstance(settings, dict) and key in settings:
                return settings[key]
    fixed = (results.get("config", {}).get("overrides") or {}).get(runs[0]["model"]) or {}
    return fixed.get(key, _MISSING)


def matching(results: dict, runs: list[dict]) -> list[dict]:
    """The published rows that sit beside the row of these runs (one model and setting)."""
    if not runs:
        return []
    return [row for row in results.get("published") or []
            if row["model"] == runs[0]["model"]
            and all(_setting(results, runs, k) == v for k, v in row["settings"].items())]


def verdict(ours: float | None, interval: tuple[float, float] | None) -> str:
    """Whether our mean lies inside the published interval (endpoints count as inside)."""
    if interval is None:
        return NO_INTERVAL
    if ours is None:
        return DASH
    return INSIDE if interval[0] <= ours <= interval[1] else OUTSIDE


def _signed(x: float, count: bool) -> str:
    return ("+" if x > 0 else "−" if x < 0 else "") + fmt(abs(x), count)


def _interval(figure: dict) -> tuple[float, float] | None:
    return stats.published_interval(figure["mean"], figure.get("spread"),
                                    figure.get("spread_kind"), figure["runs"])


def figure_cell(figure: dict | None, ours: Stat | None, count: bool) -> str:
    """'6.3 [5.17, 7.43] · +0.2 · inside': the paper's mean, its interval, our mean minus
    it and the verdict; "—" for a figure the paper does not give."""
    if not figure:
        return DASH
    mean = figure["mean"]
    interval = _interval(figure)
    ours_mean = ours.mean if ours is not None and ours.n else None
    parts = [fmt(mean, count) + (f" [{fmt(interval[0], count)}, {fmt(interval[1], count)}]"
                                 if interval else "")]
    parts += [_signed(ours_mean - mean, count) if ours_mean is not None else DASH,
              verdict(ours_mean, interval)]
    return " · ".join(parts)


def rows_under(results: dict, name: str, runs: list[dict], keys: list[str]) -> list[list[str]]:
    """The published rows under our row ``name``: label, the paper's runs, a cell per key."""
    ours = records.aggregate(results).get(name, {})
    rows = []
    for row in matching(results, runs):
        counts = {f["runs"] for f in row["metrics"].values()}
        rows.append([f"*{text(row['label'])}, published*", join(sorted(map(str, counts)))]
                    + [figure_cell(row["metrics"].get(k), ours.get(k),
                                   records.is_count(results, k)) for k in keys])
    return rows


def sentence(results: dict) -> list[str]:
    """The verdict's sentence: how many of our means lie inside the paper's intervals."""
    agg = records.aggregate(results)
    said, sources = [], []
    for name, runs in records.runs_by_model(results).items():
        for row in matching(results, runs):
            sources.append(row["source"])
            said += [verdict(ours.mean, _interval(figure))
                     for key, figure in row["metrics"].items()
                     if (ours := agg.get(name, {}).get(key)) and ours.n]
    judged = [v for v in said if v in (INSIDE, OUTSIDE)]
    if not judged:
        return []
    source = join([text(s) for s in dict.fromkeys(sources)])
    return [f"Against {source}: {judged.count(INSIDE)} of our {len(judged)} means lie inside "
            "the paper's 95% interval (its rows are under ours in Mode collapse)."]


def note(results: dict) -> list[str]:
    """One line under the table: what the published rows are and how the interval is built;
    nothing when no row of ours has one."""
    grouped = records.runs_by_model(results)
    shown = [row for runs in grouped.values() for row in matching(results, runs)]
    if not shown:
        return []
    sources = join([text(s) for s in dict.fromkeys(row["source"] for row in shown)])
    kinds = {f.get("spread_kind") for row in shown for f in row["metrics"].values()}
    spread = join(sorted(k for k in kinds if k)) or "no spread"
    runs = join([plural(n, "run") for n in sorted({f["runs"] for row in shown
                                                   for f in row["metrics"].values()})])
    se = " (s.e. = s.d. / √runs)" if "s.d." in kinds else ""
    return ["", f"*Published* rows: {sources} (mean ± {spread} over {runs}), each figure as "
            f"the paper's mean [95% interval: mean ± t(0.975, runs − 1) × s.e.{se}] · our mean "
            "− the paper's · whether our mean lies inside that interval."]
