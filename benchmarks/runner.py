"""The ``run`` command's orchestration: models x seeds -> experiments -> results.json -> report.

Each finished (model, seed) is written to results.json at once (atomically), so Ctrl-C or a
crash loses only the one in progress. The checks of user input happen before this (``cli``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

from benchmarks import data, executors, experiment, plugins, study
from benchmarks.config import PRESETS, RunConfig, check_models
from benchmarks.errors import UserError
from benchmarks.results import environment
from reports import schema

RESULTS_FILE = schema.RESULTS_FILE
LOCK_FILE = ".lock"


def check_out_free(out: str | Path | None) -> None:
    """A finished or running run's folder is never written over (its results would be lost)."""
    if out is not None and (Path(out) / RESULTS_FILE).exists():
        raise UserError(f"{out} already holds a run ({RESULTS_FILE}); finish it with "
                        f"--resume {out}, or choose a new folder with --out DIR")


def prepare_out(out: str | None, dataset: str) -> Path:
    folder = Path(out) if out else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{dataset}"
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        (folder / "weights").mkdir(exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to output folder {folder} ({e.strerror}); "
                        "choose another with --out DIR") from None
    _lock(folder)
    return folder


_LOCKS: list = []  # open lock files: the OS releases them when this process ends, however


def _lock(folder: Path) -> None:
    """One process writes a run folder: a second one is refused while the first holds it."""
    handle = open(folder / LOCK_FILE, "a+")  # held open for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{folder} is being written by {holder}; wait for it to finish, or "
                        "choose another folder with --out DIR") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"genbench pid {os.getpid()}")
    handle.flush()
    _LOCKS.append(handle)


class Signals:
    """One handler for the whole command; SIGTERM (what a scheduler sends) acts as Ctrl-C.

    - preparing (data, the classifier): the first signal stops at once, nothing is lost;
    - training: the first asks the current experiment to stop after its step (it is kept as
      interrupted), a second stops at once;
    - finishing (the last results.json write, the report): signals are noted and ignored, so
      both files are complete.
    """

    def __init__(self):
        self.requested: str | None = None  # the first signal's name
        self.mode = "prepare"

    def __enter__(self):
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        first = self.requested is None
        self.requested = self.requested or signal.Signals(signum).name
        if self.mode == "prepare" or (self.mode == "train" and not first):
            raise KeyboardInterrupt

    def exit_status(self) -> int:
        return 128 + getattr(signal, self.requested or "SIGINT")

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run(cfg: RunConfig, *, cache_dir: str | None = None, epochs: int | None = None,
        summary: bool = False, executor: executors.Choice = executors.LOCAL) -> int:
    """A new run: load the data, make the output folder, run every key of the grid."""
    from benchmarks.console import Console

    console = Console()
    check_out_free(cfg.out)
    with Signals() as signals:
        try:
            ds = _load_data(cfg, console, cache_dir)
        except KeyboardInterrupt:
            return signals.exit_status()  # nothing written yet
        if epochs:
            cfg = dataclasses.replace(cfg, steps=math.ceil(epochs * len(ds.x_train)
                                                           / cfg.batch_size))
        check_fits(cfg, ds)
        run_dir = prepare_out(cfg.out, ds.name)
        check_out_free(run_dir)  # again under the lock: a second run may have just finished
        return _execute(cfg, ds, run_dir, new_results(cfg, ds), console, cache_dir, signals,
                        summary, executor)


def check_fits(cfg: RunConfig, ds) -> None:
    """Settings that depend on the dataset, checked before the output folder is made."""
    if cfg.batch_size > len(ds.x_train):
        raise UserError(f"--batch-size {cfg.batch_size:,} is larger than the "
                        f"{len(ds.x_train):,} training images of {ds.name}; choose at most "
                        f"{len(ds.x_train):,}")


def resume(path: str, *, cache_dir: str | None = None, data_dir: str | None = None,
           summary: bool = False, executor: executors.Choice = executors.LOCAL) -> int:
    """Finish an interrupted run with the settings it was started with: the keys of its grid
    that did not finish (interrupted, failed or never started)."""
    from benchmarks.console import Console

    run_dir = Path(path)
    try:
        results = schema.load(run_dir / RESULTS_FILE)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot resume {run_dir}: {e}") from None
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    stored = {k: v for k, v in results["config"].items() if k in fields}
    cfg = RunConfig(**{**stored, "models": tuple(stored["models"]),
                       "plugins": tuple(stored.get("plugins", ()))})
    if data_dir:  # the files may have moved since; the dataset is checked by checksum
        cfg = dataclasses.replace(cfg, data_dir=data_dir)
    plugins.load(cfg.plugins)  # the run's own --plugin files define some of its models
    check_models(cfg.models)
    console = Console()
    with Signals() as signals:
        try:
            ds = _load_data(cfg, console, cache_dir)
        except KeyboardInterrupt:
            return signals.exit_status()
        prepare_out(str(run_dir), results["dataset"]["name"])
        results["notes"].append(f"resumed at {datetime.now():%Y-%m-%d %H:%M:%S}")
        return _execute(cfg, ds, run_dir, results, console, cache_dir, signals, summary,
                        executor)


def _load_data(cfg: RunConfig, console, cache_dir: str | None):
    ds = data.load(cfg.dataset, cfg.data_dir, image_size=cfg.image_size, channels=cfg.channels,
                   classifier_gate=cfg.classifier_gate, cache_dir=cache_dir)
    if ds.note:
        console.loud(ds.note)
    console.info(f"dataset {ds.name} from {ds.source}: {len(ds.x_train):,} train / "
                 f"{len(ds.x_test):,} test images")
    return ds


def _execute(cfg: RunConfig, ds, run_dir: Path, results: dict, console, cache_dir,
             signals: Signals, summary: bool, executor: executors.Choice) -> int:
    from rich.markup import escape  # a swept key's [settings] are not markup

    from metrics.cache import default_cache_dir

    results["command"] = results.get("command") or _command_line()
    results_path = run_dir / RESULTS_FILE
    specs = study.grid(cfg.models, cfg.sweep, cfg.seeds)
    todo = study.pending(specs, results["runs"])
    results["runs"] = [r for r in results["runs"] if r["status"] in study.DONE_STATUSES]
    for spec in (s for s in specs if s not in todo):
        arm = spec.key.rsplit("/", 1)[0]
        console.info(escape(f"{arm} seed {spec.seed}: already finished, skipped (resume)"))

    def on_result(record: dict) -> None:
        results["runs"].append(record)
        schema.write(results_path, results)

    status = "complete"
    try:
        schema.write(results_path, results)
        reference = _score_space(cfg, ds, results, console, cache_dir)
        schema.write(results_path, results)
        ctx = experiment.Context(cfg, ds, reference, run_dir, console, summary)
        # worker processes load the classifier and statistics _score_space just cached there
        job = executors.Job(cfg, ds.name, str(run_dir.resolve()),
                            str(default_cache_dir(cache_dir).resolve()))
        signals.mode = "train"
        executors.execute(executor, todo, ctx, job, on_result,
                          lambda: signals.requested is not None)
        if signals.requested:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        status = "interrupted"
        results["notes"].append(f"interrupted ({signals.requested or 'SIGINT'}) at "
                                f"{datetime.now():%H:%M:%S}; resume with: python -m benchmarks "
                                f"run --resume {run_dir}")
    signals.mode = "finish"
    results["status"] = status
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    schema.write(results_path, results)
    from reports import render_run

    console.summary(results, render_run(run_dir))
    return signals.exit_status() if status == "interrupted" else 0


def _score_space(cfg: RunConfig, ds, results: dict, console, cache_dir):
    """The dataset's classifier and real statistics (cached), and the real-data floor."""
    import metrics

    console.info("scoring space: loading or training the dataset classifier ...")
    try:
        reference = metrics.build_reference(ds, cache_dir=cache_dir,
                                            n=min(cfg.samples, len(ds.x_test)),
                                            note=console.loud)
    except metrics.MetricsError as e:
        raise UserError(str(e)) from None
    # fractions in results.json (metrics keeps percent): 0.9944, not 99.44
    results["classifier"] = {"test_accuracy": reference.classifier_accuracy / 100,
                             "gate": reference.classifier_gate / 100,
                             "train_seconds": reference.classifier_train_seconds,
                             "gate_source": ds.gate_rule}
    results["metrics"] = {k: schema.metric_info(m.label, m.description, m.direction, m.target)
                          for k, m in metrics.METRICS.items()}
    if not results.get("floor"):
        results["floor"] = metrics.real_floor(reference, n=min(cfg.samples, len(ds.x_train)))
    return reference


def new_results(cfg: RunConfig, ds) -> dict:
    return schema.new_results(
        command=_command_line(),
        # what `data.load` takes to load the same data again on --resume (a folder's path)
        config={**dataclasses.asdict(cfg), "dataset": ds.request or ds.name,
                "dataset_requested": cfg.dataset or data.DEFAULT_DATASET,
                "preset_about": PRESETS[cfg.preset].about},
        environment=environment(cfg.backend),
        dataset={"name": ds.name, "source": ds.source, "note": ds.note,
                 "image_shape": list(ds.image_shape), "train_size": int(len(ds.x_train)),
                 "test_size": int(len(ds.x_test)), "class_names": list(ds.class_names)})


def _command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def rerender(run_dir: str | Path) -> Path:
    """The ``report`` command: report.md again from results.json alone."""
    from reports import render_run

    try:
        return render_run(Path(run_dir))
    except (OSError, ValueError) as e:  # schema.RecordError is a ValueError
        raise UserError(f"cannot render {run_dir}: {e}") from None
