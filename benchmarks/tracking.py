"""Trackers: each trained trial's progress written while it trains, where researchers look
first: TensorBoard event files (on by default) and, optionally, an MLflow store.

``--tracker`` names them (``parse``); ``check`` refuses, before any data is loaded or any
step trained, what can be known bad then (one line, exit 2). One trial's ``Trackers`` hears
training as a harness callback does (``on_step``; duck-typed like ``experiment.Tracker``:
this module imports no keras) and is told each evaluation, the end and the final figures by
``experiment``. A tracker that raises (disk full, store locked, server gone, its folder
removed) is dropped with one note, said on the console and kept in the trial's notes (so in
results.json's and the report's), and the trial goes on: a tracker never costs a run.

Where: TensorBoard under RUN_FOLDER/tensorboard/<TrialSpec.tag>/, one directory per trial (a
run in TensorBoard's run selector), written by the process that trains the trial: the
driver, a worker process or a Ray task alike. Each writes only its own directory, so no two
writers share a file, nothing extra travels back to the driver, and a task's events are on
disk as it trains (on a multi-machine cluster, --out is shared storage already, executors.py).
MLflow: one parent run per command, a child run per trial, in $MLFLOW_TRACKING_URI or else
the SQLite file ``mlflow.db`` beside the run folders (workers and tasks write to it too).

Resume: a trial's directory (and its unfinished MLflow child) is written again from what its
checkpoint holds (the losses, curves and frames up to the checkpoint's step), so its steps
continue and none is written twice, whatever an interruption left past the checkpoint.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.errors import UserError

TRACKERS = ("tensorboard", "mlflow")
NONE = "none"
DEFAULT = "tensorboard"
MLFLOW_INSTALL = "pip install genbench[mlflow]"
LOG_FOLDER = "tensorboard"  # under the run folder: a directory per trial (TrialSpec.tag)
MLFLOW_DB = "mlflow.db"  # beside the run folders when $MLFLOW_TRACKING_URI is not set
MLFLOW_EXPERIMENT = "genbench"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: a child run nested under its parent
FOLDER_TAG = "genbench.run_folder"  # a parent run: the run folder it records
KEY_TAG = "genbench.key"  # a child run: its trial's key (TrialSpec.key)
REACH_S = 5.0  # how long an MLflow server is given to answer the check before training
# a server gone mid-run: MLflow's own defaults retry a request 7 times with doubling waits
# (minutes of a stalled training loop) before the tracker is dropped; unless the user set them
HTTP_PATIENCE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def parse(text: str) -> tuple[str, ...]:
    """``--tracker``: 'tensorboard', 'mlflow', both comma-separated, or 'none'."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if words == [NONE]:
        return ()
    if NONE in words:
        raise ValueError(f"tracker '{text}': {NONE} turns every tracker off, so it stands alone")
    unknown = [w for w in words if w not in TRACKERS]
    if unknown or not words:
        raise ValueError(f"unknown tracker '{','.join(unknown) or text}'; choose "
                         f"{', '.join(TRACKERS)}, both comma-separated, or {NONE}")
    return tuple(dict.fromkeys(words))


def mlflow_uri(run_dir: Path) -> str:
    """$MLFLOW_TRACKING_URI, else a SQLite file beside the run folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(Path(run_dir).resolve().parent / MLFLOW_DB)}"


def check(names: tuple[str, ...], run_dir: Path) -> None:
    """What can be known before training, one line each (``UserError``, exit 2): MLflow
    installed, its store reachable (a server) or its SQLite folder writable, the log
    directory writable (on --resume; a new folder's own probe covers a new run)."""
    if "mlflow" in names:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise UserError(f"--tracker mlflow needs MLflow, which is not installed here: "
                            f"{MLFLOW_INSTALL}") from None
        _check_store(mlflow_uri(run_dir))
    logs = Path(run_dir) / LOG_FOLDER
    if "tensorboard" in names and logs.exists() and not (
            logs.is_dir() and os.access(logs, os.W_OK | os.X_OK)):
        raise UserError(f"cannot write TensorBoard's log directory {logs}: make it a "
                        "writable folder, or run with --tracker none")


def _check_store(uri: str) -> None:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=REACH_S):
                return
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise UserError(f"cannot reach the MLflow server at MLFLOW_TRACKING_URI={uri} "
                            f"({reason}); start it (mlflow server) or unset "
                            "MLFLOW_TRACKING_URI for a local SQLite store") from None
    if parsed.scheme == "sqlite":
        folder = Path(uri.removeprefix("sqlite:///")).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"cannot write the MLflow store {uri} (its folder {folder} is "
                            "not writable); set MLFLOW_TRACKING_URI to another store")


# --------------------------------------------------------------------------- one trial


@dataclass(frozen=True)
class Held:
    """What a resumed trial's checkpoint holds, written again when its trackers open."""

    step: int = 0  # the checkpoint's step (0: a fresh start)
    history: dict[str, list[float]] = field(default_factory=dict)  # loss -> value per step
    curves: dict = field(default_factory=dict)  # experiment.Tracker's curves
    frames: list = field(default_factory=list)  # (step, samples) of the fixed noise batch


@dataclass(frozen=True)
class Opening:
    """What a trial's trackers are opened with."""

    names: tuple[str, ...]
    run_dir: Path
    tag: str  # TrialSpec.tag: the trial's log directory
    key: str  # TrialSpec.key: the trial's name in MLflow
    settings: dict  # the run's settings and the model's, as text and MLflow params
    hparams: dict  # model, its --set/--sweep values, seed: TensorBoard's HParams
    loss_steps: frozenset  # the steps whose losses results.json keeps (experiment)
    picture: Callable  # (step, samples) -> PNG bytes of the fixed noise batch
    parent_run: str | None = None  # the command's MLflow parent run


class Trackers:
    """One trial's trackers: each call goes to every live one; one that raises is dropped
    with a note (``notes``), the others and the trial go on."""

    def __init__(self, opening: Opening, console, held: Held):
        self.opening, self.console = opening, console
        self.notes: list[str] = []
        self.live: list = []
        self.step = held.step
        for name in opening.names:
            self._guard(name, lambda n=name: self.live.append(_open(n, opening)))
        self.each("start", opening.settings, opening.hparams)
        self.replay(held)

    def _guard(self, name: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as err:  # a tracker never costs a run: any failure is a note
            self.live = [t for t in self.live if t.name != name]
            first = f"{type(err).__name__}: {err}".splitlines()[0]
            note = (f"{self.opening.key}: {name} tracker stopped at step {self.step} "
                    f"({first}); training and results.json go on without it")
            self.console.note(note)
            self.notes.append(note)

    def each(self, method: str, *args) -> None:
        for tracker in list(self.live):
            self._guard(tracker.name, lambda t=tracker: getattr(t, method)(*args))

    def replay(self, held: Held) -> None:
        """A resumed trial's series up to its checkpoint, as training wrote them."""
        if not self.live or not held.step:
            return
        history = held.history
        for step in sorted(s for s in self.opening.loss_steps if s <= held.step):
            self.each("scalars", step, {f"loss/{k}": v[step - 1] for k, v in history.items()
                                        if len(v) >= step})
        for i, step in enumerate(held.curves.get("step", [])):
            if 0 < step <= held.step:
                self.each("scalars", step, {f"eval/{k}": v[i] for k, v in held.curves.items()
                                            if k != "step"})
        for step, samples in held.frames:
            if 0 < step <= held.step:
                self.each("image", "samples", step, self.opening.picture(step, samples))
        self.each("flush")

    # the harness callback's four methods (benchmarks.harness.Callback)
    def on_step(self, info) -> None:
        self.step = info.step
        if self.live and info.step in self.opening.loss_steps:
            values = {f"loss/{k}": v for k, v in info.losses.items()}
            values["perf/images_per_s"] = info.images_per_s
            self.each("scalars", info.step, values)

    def on_eval(self, step: int) -> None:
        """experiment.Tracker says each evaluation, with its scores (``evaluation``)."""

    def on_checkpoint(self, step: int) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def evaluation(self, step: int, scores: dict, samples) -> None:
        """An in-training evaluation's figures and the fixed noise batch's picture, flushed."""
        self.step = step
        if not self.live:
            return
        self.each("scalars", step, {f"eval/{k}": v for k, v in scores.items()})
        picture = self.opening.picture(step, samples)
        self.each("image", "samples", step, picture)
        self.each("flush")

    def finish(self, trial, run_dir: Path) -> None:
        """A trial's end (``trial.Trial``): its final and best figures at its last step, its
        summary, its files (figures, exported generators); closed."""
        record = trial.record()
        final = record.get("final")
        best = record.get("best") and (record["best"]["step"], record["best"]["metrics"])
        step = record.get("steps_done") or self.step
        files = [*(record.get("figures") or {}).values(),
                 *(record.get("exported") or {}).values()]
        artifacts = [(Path(run_dir) / p, p) for p in files]
        self._end(step, final, best, trial.status, artifacts)

    def _end(self, step: int, final: dict | None, best: tuple[int, dict] | None,
             status: str, artifacts: list[tuple[Path, str]]) -> None:
        self.step = step
        figures = {f"final/{k}": v for k, v in (final or {}).items()}
        if best is not None:
            figures.update({f"best/{k}": v for k, v in best[1].items()})
            figures["best/step"] = best[0]
        self.each("scalars", step, figures)
        self.each("text", "summary", step, summary_table(final, best))
        self.each("files", [(path, rel) for path, rel in artifacts if path.exists()])
        self.each("close", status)


def scored(names: tuple[str, ...], run_dir: Path, trial, tag: str, shown, parent_run,
           console) -> list[str]:
    """``score``'s row (a ``trial.Trial`` with no training) to the trackers: its figures at
    step 0, its samples' picture, its HParams record and summary, its grid; their notes."""
    if not names:
        return []
    spec, record = trial.spec, trial.record()
    opening = Opening(names, Path(run_dir), tag, spec.key, {"source": record.get("source")},
                      {"key": spec.key, "model": spec.model, "seed": spec.seed}, frozenset(),
                      lambda step, samples: picture(samples), parent_run)
    trackers = Trackers(opening, console, Held())
    trackers.each("image", "samples", 0, opening.picture(0, shown))
    trackers.finish(trial, run_dir)
    return trackers.notes


def picture(samples, mixture=None) -> tuple[bytes, int, int]:
    """The fixed noise batch as a PNG (bytes, height, width): a row of images, or for a
    mixture the scatter of its points over the components' centres."""
    import io
    import tempfile

    from PIL import Image

    from reports import images, plots

    if mixture is None:
        image = Image.fromarray(images.grid_array(samples, ncols=len(samples))).convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue(), image.height, image.width
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scatter.png"
        plots.mixture_scatter(path, samples, mixture.centres)
        with Image.open(path) as image:
            return path.read_bytes(), image.height, image.width


def summary_table(final: dict | None, best: tuple[int, dict] | None) -> str:
    """The trial's figures as a Markdown table (TensorBoard's text tab renders it)."""
    if final is None and best is None:
        return "no final figures (the trial diverged or was interrupted)"
    keys = list(dict.fromkeys([*(final or {}), *(best[1] if best else {})]))
    head = "| figure | final | " + (f"best (step {best[0]}) |" if best else "")
    rows = [head, "|---|---|" + ("---|" if best else "")]
    for key in keys:
        cells = [_cell((final or {}).get(key))] + ([_cell(best[1].get(key))] if best else [])
        if any(c != "" for c in cells):
            rows.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(value) -> str:
    return f"{value:.6g}" if _number(value) else ""


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _open(name: str, opening: Opening):
    if name == "tensorboard":
        return Board(opening.run_dir / LOG_FOLDER / opening.tag)
    return Flow(opening)


def settings_text(settings: dict) -> str:
    """The settings as a Markdown table: one row each."""
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in settings.items()]
    return "\n".join(rows)


# --------------------------------------------------------------------------- TensorBoard


class Board:
    """A trial's TensorBoard event files: scalars, the sample picture, text and its HParams
    record, in its own log directory (written again from the start: ``Trackers.replay``).
    Written with TensorBoard's own writer and protos, not tf.summary: the same files under
    both backends, and no TensorFlow op in a JAX process."""

    name = "tensorboard"

    def __init__(self, folder: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.writer = EventFileWriter(str(folder), max_queue_size=1000, flush_secs=60)

    def _write(self, step: int, values: list) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        self.writer.add_event(event_pb2.Event(wall_time=time.time(), step=step,
                                              summary=summary_pb2.Summary(value=values)))

    def start(self, settings: dict, hparams: dict) -> None:
        from tensorboard.plugins.hparams import summary_v2 as hp

        self.text("settings", 0, settings_text(settings))
        record = hp.hparams_pb({k: _hparam(v) for k, v in hparams.items()},
                               trial_id=hparams.get("key"))
        self._write(0, list(record.value))

    def scalars(self, step: int, values: dict) -> None:
        from tensorboard.compat.proto import summary_pb2

        kept = [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in values.items()
                if _number(v)]
        if kept:
            self._write(step, kept)

    def image(self, tag: str, step: int, png: tuple[bytes, int, int]) -> None:
        from tensorboard.compat.proto import summary_pb2

        data, height, width = png
        image = summary_pb2.Summary.Image(height=height, width=width, colorspace=3,
                                          encoded_image_string=data)
        self._write(step, [summary_pb2.Summary.Value(tag=tag, image=image)])

    def text(self, tag: str, step: int, markdown: str) -> None:
        from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
        from tensorboard.plugins.text import metadata

        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING,
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                        string_val=[markdown.encode()])
        self._write(step, [summary_pb2.Summary.Value(
            tag=tag, tensor=tensor, metadata=metadata.create_summary_metadata(tag, None))])

    def flush(self) -> None:
        """At each evaluation: on disk, and the folder still the one TensorBoard reads (an
        open file whose folder was removed would take events nobody can see)."""
        self.writer.flush()
        if not self.folder.is_dir():
            raise OSError(f"its log directory {self.folder} is gone")

    def files(self, paths: list[tuple[Path, str]]) -> None:
        """TensorBoard keeps no files: the run folder has them."""

    def close(self, status: str) -> None:
        self.writer.close()
        if not self.folder.is_dir():
            raise OSError(f"its log directory {self.folder} is gone")


def _hparam(value):
    """An HParams value: bool, number or text (anything else as its text)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# --------------------------------------------------------------------------- MLflow


def begin(names: tuple[str, ...], run_dir: Path, command: str) -> str | None:
    """The command's MLflow parent run (None without MLflow): the one that recorded this run
    folder before (--resume), else a new one."""
    if "mlflow" not in names:
        return None
    from mlflow.tracking import MlflowClient

    uri = mlflow_uri(run_dir)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    if experiment is None:
        where = None
        if uri.startswith("sqlite:///"):  # artifacts beside the store, not in the cwd
            where = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
        experiment_id = client.create_experiment(MLFLOW_EXPERIMENT, artifact_location=where)
    else:
        experiment_id = experiment.experiment_id
    folder = str(Path(run_dir).resolve())
    found = client.search_runs([experiment_id], f"tags.`{FOLDER_TAG}` = '{_quoted(folder)}'")
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=Path(run_dir).name,
                            tags={FOLDER_TAG: folder, "genbench.command": command[:5000]})
    return run.info.run_id


def start(names: tuple[str, ...], run_dir: Path, command: str
          ) -> tuple[tuple[str, ...], str | None, str | None]:
    """``begin``, or when the store cannot be written then: the trackers without MLflow and a
    note saying so (a tracker never costs a run). (names, parent run, note)."""
    try:
        return names, begin(names, run_dir, command), None
    except Exception as err:
        first = f"{type(err).__name__}: {err}".splitlines()[0]
        return (tuple(n for n in names if n != "mlflow"), None,
                f"mlflow tracker not started ({first}); the command goes on without it")


def where(names: tuple[str, ...], run_dir: Path, parent: str | None) -> list[str]:
    """Where to watch the run while it trains, a line per tracker (the console's)."""
    lines = []
    if "tensorboard" in names:
        lines.append(f"watch it train: tensorboard --logdir {Path(run_dir) / LOG_FOLDER}")
    if parent is not None:
        uri = mlflow_uri(run_dir)
        lines.append(f"MLflow: run {parent} in {uri}"
                     + (f" (mlflow ui --backend-store-uri {uri})" if uri.startswith("sqlite")
                        else ""))
    return lines


def end(run_dir: Path, parent: str | None, status: str) -> str | None:
    """The parent run given the command's report and results.json, and marked as the command
    ended; a line to say if the store cannot be written (the record is final by then)."""
    if parent is None:
        return None
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_uri(run_dir))
        for name in ("report.md", "results.json"):
            if (Path(run_dir) / name).is_file():
                client.log_artifact(parent, str(Path(run_dir) / name))
        client.set_terminated(parent, {"complete": "FINISHED", "interrupted": "KILLED"}.get(
            status, "FAILED"))
    except Exception as err:  # a tracker never costs a run
        return f"mlflow tracker: the parent run could not be closed ({type(err).__name__})"
    return None


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class Flow:
    """A trial's MLflow child run under the command's parent: params, metrics over steps,
    the final figures and the files. A child of the same key left unfinished (an interrupted
    trial) is deleted first, so a resumed trial is one child, its series written once."""

    name = "mlflow"

    def __init__(self, opening: Opening):
        from mlflow.tracking import MlflowClient

        for name, value in HTTP_PATIENCE.items():
            os.environ.setdefault(name, value)
        self.client = MlflowClient(tracking_uri=mlflow_uri(opening.run_dir))
        parent = self.client.get_run(opening.parent_run)
        experiment = parent.info.experiment_id
        for old in self.client.search_runs(
                [experiment], f"tags.`{PARENT_TAG}` = '{opening.parent_run}' and "
                              f"tags.`{KEY_TAG}` = '{_quoted(opening.key)}'"):
            self.client.delete_run(old.info.run_id)
        self.run = self.client.create_run(experiment, run_name=opening.key, tags={
            PARENT_TAG: opening.parent_run, KEY_TAG: opening.key}).info.run_id
        self.pending: list = []

    def start(self, settings: dict, hparams: dict) -> None:
        from mlflow.entities import Param

        params = [Param(k[:250], str(v)[:6000]) for k, v in {**settings, **hparams}.items()]
        self.client.log_batch(self.run, params=params)

    def scalars(self, step: int, values: dict) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.pending += [Metric(k, float(v), stamp, step) for k, v in values.items()
                         if _number(v)]
        if len(self.pending) >= 500:
            self.flush()

    def image(self, tag: str, step: int, png) -> None:
        """The sample pictures are the run folder's figures, logged as files at the end."""

    def text(self, tag: str, step: int, markdown: str) -> None:
        self.client.log_text(self.run, markdown, f"{tag}.md")

    def flush(self) -> None:
        for i in range(0, len(self.pending), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run, metrics=self.pending[i:i + 1000])
        self.pending = []

    def files(self, paths: list[tuple[Path, str]]) -> None:
        """Each file where it is in the run folder (figures/..., weights/TAG/...)."""
        for path, relative in paths:
            folder = Path(relative).parent.as_posix()
            self.client.log_artifact(self.run, str(path), None if folder == "." else folder)

    def close(self, status: str) -> None:
        self.flush()
        self.client.set_terminated(self.run, "FINISHED" if status in ("finished", "diverged")
                                   else "KILLED")
