"""The ``run`` command's orchestration: models x seeds -> experiments -> results.json -> report.

Each finished (model, seed) is written to results.json at once (atomically), so Ctrl-C or a
crash loses only the one in progress. The checks of user input happen before this (``cli``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchmarks import (
    data,
    executors,
    experiment,
    plugins,
    preflight,
    published,
    space,
    study,
    tracking,
)
from benchmarks.config import ON_THE_FLY, PRESETS, RunConfig, check_models, steps_for_epochs
from benchmarks.errors import UserError
from benchmarks.folder import RESULTS_FILE, RunFolder, check_free
from benchmarks.results import command_line, new_record
from benchmarks.signals import SIGNALS, TRAIN
from benchmarks.trial import Trial


def run(cfg: RunConfig, *, cache_dir: str | None = None, epochs: int | None = None,
        summary: bool = False, executor: executors.Choice = executors.LOCAL) -> int:
    """A new run: load the data, check everything that can be checked, make the output
    folder, run every key of the grid."""
    from benchmarks.console import Console

    console = Console()
    signals = SIGNALS.start()  # a signal before the folder exists stops at once
    check_free(cfg.out)
    tracking.check(tracking.parse(cfg.tracker), Path(cfg.out or "runs/new"))
    unwritable = preflight.cache_unwritable(cache_dir)
    ds = _load_data(cfg, console, cache_dir)
    preflight.check_cache(unwritable, ds, cfg.samples, cache_dir)
    preflight.check_fits(cfg, ds)
    per_example = preflight.check_models_fit(cfg, ds)
    if epochs:
        cfg = dataclasses.replace(cfg, steps=steps_for_epochs(epochs, len(ds.x_train),
                                                              cfg.batch_size, per_example))
    preflight.check_split(cfg)
    todo, skipped = plan(cfg, [])
    warn_if_large(cfg, todo, console)
    folder = RunFolder.create(cfg.out, ds.name, signals, again=resume_hint)
    folder.results = new_results(cfg, ds)
    with folder.full_disk():
        return _execute(Training(cfg, ds, folder, todo, skipped, console, cache_dir, summary,
                                 executor))


def resume_hint(folder: Path) -> str:
    """How a stopped run is finished (said after a signal, a failure or a full disk)."""
    return f"finish it with: python -m benchmarks run --resume {folder}"


@dataclass
class Training:
    """What one ``run`` (or ``--resume``) carries from its checks to its last trial."""

    cfg: RunConfig
    ds: object  # benchmarks.data.Dataset
    folder: RunFolder  # its record in folder.results, its signals in folder.signals
    todo: list[study.TrialSpec]
    skipped: list[study.TrialSpec]
    console: object  # benchmarks.console.Console
    cache_dir: str | None
    summary: bool  # print each network's Keras summary
    executor: executors.Choice
    parent_run: str | None = None  # the command's MLflow parent run, once begun


LARGE_STUDY = 1_000  # runs: from this many on, the size and the time left are said up front
LISTED_SKIPS = 20  # resume names each finished run it skips, up to this many


def plan(cfg: RunConfig, runs: list[dict]) -> tuple[list[study.TrialSpec], list[study.TrialSpec]]:
    """The grid's runs still to do, and those already finished (skipped on resume), each in
    grid order (``study.pending``'s rule). Each key is made once and looked up in a set: a
    100,000-run grid plans in about a second (tests/perf/test_planning.py)."""
    done = study.done_keys(runs)
    todo, skipped = [], []
    for spec in study.grid(cfg.models, cfg.sweep, cfg.seeds):
        (skipped if spec.key in done else todo).append(spec)
    return todo, skipped


def warn_if_large(cfg: RunConfig, todo: list[study.TrialSpec], console) -> None:
    if len(todo) < LARGE_STUDY:
        return
    arms = "; ".join(f"{m}: {math.prod(len(v) for v in cfg.sweep.get(m, {}).values()):,} "
                     f"settings x {cfg.seeds:,} seeds" for m in cfg.models)
    console.loud(f"warning: {len(todo):,} runs to do ({arms}), {len(todo) * cfg.steps:,} "
                 "training steps; the time left is estimated when the first run finishes "
                 "(Ctrl-C stops, --resume continues)")


def _time_left(done: int, total: int, elapsed: float, parallel: int) -> str:
    seconds = elapsed / done * (total - done) / parallel
    return (f"{done:,} of {total:,} runs in {elapsed:,.0f} s: about {seconds / 3600:,.1f} h "
            f"for the other {total - done:,} at this pace")


def resume(path: str, *, cache_dir: str | None = None, data_dir: str | None = None,
           summary: bool = False, executor: executors.Choice = executors.LOCAL,
           classifier_gate: float | None = None) -> int:
    """Finish an interrupted or failed run with the settings it was started with: the keys of
    its grid that did not finish (interrupted, failed or never started). ``classifier_gate``
    replaces the gate it was started with (after a gate miss: the classifier was the same)."""
    from benchmarks.console import Console

    folder = RunFolder.reopen(path, SIGNALS.start(), again=resume_hint)
    results = folder.results
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    stored = {k: v for k, v in results["config"].items() if k in fields}
    cfg = RunConfig(**{**stored, "models": tuple(stored["models"]),
                       "plugins": tuple(stored.get("plugins", ()))})
    if data_dir:  # the files may have moved since; the dataset is checked by checksum
        cfg = dataclasses.replace(cfg, data_dir=data_dir)
    plugins.load(cfg.plugins)  # the run's own --plugin files define some of its models
    check_models(cfg.models)
    tracking.check(tracking.parse(cfg.tracker), folder.path)
    unwritable = preflight.cache_unwritable(cache_dir)
    preflight.check_split(cfg)  # this machine may have other devices than the one that started it
    resumed = f"resumed at {datetime.now():%Y-%m-%d %H:%M:%S}"
    if classifier_gate is not None:
        resumed += f" with --classifier-gate {classifier_gate:g} (was {_gate_was(cfg, results)})"
        cfg = dataclasses.replace(cfg, classifier_gate=classifier_gate)
        results["config"]["classifier_gate"] = classifier_gate
    console = Console()
    ds = _load_data(cfg, console, cache_dir)
    preflight.check_cache(unwritable, ds, cfg.samples, cache_dir)
    todo, skipped = plan(cfg, results["runs"])
    warn_if_large(cfg, todo, console)
    folder.lock()
    results["notes"].append(resumed)
    with folder.full_disk():
        return _execute(Training(cfg, ds, folder, todo, skipped, console, cache_dir, summary,
                                 executor))


def _gate_was(cfg: RunConfig, results: dict) -> str:
    """The gate a resumed run was started with: its --classifier-gate, or the dataset's own
    (the percent the record's classifier was held to, where one was built)."""
    if cfg.classifier_gate is not None:
        return f"{cfg.classifier_gate:g}"
    gate = (results.get("classifier") or {}).get("gate")
    return "the dataset's own" + (f", {gate * 100:g}" if gate is not None else "")


def _load_data(cfg: RunConfig, console, cache_dir: str | None):
    ds = data.load(cfg.dataset, cfg.data_dir, image_size=cfg.image_size, channels=cfg.channels,
                   classifier_gate=cfg.classifier_gate, cache_dir=cache_dir)
    data.check_minimum(ds)  # before the classifier trains on it
    if cfg.draw == ON_THE_FLY:  # trained on images drawn afresh: one line if it cannot be
        ds = data.on_the_fly(ds)
    if ds.note:
        console.loud(ds.note)
    console.info(f"dataset {ds.name} from {ds.source}: {len(ds.x_train):,} train / "
                 f"{len(ds.x_test):,} test images")
    return ds


def _execute(t: Training) -> int:
    results = t.folder.results
    results["command"] = results.get("command") or command_line()
    results["runs"] = [r for r in results["runs"] if r["status"] in study.DONE_STATUSES]
    _say_skipped(t.skipped, t.console)
    try:
        return t.folder.work(lambda: _train_all(t), t.console)
    finally:
        note = tracking.end(t.folder.path, t.parent_run, results.get("status", "failed"))
        if note:
            t.console.loud(note)


def _say_skipped(skipped: list, console) -> None:
    from rich.markup import escape  # a swept key's [settings] are not markup

    if len(skipped) > LISTED_SKIPS:
        console.info(f"{len(skipped):,} runs already finished, skipped (resume)")
        return
    for spec in skipped:
        console.info(escape(f"{spec.arm} seed {spec.seed}: already finished, skipped (resume)"))


def _train_all(t: Training) -> None:
    """The scoring space, then every run still to do, each record written as it comes."""
    from metrics.cache import default_cache_dir

    folder, results, signals = t.folder, t.folder.results, t.folder.signals
    started = [0.0, 0]  # when training began; runs reported since

    def on_result(trial: Trial) -> None:
        results["runs"].append(trial.record())
        results["notes"] += [n for n in trial.notes if n not in results["notes"]]
        folder.write()
        started[1] += 1
        if started[1] == 1 and len(t.todo) >= LARGE_STUDY:
            parallel = t.executor.workers if t.executor.kind == "local" else 1
            t.console.loud(_time_left(1, len(t.todo), time.monotonic() - started[0], parallel))

    folder.write()
    t.console.info("scoring space: " + ("the known mixture" if t.ds.mixture is not None else
                                        "loading or training the dataset classifier ..."))
    reference = space.build(t.ds, t.cfg.samples, cache_dir=t.cache_dir, note=t.console.loud,
                            results=results)
    folder.write()
    cfg = _begin_tracking(t)
    ctx = experiment.Context(cfg, t.ds, reference, folder.path, t.console, t.summary,
                             t.parent_run)
    # worker processes load the classifier and statistics space.build just cached there
    job = executors.Job(cfg, t.ds.name, str(folder.path.resolve()),
                        str(default_cache_dir(t.cache_dir).resolve()), t.parent_run)
    signals.mode = TRAIN
    started[0] = time.monotonic()
    executors.execute(t.executor, t.todo, ctx, job, on_result,
                      lambda: signals.requested is not None)
    if signals.requested:
        signals.stop()


def _begin_tracking(t: Training) -> RunConfig:
    """The command's MLflow parent run; a store that cannot be written then is a note, and
    the run trains without MLflow (a tracker never costs a run)."""
    from rich.markup import escape  # a folder's name is not markup

    names, t.parent_run, note = tracking.start(tracking.parse(t.cfg.tracker), t.folder.path,
                                               t.folder.results["command"])
    for line in tracking.where(names, t.folder.path, t.parent_run):
        t.console.info(escape(line))
    if note is None:
        return t.cfg
    t.folder.note(note)
    t.console.note(note)
    return dataclasses.replace(t.cfg, tracker=",".join(names) or tracking.NONE)


def new_results(cfg: RunConfig, ds) -> dict:
    # config.dataset: what `data.load` takes to load the same data again on --resume
    record = new_record(ds, {**dataclasses.asdict(cfg), "dataset": ds.request or ds.name,
                             "dataset_requested": cfg.dataset or data.DEFAULT_DATASET,
                             "preset_about": PRESETS[cfg.preset].about}, cfg.backend)
    rows = published.for_run(cfg.preset, ds.name)  # the paper's rows the preset reproduces
    if rows:
        record["published"] = rows
    return record


def rerender(run_dir: str | Path) -> Path:
    """The ``report`` command: report.md again from results.json alone."""
    from reports import render_run

    folder = Path(run_dir)
    if folder.is_file():  # `report run/results.json`: the folder holding it is meant
        if folder.name != RESULTS_FILE:
            raise UserError(f"{run_dir} is a file; give the run folder holding {RESULTS_FILE}")
        folder = folder.parent
    try:
        return render_run(folder)
    except (OSError, ValueError) as e:  # schema.RecordError is a ValueError
        raise UserError(f"cannot render {run_dir}: {e}") from None
