"""The results.json record: load it, check it, and summarise runs over seeds.

A record is a plain dict (what ``json.load`` returns), so the report can be re-rendered from
the file alone without importing the models or the metrics. Aggregates are ``Stat`` tuples
``(mean, std, n)``: std is the sample std (ddof=1) over seeds, 0.0 for a single seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NamedTuple

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)
RESULTS_FILE = "results.json"

REQUIRED_KEYS = ("schema_version", "status", "config", "environment", "dataset", "metrics",
                 "runs")
RUN_KEYS = ("model", "seed", "status")
RUN_STATUSES = ("finished", "diverged", "interrupted")
# Runs whose metrics count: a diverged run keeps its numbers, an interrupted one has none.
SCORED_STATUSES = ("finished", "diverged")
HISTOGRAM_KEY = "class_histogram"


class RecordError(ValueError):
    """A results file that cannot be read as a schema-1 record; the message names the fix."""


class Stat(NamedTuple):
    mean: float
    std: float
    n: int


def load(path: str | Path) -> dict:
    """Read and validate a results.json (or a run folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise RecordError(f"{path}: no such file; pass a run folder made by "
                          f"'python -m benchmarks run' (it holds {RESULTS_FILE})")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: not valid JSON ({err}); the run may have been cut off "
                          "while writing it: re-run the benchmark") from None
    try:
        return validate(results)
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from None


def validate(results: Any) -> dict:
    """Check the top-level and per-run keys; return the record unchanged."""
    if not isinstance(results, dict):
        raise RecordError(f"expected a JSON object, found {type(results).__name__}")
    version = results.get("schema_version")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_VERSIONS))
        raise RecordError(f"schema_version {version!r} is not supported (this genbench reads "
                          f"{supported}); re-render with the genbench version that wrote it, "
                          "or re-run the benchmark")
    missing = [key for key in REQUIRED_KEYS if key not in results]
    if missing:
        raise RecordError(f"missing top-level keys: {', '.join(missing)}")
    if not isinstance(results["runs"], list):
        raise RecordError("'runs' must be a list")
    for i, run in enumerate(results["runs"]):
        if not isinstance(run, dict):
            raise RecordError(f"runs[{i}] must be an object")
        missing = [key for key in RUN_KEYS if key not in run]
        if missing:
            raise RecordError(f"runs[{i}] is missing keys: {', '.join(missing)}")
        if run["status"] not in RUN_STATUSES:
            raise RecordError(f"runs[{i}] has status {run['status']!r}; expected one of "
                              f"{', '.join(RUN_STATUSES)}")
    return results


def models(results: dict) -> list[str]:
    """Model names in config order, then any others in the order their runs appear."""
    names = list(results.get("config", {}).get("models", []))
    for run in results.get("runs", []):
        if run["model"] not in names:
            names.append(run["model"])
    return names


def runs_by_model(results: dict) -> dict[str, list[dict]]:
    """Every run grouped by model (models without runs map to an empty list)."""
    grouped: dict[str, list[dict]] = {name: [] for name in models(results)}
    for run in results.get("runs", []):
        grouped[run["model"]].append(run)
    return grouped


def scored(run: dict) -> bool:
    return run["status"] in SCORED_STATUSES and bool(run.get("final"))


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


def metric_keys(results: dict) -> list[str]:
    """Scalar metric keys: the order of results["metrics"], then any others runs report."""
    keys = [k for k in results.get("metrics", {}) if k != HISTOGRAM_KEY]
    for run in results.get("runs", []):
        for k, v in (run.get("final") or {}).items():
            if _is_number(v) and k not in keys:
                keys.append(k)
    return keys


def direction(results: dict, key: str) -> str | None:
    """"lower", "higher", "target" (closest to 1 is best) or None when unknown."""
    return (results.get("metrics", {}).get(key) or {}).get("direction")


def label(results: dict, key: str) -> str:
    return (results.get("metrics", {}).get(key) or {}).get("label") or key


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
