"""Executors: the same sweep gives the same keyed runs (and, for the deterministic ``ae``, the
same figures) in this process, in worker processes and as Ray tasks, a plugin model's too;
Ctrl-C during a Ray run keeps what finished and --resume completes the rest."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks import executors, tracking
from benchmarks.errors import UserError
from tests import plugintools
from tests.clitools import ROOT, assert_one_line_error, cli
from tests.conftest import RAY_GROUP

# 2 learning rates x 2 seeds of the autoencoder, at the smallest budget that still scores
SWEEP = ["run", "--preset", "smoke", "--dataset", "digits", "--models", "ae",
         "--sweep", "ae.lr=1e-3,2e-3", "--seeds", "2", "--steps", "2", "--eval-every", "0",
         "--samples", "100", "--eval-samples", "60"]
KEYS = {"ae[lr=0.001]/s0", "ae[lr=0.001]/s1", "ae[lr=0.002]/s0", "ae[lr=0.002]/s1"}
PLUGIN_KEYS = {"mine/s0", "mine/s1"}  # docs/own-model.md's model (its sweep: test_plugins)
FIGURES = ("fid", "modes_covered", "recon_mse")


def _env(tmp_path: Path) -> dict:
    cache = os.environ.get("BENCHMARKS_CACHE_DIR") or str(tmp_path / "cache")
    return {"BENCHMARKS_CACHE_DIR": cache, "KERAS_HOME": str(tmp_path / "keras"),
            "RAY_ADDRESS": None, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": None}


def _runs(out: Path) -> dict[str, dict]:
    results = json.loads((out / "results.json").read_text())
    return {r["key"]: r for r in results["runs"]}


@pytest.mark.slow
@pytest.mark.xdist_group(RAY_GROUP)  # one local Ray instance at a time
def test_local_workers_and_ray_give_the_same_keyed_runs(tmp_path):
    """Also a plugin model under each executor (the plugin file is imported again by each
    worker process and Ray task): what test_plugins checked per executor, merged here. Each
    trial logs to one MLflow SQLite store beside the run folders too, workers and Ray tasks
    at once: one child run per trial (tests/test_tracking.py's assert_mlflow_holds)."""
    pytest.importorskip("ray")
    pytest.importorskip("mlflow")
    from tests.test_tracking import assert_mlflow_holds
    (tmp_path / "elsewhere").mkdir()
    plugin = plugintools.write(tmp_path / "elsewhere", plugintools.readme_plugin())
    # one seed: the two settings and the plugin are three keys to keep apart (the sweep's
    # seeds under Ray: the Ctrl-C test below)
    sweep = [*SWEEP[:SWEEP.index("--models")], "--models", "ae,mine", "--plugin", str(plugin),
             *SWEEP[SWEEP.index("--models") + 2:]]
    sweep[sweep.index("--seeds") + 1] = "1"
    keys = {k for k in KEYS if k.endswith("/s0")}
    plugin_keys = {k for k in PLUGIN_KEYS if k.endswith("/s0")}
    figures = {}
    for name, args in [("local", []), ("workers", ["--workers", "2"]),
                       ("ray", ["--executor", "ray"])]:
        out = tmp_path / name
        proc = cli(*sweep, "--out", str(out), *args, "--tracker", "tensorboard,mlflow",
                   env=_env(tmp_path), timeout=1200,
                   process=bool(args))  # workers and Ray: as a user starts them
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert_mlflow_holds(tmp_path / tracking.MLFLOW_DB, out)
        runs = _runs(out)
        assert set(runs) == keys | plugin_keys, name
        assert all(r["status"] == "finished" for r in runs.values()), name
        assert {runs[k]["overrides"]["lr"] for k in keys} == {1e-3, 2e-3}
        figures[name] = {k: [runs[k]["final"][m] for m in FIGURES] for k in keys}
        for key in keys:  # every run drew its own figures (no file shared by two settings)
            tag = key.replace("[lr=", "-lr").replace("]/", "-")
            assert (out / "figures" / f"{tag}-final.png").is_file()
            # and wrote its own TensorBoard directory, in whichever process trained it
            assert any((out / "tensorboard" / tag).glob("events.out.tfevents.*")), name
        results = json.loads((out / "results.json").read_text())
        assert results["config"]["plugins"] == [str(plugin.resolve())]
        for key in plugin_keys:
            assert runs[key]["final"]["fid"] > 0
            assert (out / runs[key]["exported"]["final"]).is_file()
        assert "mine" in (out / "report.md").read_text()
    for key in keys:
        assert figures["workers"][key] == pytest.approx(figures["local"][key], rel=1e-6)
        assert figures["ray"][key] == pytest.approx(figures["local"][key], rel=1e-6)


def _wait_for(condition, deadline_s: float, proc: subprocess.Popen):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended first: {proc.communicate()[1][-3000:]}")
        time.sleep(0.2)  # a polling interval, not a wait for something to happen
    raise AssertionError(f"not within {deadline_s} s")


def _finished(out: Path) -> int:
    try:
        return sum(r["status"] == "finished" for r in _runs(out).values())
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.xdist_group(RAY_GROUP)  # one local Ray instance at a time
def test_ctrl_c_during_a_ray_run_keeps_finished_runs_and_resume_completes(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    env = {**os.environ, "BENCHMARKS_OFFLINE": "1"}
    env.update({k: v for k, v in _env(tmp_path).items() if v is not None})
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks", *SWEEP, "--out", str(out),
                             "--executor", "ray"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _finished(out) >= 1, 900, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    kept = _runs(out)
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert 1 <= len(kept) < len(KEYS) and set(kept) <= KEYS
    assert all(r["status"] == "finished" for r in kept.values())

    again = cli("run", "--resume", str(out), "--executor", "ray", env=_env(tmp_path),
                timeout=1200, process=True)
    assert again.returncode == 0, again.stderr[-3000:]
    runs = _runs(out)
    assert set(runs) == KEYS and all(r["status"] == "finished" for r in runs.values())
    for key, record in kept.items():  # what finished before Ctrl-C is kept, not run again
        assert runs[key] == record


RAY_PRIORITY = textwrap.dedent("""
    import json, os, ray
    from benchmarks import executors
    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR",
             runtime_env={"env_vars": executors.ray_task_env("tensorflow")})
    try:
        task = ray.get(ray.remote(lambda: os.nice(0)).remote())
    finally:
        ray.shutdown()
    print("RESULT" + json.dumps({"driver": os.nice(0), "task": task}))
""")


@pytest.mark.xdist_group(RAY_GROUP)  # one local Ray instance at a time
def test_ray_tasks_run_at_the_drivers_priority(tmp_path):
    """Ray starts task workers at nice 15; beside any other work a run then crawls (its
    import took 5x as long here) and its images/s measure the neighbours. A local Ray
    instance started as run_ray starts it gives its tasks the driver's niceness (in a
    process of its own: Ray keeps its connection for the process's life)."""
    pytest.importorskip("ray")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    env.pop(executors.RAY_NICENESS, None)
    proc = subprocess.run([sys.executable, "-c", RAY_PRIORITY], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert got["task"] == got["driver"], got


def test_a_ray_niceness_the_user_set_is_theirs(monkeypatch):
    monkeypatch.setenv(executors.RAY_NICENESS, "7")
    assert executors.ray_task_env("jax")[executors.RAY_NICENESS] == "7"
    monkeypatch.delenv(executors.RAY_NICENESS)
    assert executors.ray_task_env("jax")[executors.RAY_NICENESS] == "0"


@pytest.mark.xdist_group(RAY_GROUP)
def test_the_ray_group_runs_in_one_worker(request):
    """The Ray tests share one worker, one after another, because ``make test`` passes
    ``--dist loadgroup``: pytest-xdist groups a test by the "@group" it appends to its id. With
    pytest 9.2 it can no longer do so and every test runs ungrouped, with no error (two local
    Ray instances then start side by side): pyproject pins pytest below 9.2 for this."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith(f"@{RAY_GROUP}"), (
        f"{request.node.nodeid}: pytest-xdist did not group it (pytest-dev/pytest-xdist#1386); "
        "install pytest<9.2 (pyproject's dev extra)")


def test_executor_options_are_checked_in_one_line():
    with pytest.raises(UserError, match="unknown executor 'no_such_executor'"):
        executors.check("no_such_executor", None, None)
    with pytest.raises(UserError, match="--workers is for --executor local"):
        executors.check("ray", 2, None)
    with pytest.raises(UserError, match="--ray-address needs --executor ray"):
        executors.check("local", None, "10.0.0.1:6379")
    assert executors.check("local", None, None) == executors.LOCAL
    assert executors.check("local", 3, None).workers == 3


def test_ray_missing_is_one_line_naming_the_install(tmp_path):
    # a sitecustomize that makes 'import ray' fail, as on a machine without the extra
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nsys.modules['ray'] = None\n")
    proc = cli(*SWEEP, "--out", str(tmp_path / "out"), "--executor", "ray",
               env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}, process=True)
    assert_one_line_error(proc, "--executor ray needs Ray", "pip install -e '.[ray]'")
    assert not (tmp_path / "out").exists()


def test_workers_get_one_gpu_each_from_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert executors.visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert executors.visible_gpus() == []
