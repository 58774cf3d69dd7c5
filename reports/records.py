"""Questions asked of a record: which models, which runs count, and summaries over seeds.

A record is the plain dict that ``reports.schema`` defines and validates. Aggregates are
``Stat`` tuples ``(mean, std, n)``: std is the sample std (ddof=1) over seeds, 0.0 for a single
seed.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from reports.schema import SCORED_STATUSES, run_key

HISTOGRAM_KEY = "class_histogram"


class Stat(NamedTuple):
    mean: float
    std: float
    n: int


def arm(run: dict) -> str:
    """What the report compares: the model, or the model and its swept settings
    ('dcgan[lr=0.0001]'): a run's key without its seed."""
    return run_key(run["model"], run.get("overrides") or {}, 0).rsplit("/", 1)[0]


def models(results: dict) -> list[str]:
    """Model names (a swept model once per setting) in config order, then any others in the
    order their runs appear."""
    swept = results.get("config", {}).get("sweep") or {}
    arms = list(dict.fromkeys(arm(r) for r in results.get("runs", [])))
    names: list[str] = []
    for name in results.get("config", {}).get("models", []):
        names += [a for a in arms if a.split("[")[0] == name] if name in swept else [name]
    return names + [a for a in arms if a not in names]


def planned(results: dict) -> int:
    """How many runs the grid has: per model, the product of its swept lists, times seeds."""
    cfg = results.get("config", {})
    sweep = cfg.get("sweep") or {}
    settings = [math.prod(len(v) for v in sweep.get(m, {}).values())
                for m in cfg.get("models", [])]
    return sum(settings) * (cfg.get("seeds") or 0)


def runs_by_model(results: dict) -> dict[str, list[dict]]:
    """Every run grouped by model and setting (models without runs map to an empty list),
    each group in seed order: results.json lists runs as they finish, which with several
    workers varies from one run of a grid to the next, and a bootstrap interval resamples
    its values by position, so the same seeds must reach it in the same order."""
    grouped: dict[str, list[dict]] = {name: [] for name in models(results)}
    for run in sorted(results.get("runs", []), key=lambda run: run["seed"]):
        grouped[arm(run)].append(run)
    return grouped


def values(results: dict, section: str = "final") -> dict[str, dict[str, list[float]]]:
    """model -> metric -> the finite value of each scored run, for intervals over seeds."""
    out: dict[str, dict[str, list[float]]] = {}
    for name, runs in runs_by_model(results).items():
        out[name] = {}
        for d in (_section(r, section) for r in runs if scored(r)):
            for k, v in (d or {}).items():
                if _is_number(v) and math.isfinite(v):
                    out[name].setdefault(k, []).append(float(v))
    return out


def scored(run: dict) -> bool:
    return run["status"] in SCORED_STATUSES and bool(run.get("final"))


def trained(run: dict) -> bool:
    """False for samples scored by ``score`` (their run has a ``source``, no training)."""
    return not run.get("source")


def any_trained(results: dict) -> bool:
    """Whether the record has training to show (curves, throughput, progress frames)."""
    runs = results.get("runs", [])
    return not runs or any(trained(r) for r in runs)


def mean_std(values: list[float]) -> Stat:
    """Mean and sample std (ddof=1; 0.0 for one value). Non-finite values propagate."""
    n = len(values)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Stat(mean, 0.0, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Stat(mean, math.sqrt(var) if math.isfinite(var) else math.nan, n)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _aggregate_dicts(dicts: list[dict]) -> dict[str, Stat]:
    keys: list[str] = []
    for d in dicts:
        keys += [k for k, v in d.items() if _is_number(v) and k not in keys]
    return {k: mean_std([float(d[k]) for d in dicts if _is_number(d.get(k))]) for k in keys}


def _section(run: dict, section: str) -> dict | None:
    if section == "best":
        best = run.get("best") or {}
        return best.get("metrics") or None
    return run.get(section) or None


def aggregate(results: dict, section: str = "final") -> dict[str, dict[str, Stat]]:
    """model -> metric -> Stat over scored runs' "final" (or "best") scalar metrics.

    Only finished or diverged runs with a final count. A model without any such run maps to
    an empty dict.
    """
    out: dict[str, dict[str, Stat]] = {}
    for name, runs in runs_by_model(results).items():
        dicts = [_section(r, section) for r in runs if scored(r)]
        out[name] = _aggregate_dicts([d for d in dicts if d])
    return out


def aggregate_best_step(results: dict) -> dict[str, Stat]:
    """model -> Stat of the step at which each scored run's best checkpoint was taken."""
    out = {}
    for name, runs in runs_by_model(results).items():
        steps = [r["best"]["step"] for r in runs
                 if scored(r) and _is_number((r.get("best") or {}).get("step"))]
        if steps:
            out[name] = mean_std([float(s) for s in steps])
    return out


def aggregate_throughput(results: dict) -> dict[tuple[str, str], dict[str, Stat]]:
    """(model, backend) -> throughput key -> Stat, over every run that measured throughput.

    Interrupted runs count here: their steps were timed honestly even without final metrics.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    default_backend = results.get("environment", {}).get("backend") or "?"
    for name, runs in runs_by_model(results).items():
        for run in runs:
            tp = run.get("throughput")
            if tp:
                groups.setdefault((name, tp.get("backend") or default_backend), []).append(tp)
    return {key: _aggregate_dicts(tps) for key, tps in groups.items()}


def nfe_sweeps(results: dict) -> dict[str, dict[str, dict[int, Stat]]]:
    """model -> metric -> NFE -> Stat over its scored runs' NFE sweeps (iterative models; the
    others, and records from before the sweep, have none)."""
    out: dict[str, dict[str, dict[int, Stat]]] = {}
    for name, runs in runs_by_model(results).items():
        sweeps = [r["nfe_sweep"] for r in runs if scored(r) and r.get("nfe_sweep")]
        values: dict[str, dict[int, list[float]]] = {}
        for sweep in sweeps:
            for key, column in sweep["metrics"].items():
                for nfe, value in zip(sweep["nfe"], column, strict=False):
                    if _is_number(value):
                        values.setdefault(key, {}).setdefault(int(nfe), []).append(float(value))
        if values:
            out[name] = {key: {nfe: mean_std(v) for nfe, v in sorted(by_nfe.items())}
                         for key, by_nfe in values.items()}
    return out


def sweep_keys(results: dict) -> list[str]:
    """The metrics the report shows against NFE: FID, recall and the first count of the
    mode-collapse figures (classes covered, or Stacked MNIST's triples)."""
    counts = [k for k in section_keys(results, "mode_collapse") if is_count(results, k)]
    return ["fid", "recall", *counts[:1]]


def measured_sampling(results: dict) -> bool:
    """Whether any run measured its sampling speed (records from before it did not)."""
    return any(_is_number((r.get("throughput") or {}).get("sampling_images_per_s"))
               for r in results.get("runs", []))


def histograms(results: dict) -> dict[str, list[list[float]]]:
    """model -> the class histogram of each scored run (models with none are left out)."""
    out = {}
    for name, runs in runs_by_model(results).items():
        hists = [r["final"][HISTOGRAM_KEY] for r in runs
                 if scored(r) and r["final"].get(HISTOGRAM_KEY)]
        if hists:
            out[name] = hists
    return out


def num_classes(results: dict) -> int | None:
    """How many classes the dataset has (from class_names, else the floor's histogram)."""
    names = results.get("dataset", {}).get("class_names")
    if names:
        return len(names)
    floor_hist = (results.get("floor") or {}).get(HISTOGRAM_KEY)
    return len(floor_hist) if floor_hist else None


def class_words(results: dict) -> tuple[str, str]:
    """What the dataset's classes are called, one and many: modes for points drawn from a
    mixture (its components; a record of points has a one-number image_shape, (D,))."""
    shape = (results.get("dataset") or {}).get("image_shape") or []
    return ("mode", "modes") if len(shape) == 1 else ("class", "classes")


def metric_keys(results: dict) -> list[str]:
    """Scalar metric keys: the order of results["metrics"], then any others runs report."""
    keys = [k for k in results.get("metrics", {}) if k != HISTOGRAM_KEY]
    for run in results.get("runs", []):
        for k, v in (run.get("final") or {}).items():
            if _is_number(v) and k not in keys:
                keys.append(k)
    return keys


def _info(results: dict, key: str) -> dict:
    """What the record says about a metric (results["metrics"][key]); {} for a key it does not
    describe."""
    return results.get("metrics", {}).get(key) or {}


def direction(results: dict, key: str) -> str | None:
    """"lower", "higher", "target" (closest to 1 is best) or None when unknown."""
    return _info(results, key).get("direction")


def label(results: dict, key: str) -> str:
    return _info(results, key).get("label") or key


def short_label(results: dict, key: str) -> str:
    """The column header where space is tight (the console)."""
    return _info(results, key).get("short") or label(results, key)


def is_count(results: dict, key: str) -> bool:
    """Whether the metric is a whole number per seed (modes covered)."""
    return _info(results, key).get("count") is True


def _placed(results: dict, place: str) -> list[str]:
    placed = [(info[place], k) for k, info in results.get("metrics", {}).items()
              if isinstance(info, dict) and _is_number(info.get(place))]
    return [k for _, k in sorted(placed, key=lambda item: item[0])]


def summary_keys(results: dict) -> list[str]:
    """The metrics a summary shows, in order (the report's Summary table; the console shows
    those it has room for). Every metric is in the report's All metrics table."""
    return _placed(results, "summary")


def verdict_keys(results: dict) -> list[str]:
    """The metrics the verdict may rank by, first choice first."""
    return _placed(results, "verdict")


def section_keys(results: dict, section: str) -> list[str]:
    """The metrics of one of the report's tables ("mode_collapse", "diversity"), in the
    record's order."""
    return [k for k, info in results.get("metrics", {}).items()
            if isinstance(info, dict) and info.get("section") == section]


def has_curve(results: dict, key: str) -> bool:
    """Whether any run has an evaluation curve with at least one value for key."""
    for run in results.get("runs", []):
        curves = run.get("curves") or {}
        if curves.get("step") and any(_is_number(v) for v in curves.get(key) or []):
            return True
    return False


def has_losses(results: dict) -> bool:
    for run in results.get("runs", []):
        losses = run.get("losses") or {}
        if losses.get("step") and any(k != "step" and v for k, v in losses.items()):
            return True
    return False


def target(results: dict, key: str) -> float | None:
    """The ideal value of a "target" metric (density: 1), or None when the record has none."""
    value = (results.get("metrics", {}).get(key) or {}).get("target")
    return float(value) if _is_number(value) else None


def best_models(stats: dict[str, Stat | None], direction: str | None,
                goal: float | None = None) -> set[str]:
    """The model(s) with the best finite mean; empty with fewer than two to compare.

    direction "target" ranks by distance to goal (the metric's target value).
    """
    score = {"lower": lambda m: m, "higher": lambda m: -m}
    if goal is not None:
        score["target"] = lambda m: abs(m - goal)
    if direction not in score:
        return set()
    finite = {n: score[direction](s.mean) for n, s in stats.items()
              if s and s.n and math.isfinite(s.mean)}
    if len(finite) < 2:
        return set()
    top = min(finite.values())
    best = {n for n, v in finite.items() if math.isclose(v, top, rel_tol=1e-12, abs_tol=1e-15)}
    return best if len(best) < len(finite) else set()  # all tied: nothing stands out


def unreadable_metrics(results: dict) -> list[tuple[str, str, Any]]:
    """(where, key, value) for each stored metric that is not a number, null or a histogram
    list, e.g. ("dcgan seed 0 final", "fid", "12.3"): the report shows these as missing and
    says so, rather than silently."""
    sections = [("real data (floor)", results.get("floor"))]
    for run in results.get("runs", []):
        where = f"{run['model']} seed {run['seed']}"
        sections += [(f"{where} final", run.get("final")),
                     (f"{where} best", (run.get("best") or {}).get("metrics"))]
    return [(where, k, v) for where, values in sections if isinstance(values, dict)
            for k, v in values.items()
            if v is not None and not _is_number(v) and not isinstance(v, list)]
