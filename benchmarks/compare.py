"""``python -m benchmarks compare RUN_DIR...``: one report across runs (TensorFlow vs JAX,
float32 vs bfloat16, before vs after a change), with the same intervals as a run's own.

Each run's models are renamed ``model@label`` (label: the run folder's name), so the report's
tables, probability-of-improvement matrix and verdict compare them like models of one run.
Runs scored on different data, by different classifiers or on different sample counts are not
comparable and are refused.
Folders written by ``score`` (samples made elsewhere) are run folders too: their rows sit beside
trained models, with intervals over seeds where a row has several sample sets.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from benchmarks.config import ON_THE_FLY
from benchmarks.errors import UserError
from benchmarks.folder import RunFolder
from benchmarks.signals import SIGNALS
from reports.blocks import when

COMMAND = "python -m benchmarks compare"  # what merge() records: a comparison's own folder

# what must agree for two runs' metrics to be comparable: the data, its scoring classifier and
# the number of samples scored (FID is biased by it, and more samples find more modes)
SAME = (("dataset", "name"), ("dataset", "train_size"), ("dataset", "test_size"),
        ("classifier", "test_accuracy"), ("config", "samples"))
# how a difference in each section is said, and its fix
DIFFERENT = {"dataset": ("datasets", "compare runs made on the same dataset with the same "
                         "classifier"),
             "classifier": ("classifiers", "compare runs made on the same dataset with the "
                            "same classifier"),
             "config": ("sample counts", "FID and modes covered depend on how many samples "
                        "are scored: compare runs scored with the same --samples")}
# the budget a report's Config line states: kept in a comparison only where every run agrees
# (the notes give each run's steps); a differing one is dropped rather than shown as the first's
BUDGET = ("preset", "steps", "batch_size", "eval_every", "eval_samples")


def labels(run_dirs: list[Path]) -> list[str]:
    names = [d.resolve().name for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [f"{n}#{i + 1}" for i, n in enumerate(names)]


def check_comparable(loaded: list[tuple[str, dict]]) -> None:
    """One line naming the first field on which a run differs from the first run."""
    first_label, first = loaded[0]
    for label, results in loaded[1:]:
        for section, field in SAME:
            a = (first.get(section) or {}).get(field)
            b = (results.get(section) or {}).get(field)
            if a != b:
                what, fix = DIFFERENT[section]
                raise UserError(f"cannot compare {first_label} and {label}: different "
                                f"{what} ({section}.{field} {a!r} vs {b!r}); {fix}")


def _span(loaded: list[tuple[str, dict]]) -> dict:
    """The comparison's started and finished: the first run's start and the last run's end
    (unfinished while one is), so its Date line spans them all, not the first run's alone."""
    starts = [when(r.get("started")) for _, r in loaded]
    ends = [when(r.get("finished")) for _, r in loaded]
    span = {}
    try:
        if all(starts):
            span["started"] = min(starts).isoformat(timespec="seconds")
        span["finished"] = max(ends).isoformat(timespec="seconds") if all(ends) else None
    except TypeError:  # a date with a time zone beside one without: the first run's dates
        return {}
    return span


def merge(loaded: list[tuple[str, dict]], run_dirs: list[Path], out: Path) -> dict:
    """One record holding every run, its models renamed model@label, its figures copied into
    out (``copy_figures``)."""
    from reports import records
    from reports.schema import run_key

    first = copy.deepcopy(loaded[0][1])
    models, sweep, runs, notes, published = [], {}, [], [], []
    for i, ((label, results), src) in enumerate(zip(loaded, run_dirs, strict=True)):
        cfg, env = results.get("config", {}), results.get("environment", {})
        for name in cfg.get("models", []):
            models.append(f"{name}@{label}")
            if name in (cfg.get("sweep") or {}):
                sweep[f"{name}@{label}"] = cfg["sweep"][name]
        for run in results["runs"]:
            run = copy.deepcopy(run)
            run["model"] = f"{run['model']}@{label}"
            run["key"] = run_key(run["model"], run.get("overrides") or {}, run["seed"])
            run["figures"] = copy_figures(run.get("figures") or {}, src, out, i + 1)
            runs.append(run)
        # a paper's rows sit beside this run's models, renamed as they are
        published += [{**row, "model": f"{row['model']}@{label}"}
                      for row in results.get("published") or []]
        how = (f"{cfg.get('precision', '?')}, {cfg.get('steps', '?')} steps"
               if records.any_trained(results) else "scored samples, nothing trained")
        if cfg.get("draw") == ON_THE_FLY:  # the merged record keeps the first's dataset line
            how += ", training images drawn on the fly"
        started = when(results.get("started"))
        date = f"{started:%Y-%m-%d %H:%M}; " if started else ""
        notes.append(f"{label}: {src} ({date}{env.get('backend', '?')} on "
                     f"{env.get('device', '?')}, {how}, status {results.get('status')})")
    first["config"].update(models=models, sweep=sweep,
                           seeds=max(r.get("config", {}).get("seeds") or 0 for _, r in loaded))
    differ = []
    for key in BUDGET:
        values = [r.get("config", {}).get(key) for _, r in loaded]
        if any(v != values[0] for v in values):
            first["config"].pop(key, None)
            differ.append(f"{key} " + ", ".join(f"{_budget(v)} ({label})" for v, (label, _)
                                                in zip(values, loaded, strict=True)))
    if differ:
        notes.insert(0, "The compared runs' budgets differ, so the Config line gives only what "
                        "they share: " + "; ".join(differ) + ".")
    first.update(_span(loaded))
    first.update(runs=runs, notes=notes, command=f"{COMMAND} "
                 + " ".join(str(d) for d in run_dirs),
                 status="complete" if all(r.get("status") == "complete" for _, r in loaded)
                 else "interrupted")
    first.pop("published", None)
    if published:
        first["published"] = published
    return first


def _budget(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "none" if value is None else str(value)


def copy_figures(figures: dict[str, str], src: Path, out: Path, n: int) -> dict[str, str]:
    """A run's figures copied from its folder src into out/figures/runN (n: src's place in
    the comparison): a report links only files inside its own folder. A path the record names
    outside src is dropped, not followed; a figure src does not hold keeps its new path (the
    report leaves it out, as before)."""
    from reports import schema

    into = out / "figures" / f"run{n}"
    copied = {}
    for key, rel in figures.items():
        if not schema.inside(rel):
            continue
        dest = into / rel.removeprefix("figures/")
        found = schema.run_file(src, rel)
        if found:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, dest)
        copied[key] = dest.relative_to(out).as_posix()
    return copied


def compare(run_dirs: list[str], out: str | None = None) -> Path:
    """Write out/results.json (the merged record) and out/report.md; returns the report."""
    from reports import schema

    signals = SIGNALS.start()  # a signal before the record is written stops at once
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise UserError("compare needs at least two run folders, e.g. "
                        "python -m benchmarks compare runs/tf runs/jax")
    seen: dict[Path, Path] = {}
    for d in dirs:  # the same run twice would compare it with itself, its verdict a tie
        first = seen.setdefault(d.resolve(), d)
        if first is not d:
            same = f"{d} is given twice" if str(first) == str(d) else \
                f"{first} and {d} are the same run folder"
            raise UserError(f"{same}; compare a run with a different one")
    loaded = []
    for d, label in zip(dirs, labels(dirs), strict=True):
        try:
            loaded.append((label, schema.load(d)))
        except (OSError, schema.RecordError) as e:
            raise UserError(f"cannot compare {d}: {e}") from None
    check_comparable(loaded)
    folder = RunFolder.create(out, "compare", signals, again=_again,
                              subfolders=("figures",), replaces=COMMAND)
    with folder.full_disk():  # merge copies the runs' figures
        folder.results = merge(loaded, dirs, folder.path.resolve())
        return folder.finish(None)  # the merged record keeps its runs' status


def _again(folder: Path) -> str:
    return "compare again into it, or choose another folder with --out DIR"
