"""``python -m benchmarks run`` end to end on tiny data, and its fault paths."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.clitools import assert_one_line_error, cli, finish, start, wait_for

REPORT_SECTIONS = ["## Verdict", "## Summary", "## Mode collapse", "## Throughput", "## Samples",
                   "## Notes"]
RESULT_KEYS = {"schema_version", "status", "started", "finished", "command", "config",
               "environment", "dataset", "classifier", "metrics", "floor", "runs", "notes"}


def _env(tmp_path: Path, cache: Path) -> dict:
    # no MNIST anywhere: the run must fall back to digits and say so
    return {"BENCHMARKS_DATA_DIR": None, "KERAS_HOME": str(tmp_path / "keras"),
            "BENCHMARKS_CACHE_DIR": str(cache)}


@pytest.mark.slow
def test_smoke_run_falls_back_to_digits_and_writes_everything(smoke_run, tmp_path):
    # the session's smoke run: run --preset smoke --models dcgan,gan,ae --summary, no MNIST
    out = smoke_run.copy(tmp_path / "run")
    assert "FELL BACK TO 'digits'" in smoke_run.stdout
    # --summary: each network's Keras summary before training; gan's generator is
    # 100*256+256 + 256*512+512 + 512*1024+1024 + 1024*784+784 = 1,486,352 weights
    assert smoke_run.stdout.count('Model: "generator"') == 2  # dcgan's and gan's (ae has none)
    assert "Total params: 1,486,352" in smoke_run.stdout
    results = json.loads((out / "results.json").read_text())
    assert RESULT_KEYS <= set(results)
    assert results["status"] == "complete" and results["dataset"]["name"] == "digits"
    # the report's places for each metric, written from metrics/info.py
    modes = results["metrics"]["modes_covered"]
    assert (modes["short"], modes["section"], modes["count"], modes["summary"],
            modes["verdict"]) == ("modes", "mode_collapse", True, 3, None)
    assert results["metrics"]["fid"]["verdict"] == 1
    assert {(r["model"], r["status"]) for r in results["runs"]} == {
        ("dcgan", "finished"), ("gan", "finished"), ("ae", "finished")}
    for run in results["runs"]:
        assert run["steps_done"] == 20
        assert {"fid", "modes_covered", "kl_classes", "precision", "recall"} <= set(run["final"])
        assert run["throughput"]["images_per_s"] > 0
        for rel in run["figures"].values():
            assert (out / rel).stat().st_size > 0
    ae = next(r for r in results["runs"] if r["model"] == "ae")
    assert "recon_psnr" in ae["final"]
    assert results["floor"]["modes_covered"] == 10
    report = (out / "report.md").read_text()
    assert report.index("WARNING") < report.index("## Summary")
    assert "on **digits**, not mnist" in report
    assert report.count("FELL BACK TO 'digits'") == 2  # the warning on top and one note
    assert 0.95 <= results["classifier"]["test_accuracy"] <= 1.0  # a fraction
    assert re.search(r"classifier test accuracy \d\d\.\d\d% \(gate 95\.00%: passes\)", report)
    positions = [report.index(s) for s in REPORT_SECTIONS]
    assert positions == sorted(positions)
    # re-rendering from results.json alone gives the same report
    (out / "report.md").unlink()
    proc = cli("report", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.md").read_text() == report


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_resume_finishes(tmp_path, classifier_cache):
    """Also what test_run_safety's test_a_stopped_model_continues_from_its_checkpoint_with_
    the_same_losses checked, merged here (one process stopped by Ctrl-C, not two)."""
    out, here = tmp_path / "run", _env(tmp_path, classifier_cache)
    env = {**os.environ, "BENCHMARKS_OFFLINE": "1"}  # the process Ctrl-C is sent to
    for key, value in here.items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)

    def run(*args):
        return cli("run", *args, env=here)

    proc = run("--preset", "smoke", "--models", "gan", "--steps", "30", "--checkpoint-every",
               "1000", "--out", str(out))  # a stopped model checkpoints its last step
    assert proc.returncode == 0, proc.stderr[-2000:]
    # widen the finished run to gan + a very long ae, resume it, and press Ctrl-C during ae
    results = json.loads((out / "results.json").read_text())
    results["config"].update(models=["gan", "ae"], steps=1_000_000)
    (out / "results.json").write_text(json.dumps(results))
    child = start(["--resume", str(out)], {**env, "PYTHONUNBUFFERED": "1"})
    seen = wait_for(child, "ae s0 step 1/")  # ae is training, past its compiling step
    child.send_signal(signal.SIGINT)
    stdout, stderr = finish(child, seen)
    assert child.returncode == 130, stdout[-2000:] + stderr[-2000:]
    assert "gan seed 0: already finished" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted"
    runs = {(r["model"], r["status"]) for r in results["runs"]}
    assert runs == {("gan", "finished"), ("ae", "interrupted")}
    assert "interrupted" in (out / "report.md").read_text().lower()
    stopped_at = [r for r in results["runs"] if r["model"] == "ae"][0]["steps_done"]
    assert (out / "checkpoints" / "ae-s0" / "checkpoint.npz").exists()
    # resume with 15 steps more than ae took: gan is skipped, ae continues from its checkpoint
    # and the run completes; ae's losses are those of a run that was never stopped
    total = stopped_at + 15
    results["config"]["steps"] = total
    (out / "results.json").write_text(json.dumps(results))
    proc = run("--resume", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gan seed 0: already finished" in proc.stdout
    assert "ae seed 0: continuing from its last checkpoint" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "complete"
    assert sorted((r["model"], r["status"]) for r in results["runs"]) == [
        ("ae", "finished"), ("gan", "finished")]
    assert not (out / "checkpoints" / "ae-s0").exists()  # scored: its checkpoint is gone
    proc = run("--preset", "smoke", "--models", "ae", "--steps", str(total),
               "--out", str(tmp_path / "straight"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    resumed, straight = (
        [r for r in json.loads((d / "results.json").read_text())["runs"] if r["model"] == "ae"][0]
        for d in (out, tmp_path / "straight"))
    assert resumed["losses"]["step"] == straight["losses"]["step"] == list(range(1, total + 1))
    np.testing.assert_allclose(resumed["losses"]["reconstruction"],
                               straight["losses"]["reconstruction"], rtol=1e-5)


@pytest.mark.parametrize("args, fragments", [
    (["--models", "dcgan,no_such_model"], ["unknown model 'no_such_model'", "dcgan"]),
    (["--set", "dcgan.bogus=1"], ["unknown key 'bogus' for dcgan", "valid keys:"]),
    (["--set", "dcgan.lr=fast"], ["'fast' is not a valid float"]),
    (["--set", "lr=1"], ["MODEL.KEY=VALUE"]),
    (["--models", "gan", "--set", "dcgan.lr=1e-4"], ["model 'dcgan' is not in this run"]),
    (["--out", "/proc/genbench-cannot-write-here"], ["cannot write to output folder", "--out"]),
])
def test_run_bad_input_fails_before_training(args, fragments):
    proc = cli("run", "--preset", "smoke", "--dataset", "digits", *args)
    assert_one_line_error(proc, *fragments)


def test_resume_of_a_missing_run_is_one_line():
    assert_one_line_error(cli("run", "--resume", "/nonexistent/run"),
                          "cannot resume /nonexistent/run")


def test_report_of_a_folder_without_results_is_one_line(tmp_path):
    assert_one_line_error(cli("report", str(tmp_path)), "cannot render", "results.json")


def test_report_given_the_results_file_renders_its_folder(tmp_path):
    from tests.test_compare import record, write

    run = write(tmp_path / "run", record("tensorflow", [1.0, 2.0]))
    proc = cli("report", str(run / "results.json"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "report.md")
    assert "# Generative model benchmark: digits" in (run / "report.md").read_text()
    (run / "notes.txt").write_text("")
    assert_one_line_error(cli("report", str(run / "notes.txt")),
                          f"{run / 'notes.txt'} is a file", "the run folder holding results.json")
