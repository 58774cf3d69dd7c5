"""What the seeds can tell apart: the verdict's rule, the probability-of-improvement matrix,
and, for a sweep, each model's best setting and how the primary metric moves with it.

The numbers come from ``reports.stats``; this module only words and lays them out.
"""

from __future__ import annotations

from pathlib import Path

from reports import records, stats
from reports.blocks import figure_block, label, primary, table
from reports.format import DASH, fmt, interval_cell, plural, text

SENSITIVITY_FIGURE = "figures/sensitivity.png"


def _oriented(results: dict, key: str, values: list[float]):
    return stats.oriented(values, records.direction(results, key), records.target(results, key))


def lead(results: dict, key: str, first: str, second: str) -> tuple[bool, str]:
    """Whether ``first`` (best mean) is told apart from ``second``, and a sentence saying so."""
    vals = records.values(results)
    a = _oriented(results, key, vals[first].get(key, []))
    b = _oriented(results, key, vals[second].get(key, []))
    v = stats.compare(a, b)
    if v.winner == "a" and v.interval:
        low, high = sorted(abs(x) for x in v.interval)
        count = records.is_count(results, key)
        return True, (f"The lead over {text(second)} holds at {plural(v.seeds, 'seed')}: the "
                f"95% Welch interval of the difference is {fmt(low, count)} to {fmt(high, count)}.")
    said = f"{text(first)} and {text(second)} are not distinguishable at {plural(v.seeds, 'seed')}"
    if v.seeds < 2:
        return False, said + " (telling them apart takes at least 2 seeds each)."
    if v.seeds_needed:
        return False, said + (f"; their observed spread suggests about {v.seeds_needed} seeds per "
                       "model to tell this difference apart (see Significance).")
    return False, said + "."


def section(results: dict) -> list[str]:
    """Probability that the row model beats the column model on the primary metric."""
    agg = records.aggregate(results)
    key = primary(results, agg)
    vals = records.values(results)
    names = [n for n in records.models(results) if key and vals.get(n, {}).get(key)]
    if key is None or len(names) < 2:
        return ["_Fewer than two models have the primary metric: nothing to compare._"]
    scores = {n: _oriented(results, key, vals[n][key]) for n in names}
    rows = []
    for a in names:
        row = [text(a)]
        for b in names:
            if a == b:
                row.append(DASH)
                continue
            p = stats.probability_of_improvement(scores[a], scores[b])
            ci = stats.poi_interval(scores[a], scores[b])
            row.append(f"{p:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
        rows.append(row)
    metric = label(results, key)
    n = min(len(scores[x]) for x in names)
    return [f"Probability that the row model beats the column model on {metric}: over every "
            "pair of a row seed and a column seed, the share the row wins, ties counting half "
            "(rliable's probability of improvement); in brackets its 95% percentile bootstrap "
            "interval, resampling each model's seeds.", "",
            *table(["", *(text(b) for b in names)], rows), "",
            "The verdict names a winner only where the 95% Welch interval of the difference of "
            "means excludes 0 (Welch's t: at a few seeds a bootstrap interval is as narrow as "
            "the seeds are few). Otherwise the models are not distinguishable at that many "
            "seeds, and the seeds suggested are the fewest per model at which Welch's test "
            "at the 5% level detects the observed difference with 80% power, taking "
            "the observed per-seed spread as the true one (noncentral t). Summary intervals: "
            "95% bootstrap of the mean over "
            f"seeds (scipy.stats.bootstrap, {stats.bootstrap_method(n)} at {plural(n, 'seed')}; "
            f"BCa from {stats.BCA_MIN_SAMPLES} seeds).", ]


def sweep(results: dict, run_dir: Path | None) -> list[str]:
    """Per swept model: each setting's primary metric, the best in bold, and the plot."""
    swept = results.get("config", {}).get("sweep") or {}
    agg = records.aggregate(results)
    key = primary(results, agg)
    if not swept or key is None:
        return []
    vals = records.values(results)
    lines = []
    for model in swept:
        arms = [n for n, runs in records.runs_by_model(results).items()
                if runs and runs[0]["model"] == model]
        stat = {n: agg[n].get(key) for n in arms}
        best = records.best_models(stat, records.direction(results, key),
                                   records.target(results, key))
        count = records.is_count(results, key)
        rows = [[text(n), f"**{interval_cell(stat[n], vals[n].get(key), count)}**" if n in best
                 else interval_cell(stat[n], vals[n].get(key), count)] for n in arms]
        top = " and ".join(text(n) for n in sorted(best)) or "none stands out"
        lines += [f"**{text(model)}**, best setting by {label(results, key)}: "
                  f"{top}.", "", *table(["Setting", label(results, key)], rows),
                  ""]
    return lines + figure_block(run_dir, SENSITIVITY_FIGURE,
                                f"{label(results, key)} against each swept setting, "
                                "every seed a point")
