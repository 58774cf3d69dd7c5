"""Nothing lost: signals at any stage, a second run into the same folder, settings checked
against the dataset before anything is written. Each test runs the command as a user does."""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import signal
import subprocess
import sys

import pytest

from tests.clitools import ROOT, assert_one_line_error, cli, finish, run_env, start, wait_for

SMOKE = ("--preset", "smoke", "--dataset", "digits", "--samples", "200", "--eval-samples", "100")


@pytest.mark.slow
def test_ctrl_c_while_the_classifier_trains_keeps_a_partial_report(tmp_path):
    out = tmp_path / "run"
    child = start([*SMOKE, "--models", "gan", "--out", str(out)], run_env(tmp_path / "fresh"))
    seen = wait_for(child, "scoring space")  # a fresh cache: the classifier trains now
    child.send_signal(signal.SIGINT)
    stdout, stderr = finish(child, seen)
    assert child.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted" and results["runs"] == []
    assert "interrupted" in (out / "report.md").read_text().lower()


@pytest.mark.slow
@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGINT", "SIGINT")])
def test_signals_during_training_leave_complete_files(tmp_path, signals, classifier_cache):
    out = tmp_path / "run"
    child = start([*SMOKE, "--models", "gan,ae", "--steps", "1000000", "--out", str(out)],
                   run_env(classifier_cache))
    seen = wait_for(child, "gan s0 step 1/")  # training, past the compiling step
    for name in signals:
        child.send_signal(getattr(signal, name))
        if len(signals) > 1:  # a user pressing Ctrl-C twice, 50 ms apart
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.05)"], check=True)
    stdout, stderr = finish(child, seen)
    assert child.returncode == 128 + getattr(signal, signals[0]), stderr[-2000:]
    assert "Traceback" not in stderr
    # the first signal is answered at once, on stderr
    assert f"{signals[0]}: stopping (a step or a model's scoring under way finishes first)" \
        in stderr
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert f"interrupted ({signals[0]})" in " ".join(results["notes"])
    assert "## Notes" in (out / "report.md").read_text()
    assert oct((out / "results.json").stat().st_mode & 0o777) == oct(0o644)
    assert not list(out.rglob(".tmp-*"))


@pytest.mark.parametrize("mode", ["prepare", "train"])
def test_once_a_signal_has_stopped_the_command_later_ones_are_only_noted(mode, capfd):
    """A second Ctrl-C that lands while the first one's stop is on its way to the folder's
    last write, a third one, or one as the process ends: none can cut the write or turn the
    exit status into a traceback (a CI run saw a late second SIGINT end the process by the
    signal, status -2, once the files were written and the handler stopped at once again)."""
    from benchmarks.signals import Signals

    signals = Signals()  # not installed: its handler is called as the signal would call it
    signals.mode = mode
    if mode == "train":
        signals._handle(signal.SIGINT, None)  # the first: the step under way finishes
        assert "SIGINT: stopping" in capfd.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        signals._handle(signal.SIGINT, None)  # now: at once
    signals._handle(signal.SIGTERM, None)  # while the folder's files are written: noted
    assert signals.requested == "SIGINT" and signals.exit_status() == 130


def test_a_dropped_stop_is_raised_again_unless_the_folder_is_already_finishing(monkeypatch):
    """The hook's bookkeeping (the real drop, in a real process, is the test below): a dropped
    stop raises at the handler's next call; once the folder's last writes have begun it is
    only noted; any other unraisable exception goes to the hook that was there before."""
    from types import SimpleNamespace

    from benchmarks.signals import Signals

    signals, sent, others = Signals(), [], []
    signals._installed = True  # its handler and hook are called as Python would call them
    monkeypatch.setattr(signals, "_deliver_again", lambda: sent.append("again"))
    monkeypatch.setattr(signals, "_unraisable_before", others.append)
    with pytest.raises(KeyboardInterrupt) as stop:
        signals._handle(signal.SIGTERM, None)  # preparing: at once ...
    signals._unraisable(SimpleNamespace(exc_value=stop.value))  # ... but Python dropped it
    assert sent == ["again"] and not others
    with pytest.raises(KeyboardInterrupt) as again:
        signals._handle(signal.SIGTERM, None)
    signals._unraisable(SimpleNamespace(exc_value=again.value))  # dropped once more, and
    signals.finishing()  # the command reached its last writes before it came back
    signals._handle(signal.SIGTERM, None)  # noted only
    other = SimpleNamespace(exc_value=ValueError("a library's own"))
    signals._unraisable(other)
    assert others == [other] and signals.exit_status() == 143


# A signal that lands in code which cannot raise: Python drops the KeyboardInterrupt there
# ("Exception ignored in ..."). CI saw it in JAX's garbage-collector callback: a SIGTERM while
# the command prepared its 90,000 runs printed that traceback and went on for a minute.
DROPPED_STOP = """
import gc, os, signal, sys, time
from benchmarks.signals import SIGNALS

SIGNALS.start()

def signal_me(*args):
    if not sent:
        sent.append(1)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, inside {where}

class Finalized:
    def __del__(self):
        signal_me()

sent = []
start = time.monotonic()
try:
    {trigger}
    while time.monotonic() < start + 60:  # the command going on preparing
        pass
    print("went on")
except KeyboardInterrupt:
    print("stopped")
sys.exit(SIGNALS.exit_status())
"""


@pytest.mark.parametrize("where, trigger", [
    ("a garbage collector's callback", "gc.callbacks.append(signal_me); gc.collect()"),
    ("a __del__", "Finalized()"),
], ids=["gc-callback", "del"])
def test_a_stop_dropped_by_code_that_cannot_raise_is_delivered_again(where, trigger):
    script = DROPPED_STOP.format(where=where, trigger=trigger)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
    assert (child.stdout.strip(), child.returncode) == ("stopped", 143), child.stderr
    assert "Traceback" not in child.stderr and "Exception ignored" not in child.stderr


@pytest.mark.slow
def test_a_second_signal_as_the_process_ends_leaves_its_exit_status(tmp_path, classifier_cache):
    """The second Ctrl-C once both files are written: the command's end, or the interpreter's
    finalization, where Python puts its handlers back to the default action (the process was
    killed by the signal, status -2, before SIGNALS.end ignored both)."""
    out = tmp_path / "run"
    child = start([*SMOKE, "--models", "gan", "--steps", "1000000", "--out", str(out)],
                  run_env(classifier_cache))
    seen = wait_for(child, "gan s0 step 1/")
    child.send_signal(signal.SIGINT)
    seen += wait_for(child, "report: ")  # its last line, once both files are written
    with contextlib.suppress(ProcessLookupError):  # it may be gone already
        child.send_signal(signal.SIGINT)
    stdout, stderr = finish(child, seen)
    assert child.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert json.loads((out / "results.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["score_final", "score_best"])
def test_a_stop_while_a_model_is_scored_keeps_what_was_computed(tmp_path, monkeypatch,
                                                                 classifier_cache, stage):
    """A second Ctrl-C stops at once, here while the final (or the best) weights are scored:
    training's throughput (and the final weights' scores and sampling cost), computed before
    it, are kept beside the checkpoint, and --resume records them without training again, or
    scoring the final weights again."""
    from benchmarks import experiment

    out = tmp_path / "run"
    env = {"BENCHMARKS_DATA_DIR": None, "BENCHMARKS_CACHE_DIR": str(classifier_cache)}
    real, full_eval = getattr(experiment, stage), experiment.full_eval

    def stopped_at_once(*args):
        raise KeyboardInterrupt  # what the second signal raises (benchmarks/signals.py)

    monkeypatch.setattr(experiment, stage, stopped_at_once)
    # 25 steps, checkpoints every 10: training ends between two, and its last steps are kept
    proc = cli("run", *SMOKE, "--models", "gan", "--steps", "25", "--checkpoint-every", "10",
               "--out", str(out), env=env)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted" and results["runs"] == []
    kept = json.loads((out / "checkpoints" / "gan-s0" / "scored.json").read_text())
    assert kept["step"] == 25 and kept["throughput"]["images_per_s"] > 0
    if stage == "score_best":
        figures = re.search(r"gan seed 0: final (.+)", proc.stdout).group(1)
        assert kept["sweep"] is None  # sampled; one network call, so no NFE sweep
    else:
        assert "final" not in kept and "sweep" not in kept

    monkeypatch.setattr(experiment, stage, real)
    evaluated = []
    monkeypatch.setattr(experiment, "full_eval",
                        lambda model, ctx: evaluated.append(model.name) or full_eval(model, ctx))
    proc = cli("run", "--resume", str(out), env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "gan seed 0: continuing from its last checkpoint" in proc.stdout  # at step 25
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["status"] == "finished" and run["steps_done"] == 25
    assert run["throughput"]["images_per_s"] == pytest.approx(
        kept["throughput"]["images_per_s"])  # not trained again: training's own, kept
    best_is_final = run["best"]["step"] == 25
    if stage == "score_best":
        assert f"gan seed 0: final weights scored before it was stopped: {figures}" \
            in proc.stdout
        assert run["final"] == pytest.approx(kept["final"]["metrics"])
        # only the best weights were scored, and only when they are not the final ones
        assert evaluated == ([] if best_is_final else ["gan"])
    else:
        assert evaluated == (["gan"] if best_is_final else ["gan", "gan"])
    assert not (out / "checkpoints" / "gan-s0").exists()


def test_a_folder_holding_a_run_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text("{}")
    proc = cli("run", *SMOKE, "--models", "gan", "--out", str(out))
    assert_one_line_error(proc, f"{out} already holds a run", f"--resume {out}", "--out")
    assert (out / "results.json").read_text() == "{}"


def test_a_folder_another_run_is_writing_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".lock", "a+") as held:  # what a running genbench holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("genbench pid 4242")
        held.flush()
        proc = cli("run", *SMOKE, "--models", "gan", "--out", str(out))
    assert_one_line_error(proc, f"{out} is being written by genbench pid 4242", "--out")
    assert not (out / "results.json").exists()


def test_a_batch_larger_than_the_training_set_is_refused_before_any_output(tmp_path):
    out = tmp_path / "run"
    proc = cli("run", *SMOKE, "--models", "gan", "--batch-size", "100000", "--out", str(out))
    assert_one_line_error(proc, "--batch-size 100,000 is larger than the 1,437 training "
                          "images of digits", "choose at most 1,437")
    assert not out.exists()


@pytest.mark.parametrize("args, fragments", [
    (["--steps", "99999999999999999999"], ["argument --steps", "outside 1..10,000,000"]),
    (["--samples", "20"], ["argument --samples: 20 is outside 50..", "at least 50"]),
    (["--eval-samples", "1"], ["argument --eval-samples: 1 is outside 50.."]),
    (["--set", "gan.lr=nan"], ["--set gan.lr=nan: 'nan' is not a finite number"]),
    (["--set", "gan.lr=inf"], ["--set gan.lr=inf: 'inf' is not a finite number"]),
    (["--resume", "somewhere", "--steps", "5"],
     ["--resume continues a run", "drop --models, --dataset, --steps"]),
    # each model's Config checks its own ranges when the arguments are read
    (["--set", "gan.lr=-1"], ["--set gan.lr=-1: lr=-1.0 is not allowed", "> 0"]),
    (["--set", "gan.noise_dim=0"], ["--set gan.noise_dim=0", "integer >= 1"]),
    (["--set", "gan.dropout=1.5"], ["--set gan.dropout=1.5", "in [0, 1)"]),
    (["--set", "gan.loss=foo"], ["--set gan.loss=foo", "one of ns, ls, hinge"]),
    (["--models", "gan,ae", "--set", "ae.sampler=foo"], ["--set ae.sampler=foo",
                                                         "one of gmm, gaussian"]),
])
def test_bad_settings_are_one_line_before_training(args, fragments):
    proc = cli("run", "--models", "gan", "--dataset", "digits", *args)
    assert_one_line_error(proc, *fragments)


@pytest.mark.parametrize("command", [["run", *SMOKE, "--models", "gan"], ["compare", "a", "b"]])
@pytest.mark.parametrize("too_long, fragments", [
    (lambda tmp: tmp / ("x" * 256) / "run", ["256 bytes", "at most 255"]),
    (lambda tmp: tmp.joinpath(*["y" * 200] * 25), ["bytes", "at most", "shorter path"]),
])
def test_an_out_path_too_long_for_the_system_is_one_line(tmp_path, command, too_long,
                                                          fragments):
    proc = cli(*command, "--out", str(too_long(tmp_path)))
    assert_one_line_error(proc, "argument --out", *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["run", *SMOKE, "--models", "gan"], ["compare", "a", "b"],
                                     ["score", "samples.npz", "--dataset", "digits"]])
@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_one_line(command, out):
    """``--out ''`` names no folder (a script's unset variable): refused, not read as the
    default runs/<time>-<name>."""
    assert_one_line_error(cli(*command, "--out", out), "argument --out", "names no folder",
                          "leave --out out")


def test_a_command_stopped_before_its_first_record_takes_its_folder_back(tmp_path):
    """A Ctrl-C (or a full disk) between making a folder and writing its record: what the
    command made goes (the lock, the empty sub-folders, the folders it created), what was
    there before stays; a folder with a record is kept whole."""
    from benchmarks.folder import RunFolder, released
    from benchmarks.signals import Signals

    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("kept")
    for out in (tmp_path / "new" / "run", tmp_path / "theirs"):
        with pytest.raises(KeyboardInterrupt), released():
            RunFolder.create(out, "x", Signals(), again=lambda p: "again")
            assert (out / ".lock").is_file() and (out / "figures").is_dir()
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs"]
    assert [p.name for p in (tmp_path / "theirs").iterdir()] == ["notes.txt"]
    with pytest.raises(KeyboardInterrupt), released():
        folder = RunFolder.create(tmp_path / "recorded", "x", Signals(), again=lambda p: "a")
        folder.results = {"status": "running", "runs": []}
        (folder.path / "results.json").write_text(json.dumps(folder.results))
        raise KeyboardInterrupt
    assert sorted(p.name for p in (tmp_path / "recorded").iterdir()) == [
        ".lock", "figures", "results.json", "weights"]


def test_what_a_writer_killed_mid_write_leaves_goes_when_its_folder_is_taken_up(tmp_path):
    """A process killed mid-write (SIGKILL: a Ray task cancelled by force, the OOM killer) runs
    no cleanup of its own: its temp folder stays until the run folder's owner removes it, as it
    does when the run's work ends (the full disk under Ray: test_disk_full) and when it is
    resumed (``lock``, here). Files under their real names stay."""
    from benchmarks.folder import RunFolder, released
    from benchmarks.signals import Signals
    from tests.clitools import ROOT

    out = tmp_path / "run"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "ae-s0-final.png").write_bytes(b"kept")
    best = out / "weights" / "ae-s0-best"
    script = ("import time\nfrom reports.files import atomic_write_folder\n"
              "def write(tmp):\n"
              "    (tmp / 'encoder.weights.h5').write_bytes(bytes(1000))\n"
              "    print('written', flush=True)\n"
              "    time.sleep(600)  # killed here, mid-write\n"
              f"atomic_write_folder({str(best)!r}, write)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.kill()
        proc.wait()
    (out / "figures" / ".tmp-k2j3h4g5-ae-s0-final.png").write_bytes(b"half")  # mkstemp's
    (out / ".tmp-notes").write_text("a user's own file")  # not a name these writes give
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob(".tmp-*"))
    assert len(left) == 3 and left[2].startswith("weights/.tmp-ae-s0-best-"), left
    with released():
        RunFolder(out, Signals(), "again").lock()
    assert [p.relative_to(out).as_posix() for p in out.rglob(".tmp-*")] == [".tmp-notes"]
    assert (out / "figures" / "ae-s0-final.png").read_bytes() == b"kept" and best.is_dir()
