"""Trackers (benchmarks/tracking.py), on real files and real stores: the session smoke run's
TensorBoard event files read back with TensorBoard's own reader hold results.json's series,
step for step; a sweep's HParams records name its settings; a real ``tensorboard`` serves the
run's tags; a resumed run writes no step twice; a tracker that fails mid-run leaves the run
complete with a note; what can be refused before training is one line, exit 2; MLflow's
SQLite store written by two worker processes holds one child run per trial."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tracking
from tests.clitools import assert_one_line_error, cli

# the 2-D ring's GAN: no classifier to train, a few ms a step
RING = ("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture", "--seeds", "1",
        "--samples", "500", "--eval-samples", "500")
DEADLINE_S = 120  # what a poll waits for at most


def _events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0,
                                                       "tensors": 0})
    acc.Reload()
    return acc


def _series(acc, tag: str) -> tuple[list[int], list[float]]:
    events = acc.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]


def _f32(values) -> list[float]:
    return [float(np.float32(v)) for v in values]


def assert_same_series(acc, run: dict) -> None:
    """Every loss and curve of a results.json run is a scalar series of the same steps and
    values (as float32, TensorBoard's), each step once; the final figures at the last step."""
    losses = run["losses"]
    for name in (k for k in losses if k != "step"):
        steps, values = _series(acc, f"loss/{name}")
        assert steps == losses["step"], name
        assert values == _f32(losses[name]), name
    curves = run["curves"]
    for name in (k for k in curves if k != "step"):
        kept = [(s, v) for s, v in zip(curves["step"], curves[name], strict=True)
                if v is not None]
        assert _series(acc, f"eval/{name}") == ([s for s, _ in kept], _f32(v for _, v in kept))
    images = [e.step for e in acc.Images("samples")]
    assert images == curves["step"]
    for name, value in run["final"].items():
        if isinstance(value, (int, float)) and np.isfinite(value):
            assert _series(acc, f"final/{name}") == ([run["steps_done"]], _f32([value])), name


@pytest.mark.slow
def test_event_files_hold_results_json_series(smoke_run):
    results = json.loads((smoke_run.folder / "results.json").read_text())
    assert results["config"]["tracker"] == "tensorboard"
    logs = smoke_run.folder / tracking.LOG_FOLDER
    assert sorted(p.name for p in logs.iterdir()) == ["ae-s0", "dcgan-s0", "gan-s0"]
    for run in results["runs"]:
        acc = _events(logs / f"{run['model']}-s{run['seed']}")
        assert_same_series(acc, run)
        assert {"settings", "summary"} <= set(acc.Tags()["tensors"])
        summary = acc.Tensors("summary")[-1].tensor_proto.string_val[0].decode()
        assert f"{run['final']['fid']:.6g}" in summary


def _hparams(acc) -> dict:
    from tensorboard.plugins.hparams import metadata

    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    return {k: v.string_value or v.number_value for k, v in info.hparams.items()}


@pytest.mark.slow  # trains (seconds)
def test_the_hparams_records_of_a_sweep_name_both_settings(tmp_path):
    out = tmp_path / "sweep"
    proc = cli(*RING, "--sweep", "gan.lr=1e-4,2e-4", "--steps", "2", "--eval-every", "0",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = out / tracking.LOG_FOLDER
    found = {d.name: _hparams(_events(d)) for d in logs.iterdir()}
    assert set(found) == {"gan-lr0.0001-s0", "gan-lr0.0002-s0"}
    assert {h["gan.lr"] for h in found.values()} == {1e-4, 2e-4}
    assert {h["key"] for h in found.values()} == {"gan[lr=0.0001]/s0", "gan[lr=0.0002]/s0"}
    assert all(h["model"] == "gan" and h["seed"] == 0 for h in found.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_serves_the_run_s_scalar_tags(smoke_run):
    """A real ``tensorboard --logdir`` on a loopback port: its HTTP data API lists every
    trial as a run, with its loss and evaluation tags (polled up to a deadline), and its
    HParams plugin each trial's model against the final figures."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir",
         str(smoke_run.folder / tracking.LOG_FOLDER), "--host", "127.0.0.1", "--port",
         str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        tags, deadline = {}, time.monotonic() + DEADLINE_S
        while set(tags) != {"ae-s0", "dcgan-s0", "gan-s0"}:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"tensorboard listed {sorted(tags)}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/"
                                            "tags", timeout=5) as reply:
                    tags = json.loads(reply.read())
            except OSError:
                time.sleep(0.1)  # not listening yet: poll again
        # the HParams dashboard's table: each trial's model and seed, the figures as metrics
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/data/plugin/hparams/experiment",
            data=b'{"experimentName": ""}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            experiment = json.loads(reply.read())
    finally:
        server.kill()
        server.wait()
    assert {"loss/generator", "eval/fid", "final/fid"} <= set(tags["dcgan-s0"])
    hparams = {h["name"]: h for h in experiment["hparamInfos"]}
    assert set(hparams["model"]["domainDiscrete"]) == {"dcgan", "gan", "ae"}
    assert {"final/fid", "best/fid"} <= {m["name"]["tag"] for m in experiment["metricInfos"]}


def _when(condition, then) -> threading.Thread:
    """Runs ``then`` in a thread as soon as ``condition()`` holds (polled up to a deadline)."""
    def watch():
        deadline = time.monotonic() + DEADLINE_S
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)
        if condition():
            then()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow  # trains (seconds)
def test_a_resumed_run_writes_no_step_twice(tmp_path):
    """Ctrl-C once the first checkpoint is written, then --resume: the trial's series run
    from step 1 to the end, each step once, as results.json has them, even with events a
    crash left past the checkpoint (written here as such a crash would have); in MLflow, the
    interrupted child is replaced by one finished child, its series written once."""
    pytest.importorskip("mlflow")  # make install's extras have it
    out = tmp_path / "ring"
    saved = out / "checkpoints" / "gan-s0" / "checkpoint.npz"
    watcher = _when(saved.exists, lambda: os.kill(os.getpid(), signal.SIGINT))
    proc = cli(*RING, "--steps", "60", "--eval-every", "10", "--checkpoint-every", "10",
               "--tracker", "tensorboard,mlflow", "--out", str(out),
               env={"MLFLOW_TRACKING_URI": None})
    watcher.join()
    assert proc.returncode == 130, proc.stderr[-3000:]
    from benchmarks.harness import checkpoint

    stopped, _ = checkpoint.held(saved.parent)
    assert 10 <= stopped < 60
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    past = EventFileWriter(str(out / tracking.LOG_FOLDER / "gan-s0"))  # a crash's leftovers
    past.add_event(event_pb2.Event(step=stopped + 1, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="loss/generator", simple_value=99.0)])))
    past.close()
    proc = cli("run", "--resume", str(out), env={"MLFLOW_TRACKING_URI": None})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["status"] == "finished" and run["losses"]["step"] == list(range(1, 61))
    acc = _events(out / tracking.LOG_FOLDER / "gan-s0")
    assert_same_series(acc, run)
    assert len(acc.Tensors("settings")) == 1
    (child,) = _children(tmp_path / tracking.MLFLOW_DB, out)
    history = _client(tmp_path / tracking.MLFLOW_DB).get_metric_history(child.info.run_id,
                                                                         "loss/generator")
    assert [m.step for m in history] == run["losses"]["step"]
    assert child.info.status == "FINISHED"


def _client(db: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def _children(db: Path, out: Path) -> list:
    """The child runs of the parent run that recorded ``out`` (which is finished)."""
    client = _client(db)
    experiment = client.get_experiment_by_name(tracking.MLFLOW_EXPERIMENT)
    (parent,) = client.search_runs([experiment.experiment_id],
                                   f"tags.`{tracking.FOLDER_TAG}` = '{out.resolve()}'")
    assert parent.info.status == "FINISHED"
    return client.search_runs([experiment.experiment_id],
                              f"tags.`{tracking.PARENT_TAG}` = '{parent.info.run_id}'")


@pytest.mark.slow  # trains (seconds)
def test_a_tracker_failing_mid_run_is_a_note_and_the_run_completes(tmp_path):
    """The trial's log directory replaced by a file once training has begun: the tracker
    stops at its next flush with one note (console, results.json, report.md), and training,
    scoring, results.json and the report go on as without it."""
    out = tmp_path / "ring"
    logs = out / tracking.LOG_FOLDER / "gan-lr0.0001-s0"  # a key with [settings] in the note

    def replace():
        import shutil

        shutil.rmtree(logs)
        logs.write_text("not a folder")

    watcher = _when(lambda: logs.is_dir() and any(logs.iterdir()), replace)
    proc = cli(*RING, "--steps", "40", "--eval-every", "10", "--sweep", "gan.lr=1e-4",
               "--out", str(out), env={"COLUMNS": "500"})
    watcher.join()
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "complete"
    (run,) = results["runs"]
    assert run["status"] == "finished" and run["steps_done"] == 40 and run["final"]
    (note,) = [n for n in results["notes"] if "tensorboard tracker stopped" in n]
    assert note.startswith("gan[lr=0.0001]/s0: tensorboard tracker stopped at step 10 (")
    assert "is gone" in note
    assert note in proc.stdout + proc.stderr
    from reports.format import text

    assert text(note) in (out / "report.md").read_text()


def test_tracker_names_parse_as_run_and_score_take_them():
    assert tracking.parse("tensorboard") == ("tensorboard",)
    assert tracking.parse("mlflow, tensorboard,mlflow") == ("mlflow", "tensorboard")
    assert tracking.parse("none") == ()
    for bad in ("", "wandb"):
        with pytest.raises(ValueError, match="unknown tracker"):
            tracking.parse(bad)
    with pytest.raises(ValueError, match="none turns every tracker off"):
        tracking.parse("none,mlflow")


@pytest.mark.parametrize("args, env, fragments", [
    (["--tracker", "tensorbored"], {}, ["unknown tracker 'tensorbored'", "none"]),
    (["--tracker", "mlflow"], {"MLFLOW_TRACKING_URI": "http://127.0.0.1:{port}"},
     ["cannot reach the MLflow server", "MLFLOW_TRACKING_URI"]),
])
def test_bad_tracker_input_is_one_line_before_training(tmp_path, args, env, fragments):
    env = {k: v.format(port=_free_port()) for k, v in env.items()}
    proc = cli(*RING, "--steps", "2", *args, "--out", str(tmp_path / "x"), env=env)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "x").exists()


def test_mlflow_not_installed_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # how Python says "not installed"
    proc = cli(*RING, "--steps", "2", "--tracker", "tensorboard,mlflow",
               "--out", str(tmp_path / "x"))
    assert_one_line_error(proc, "needs MLflow", tracking.MLFLOW_INSTALL)


@pytest.mark.slow
def test_an_unwritable_log_directory_refuses_the_resume(smoke_run, tmp_path):
    folder = smoke_run.copy(tmp_path / "run")
    results = json.loads((folder / "results.json").read_text())
    results.update(status="interrupted", runs=results["runs"][:1])
    (folder / "results.json").write_text(json.dumps(results))
    logs = folder / tracking.LOG_FOLDER
    import shutil

    shutil.rmtree(logs)
    logs.write_text("")
    assert_one_line_error(cli("run", "--resume", str(folder)),
                          f"cannot write TensorBoard's log directory {logs}", "--tracker none")


def assert_mlflow_holds(db: Path, out: Path) -> None:
    """The SQLite store ``db`` holds one finished parent run for the run folder ``out`` and
    exactly one finished child per trial of its results.json, with its final figures, each
    loss series at results.json's steps, its seed and its final sample grid. Called by
    tests/test_executors.py on the store its sweep's trials wrote in this process, in two
    worker processes (--workers 2) and as Ray tasks, each at once with the others."""
    results = json.loads((out / "results.json").read_text())
    client, children = _client(db), _children(db, out)
    by_key = {c.data.tags[tracking.KEY_TAG]: c for c in children}
    assert len(children) == len(results["runs"])
    assert set(by_key) == {r["key"] for r in results["runs"]}
    for run in results["runs"]:
        child = by_key[run["key"]]
        assert child.info.status == "FINISHED"
        for name, value in run["final"].items():
            if isinstance(value, float) and np.isfinite(value):
                assert child.data.metrics[f"final/{name}"] == pytest.approx(value, rel=1e-12)
        for name in (k for k in run["losses"] if k != "step"):
            history = client.get_metric_history(child.info.run_id, f"loss/{name}")
            assert [m.step for m in history] == run["losses"]["step"], name
        assert child.data.params["seed"] == str(run["seed"])
        grid = run["figures"]["samples_final"]
        files = {f.path for f in client.list_artifacts(child.info.run_id, "figures")}
        assert grid in files


@pytest.mark.slow  # scores with the classifier
def test_score_writes_each_row_s_figures(tmp_path, classifier_cache, digits_dataset):
    np.save(tmp_path / "held.npy", digits_dataset.x_test[:200])
    out = tmp_path / "scored"
    proc = cli("score", tmp_path / "held.npy", "--dataset", "digits", "--out", out,
               env={"BENCHMARKS_CACHE_DIR": str(classifier_cache)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    (logs,) = (out / tracking.LOG_FOLDER).iterdir()
    acc = _events(logs)
    for name, value in run["final"].items():
        if isinstance(value, float) and np.isfinite(value):
            assert _series(acc, f"final/{name}") == ([0], _f32([value])), name
    assert [e.step for e in acc.Images("samples")] == [0]
    assert _hparams(acc)["key"] == run["key"]
