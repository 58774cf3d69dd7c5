"""The ``run`` command's orchestration: models x seeds -> experiments -> results.json -> report.

Each finished (model, seed) is written to results.json at once (atomically), so Ctrl-C or a
crash loses only the one in progress. The checks of user input happen before this (``cli``).
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

from benchmarks import data, experiment
from benchmarks.config import PRESETS, RunConfig, check_models
from benchmarks.errors import UserError
from benchmarks.results import environment, write_json_atomic

SCHEMA_VERSION = 1


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
    return folder


class Interrupt:
    """First Ctrl-C: finish cleanly after the current step. Second: stop at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._old)


def run(cfg: RunConfig, *, cache_dir: str | None = None, epochs: int | None = None) -> int:
    """A new run: load the data, make the output folder, run every (model, seed)."""
    from benchmarks.console import Console

    console = Console()
    ds = _load_data(cfg, console)
    if epochs:
        cfg = dataclasses.replace(cfg, steps=math.ceil(epochs * len(ds.x_train)
                                                       / cfg.batch_size))
    run_dir = prepare_out(cfg.out, ds.name)
    return _execute(cfg, ds, run_dir, new_results(cfg, ds), console, cache_dir)


def resume(path: str, *, cache_dir: str | None = None) -> int:
    """Finish an interrupted run with the settings it was started with."""
    from benchmarks.console import Console
    from reports import records

    run_dir = Path(path)
    try:
        results = records.load(run_dir / "results.json")
    except (OSError, ValueError) as e:
        raise UserError(f"cannot resume {run_dir}: {e}") from None
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    stored = {k: v for k, v in results["config"].items() if k in fields}
    cfg = RunConfig(**{**stored, "models": tuple(stored["models"])})
    check_models(cfg.models)
    prepare_out(str(run_dir), results["dataset"]["name"])
    results["notes"].append(f"resumed at {datetime.now():%Y-%m-%d %H:%M:%S}")
    console = Console()
    return _execute(cfg, _load_data(cfg, console), run_dir, results, console, cache_dir)


def _load_data(cfg: RunConfig, console):
    ds = data.load(cfg.dataset, cfg.data_dir, image_size=cfg.image_size, channels=cfg.channels,
                   classifier_gate=cfg.classifier_gate)
    if ds.note:
        console.loud(ds.note)
    console.info(f"dataset {ds.name} from {ds.source}: {len(ds.x_train):,} train / "
                 f"{len(ds.x_test):,} test images")
    return ds


def _execute(cfg: RunConfig, ds, run_dir: Path, results: dict, console, cache_dir) -> int:
    import metrics

    results["command"] = results.get("command") or _command_line()
    results_path = run_dir / "results.json"
    write_json_atomic(results_path, results)
    console.info("scoring space: loading or training the dataset classifier ...")
    try:
        reference = metrics.build_reference(ds, cache_dir=cache_dir,
                                            n=min(cfg.samples, len(ds.x_test)))
    except metrics.MetricsError as e:
        raise UserError(str(e)) from None
    # fractions in results.json (metrics keeps percent): 0.9944, not 99.44
    results["classifier"] = {"test_accuracy": reference.classifier_accuracy / 100,
                             "gate": reference.classifier_gate / 100,
                             "train_seconds": reference.classifier_train_seconds}
    results["metrics"] = {k: {"label": m.label, "description": m.description,
                              "direction": m.direction} for k, m in metrics.METRICS.items()}
    if not results.get("floor"):
        results["floor"] = metrics.real_floor(reference, n=min(cfg.samples, len(ds.x_train)))
    write_json_atomic(results_path, results)

    ctx = experiment.Context(cfg, ds, reference, run_dir, console)
    done = {(r["model"], r["seed"]) for r in results["runs"] if r["status"] != "interrupted"}
    results["runs"] = [r for r in results["runs"] if (r["model"], r["seed"]) in done]
    status = "complete"
    with Interrupt() as interrupt:
        try:
            for name in cfg.models:
                for seed in range(cfg.seeds):
                    if (name, seed) in done:
                        console.info(f"{name} seed {seed}: already finished, skipped (resume)")
                        continue
                    record = experiment.run(name, seed, ctx, lambda: interrupt.requested)
                    results["runs"].append(record)
                    write_json_atomic(results_path, results)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            status = "interrupted"
            results["notes"].append(f"interrupted by the user at {datetime.now():%H:%M:%S}; "
                                    f"resume with: python -m benchmarks run --resume {run_dir}")
    results["status"] = status
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    write_json_atomic(results_path, results)
    from reports import render_run

    console.summary(results, render_run(run_dir))
    return 130 if status == "interrupted" else 0


def new_results(cfg: RunConfig, ds) -> dict:
    return {
        "schema_version": SCHEMA_VERSION, "status": "running",
        "started": datetime.now().isoformat(timespec="seconds"), "finished": None,
        "command": _command_line(),
        "config": {**dataclasses.asdict(cfg), "dataset": ds.name,
                   "dataset_requested": cfg.dataset or data.DEFAULT_DATASET,
                   "preset_about": PRESETS[cfg.preset].about},
        "environment": environment(cfg.backend),
        "dataset": {"name": ds.name, "source": ds.source, "note": ds.note,
                    "train_size": int(len(ds.x_train)), "test_size": int(len(ds.x_test)),
                    "class_names": list(ds.class_names)},
        "classifier": {}, "metrics": {}, "floor": {}, "runs": [],
        "notes": [],  # the fallback note is dataset.note
    }


def _command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def rerender(run_dir: str | Path) -> Path:
    """The ``report`` command: report.md again from results.json alone."""
    from reports import records, render_run

    try:
        return render_run(Path(run_dir))
    except (OSError, ValueError, records.RecordError) as e:
        raise UserError(f"cannot render {run_dir}: {e}") from None
