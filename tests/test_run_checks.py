"""What can be checked before the output folder is made is checked there (the cache folder,
every model's image-shape rule, the device split), one line and exit 2 with no folder; what
can only fail after it (a classifier gate miss, a crash) leaves the run marked failed with its
reason, and ``--resume`` finishes it. Each test runs the command as a user does, except the
crash, which no valid input causes: it is injected."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.clitools import assert_one_line_error, cli

SMOKE = ("--preset", "smoke", "--dataset", "digits", "--samples", "200", "--eval-samples", "100")


def _env(cache: Path) -> dict:
    return {"BENCHMARKS_CACHE_DIR": str(cache), "BENCHMARKS_DATA_DIR": None}


def write_folder(root: Path, side: int, per_class: int = 150) -> Path:
    """Two classes of random grayscale side x side PNGs (enough for every split's minimum)."""
    rng = np.random.default_rng(0)
    for c in ("ant", "bee"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (side, side), dtype=np.uint8)
            Image.fromarray(pixels, "L").save(root / c / f"img{i:03d}.png")
    return root


def test_an_unwritable_cache_folder_is_refused_before_any_output(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be made under a file, even by root
    out = tmp_path / "run"
    proc = cli("run", *SMOKE, "--models", "gan", "--cache-dir", str(blocker / "cache"),
               "--out", str(out), env={"BENCHMARKS_DATA_DIR": None})
    assert_one_line_error(proc, f"cannot write to the cache folder {blocker / 'cache'}",
                          "--cache-dir DIR", "it lacks the classifier entry")
    assert not out.exists()


def test_an_unwritable_cache_holding_all_a_run_needs_is_not_refused(tmp_path):
    """The ring is scored by its mixture: a run writes no cache entry, so a cache it cannot
    write holds all it needs (issue 29 item 9: a read-only shared cache filled beforehand)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be made under a file, even by root
    out = tmp_path / "run"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture", "--steps",
               "2", "--eval-every", "0", "--seeds", "1", "--samples", "500",
               "--cache-dir", str(blocker / "cache"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "results.json").read_text())["runs"][0]["status"] == "finished"


def test_a_model_that_cannot_take_the_images_is_refused_before_any_output(tmp_path):
    images = write_folder(tmp_path / "odd", side=27)
    out = tmp_path / "run"
    # gan takes any shape and comes first: before, it trained, then dcgan failed in a traceback
    proc = cli("run", "--dataset", str(images), "--preset", "smoke", "--models", "gan,dcgan",
               "--out", str(out), env=_env(tmp_path / "cache"))
    assert_one_line_error(proc, "dcgan cannot take 27x27x1 images", "multiples of 4",
                          "(folder-odd is 27x27x1)", "--image-size N",
                          "leave dcgan out of --models")
    assert not out.exists()


def test_distribute_refuses_a_batch_the_devices_cannot_split(tmp_path, classifier_cache):
    pytest.importorskip("jax")
    out = tmp_path / "run"
    proc = cli("run", *SMOKE, "--backend", "jax", "--distribute", "--batch-size", "33",
               "--models", "gan", "--out", str(out),
               env={**_env(classifier_cache),
                    "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, process=True)
    assert_one_line_error(proc, "--distribute splits each batch over 2 devices",
                          "--batch-size 33 does not split evenly", "multiple of 2 (e.g. 32)")
    assert not out.exists()


def test_a_classifier_gate_miss_marks_the_run_failed_with_its_reason(tmp_path,
                                                                     classifier_cache):
    out = tmp_path / "run"
    args = ("run", *SMOKE, "--models", "gan", "--classifier-gate", "99.9", "--out", str(out))
    proc = cli(*args, env=_env(classifier_cache))
    # the digits classifier reaches 99.44%: below the gate, found once the folder exists
    assert_one_line_error(proc, "accuracy < its gate 99.9%", "--classifier-gate",
                          f"{out} is kept, marked failed", f"--resume {out}")
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "failed" and results["runs"] == []
    assert any("gate 99.9%" in n and f"--resume {out}" in n for n in results["notes"])
    assert "FAILED RUN" in (out / "report.md").read_text()
    again = cli(*args, env=_env(classifier_cache))
    assert_one_line_error(again, f"{out} already holds a run", f"--resume {out}")


@pytest.mark.slow
def test_resume_honours_a_lower_gate_and_finishes_a_run_a_gate_miss_stopped(tmp_path,
                                                                             classifier_cache):
    out, env = tmp_path / "run", _env(classifier_cache)
    proc = cli("run", *SMOKE, "--models", "gan", "--steps", "5", "--classifier-gate", "99.9",
               "--out", str(out), env=env, timeout=600)
    assert proc.returncode == 2
    proc = cli("run", "--resume", str(out), "--classifier-gate", "95", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "complete"
    assert [(r["model"], r["status"]) for r in results["runs"]] == [("gan", "finished")]
    assert results["classifier"]["gate"] == pytest.approx(0.95)
    assert results["config"]["classifier_gate"] == 95
    assert any("--classifier-gate 95 (was 99.9)" in n for n in results["notes"])


def test_resume_with_a_gate_names_the_default_gate_it_replaces(tmp_path, classifier_cache):
    """A run started without --classifier-gate held its classifier to the dataset's own gate;
    the resume's note says that one, not "(was None)". The stored v2 digits run, every model
    finished, so the resume trains nothing."""
    out = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "fixtures" / "v2-digits", out)
    record = json.loads((out / "results.json").read_text())
    assert record["config"]["classifier_gate"] is None
    (out / "results.json").write_text(json.dumps({**record, "status": "interrupted"}))
    proc = cli("run", "--resume", str(out), "--classifier-gate", "90",
               env=_env(classifier_cache), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    notes = json.loads((out / "results.json").read_text())["notes"]
    assert any(n.endswith("with --classifier-gate 90 (was the dataset's own, 95)")
               for n in notes), notes


def test_a_crash_after_the_folder_exists_marks_the_run_failed(tmp_path, monkeypatch,
                                                               classifier_cache):
    import metrics
    from benchmarks.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("the floor broke")

    monkeypatch.setattr(metrics, "real_floor", broken)  # no valid input crashes here
    monkeypatch.setenv("BENCHMARKS_CACHE_DIR", str(classifier_cache))
    monkeypatch.delenv("BENCHMARKS_DATA_DIR", raising=False)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="the floor broke"):  # a bug keeps its traceback
        main(["run", *SMOKE, "--models", "gan", "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "failed"
    assert any("RuntimeError: the floor broke" in n for n in results["notes"])
    assert "FAILED RUN" in (out / "report.md").read_text()


@pytest.mark.slow
def test_a_rebuilt_cache_entry_is_noted_in_the_report(tmp_path, classifier_cache):
    cache, out = tmp_path / "cache", tmp_path / "run"
    args = ("run", *SMOKE, "--models", "gan", "--steps", "2", "--eval-every", "0")
    if not list((classifier_cache / "reference").glob("digits-*-n200-*")):  # a run makes them
        assert cli(*args, "--out", str(tmp_path / "first"), env=_env(classifier_cache),
                   ).returncode == 0
    shutil.copytree(classifier_cache, cache)  # damaged here, in a copy of the session's
    entries = list((cache / "reference").glob("digits-*-n200-*"))
    assert entries
    for entry in entries:
        (entry / "SHA256SUMS").write_text("damaged\n")
    proc = cli(*args, "--out", str(out), env=_env(cache))
    assert proc.returncode == 0, proc.stderr[-2000:]
    note = "reference statistics cache entry"
    assert note in proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert any(note in n and "unusable" in n for n in results["notes"])
    notes = (out / "report.md").read_text().split("## Notes", 1)[1]
    assert note in notes


@pytest.mark.parametrize("args, fragments", [
    # --image-size and --channels shaped the images the finished runs trained on
    (["--resume", "somewhere", "--image-size", "32"], ["--resume continues a run",
                                                       "drop --image-size (or"]),
    (["--resume", "somewhere", "--channels", "3"], ["drop --channels (or"]),
    # the last value winning silently hides a typo; a repeated --sweep is refused too
    (["--models", "gan", "--dataset", "digits", "--set", "gan.lr=1e-4", "--set",
      "gan.lr=2e-4"], ["--set gan.lr is given twice"]),
])
def test_flags_that_would_be_ignored_are_one_line(args, fragments):
    assert_one_line_error(cli("run", *args), *fragments)


def test_jit_on_jax_says_it_does_not_apply(tmp_path):
    pytest.importorskip("jax")
    # refused later for its batch, so nothing trains: the note comes first, in one line
    proc = cli("run", "--backend", "jax", "--jit", "--models", "gan", "--dataset", "digits",
               "--batch-size", "100000", "--out", str(tmp_path / "run"),
               env={"BENCHMARKS_DATA_DIR": None}, process=True)  # the backend: a process
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 2, proc.stderr
    assert lines[0] == ("note: --jit applies to TensorFlow; on jax every step is compiled "
                        "with XLA already")
    assert lines[1].startswith("error: --batch-size 100,000")


def test_every_run_flag_is_run_shaping_with_its_default_or_named_as_not():
    """A flag added to ``run`` must join RUN_DEFAULTS (argparse reads its default there and
    --resume refuses it) or NOT_SHAPING; a RunConfig field must come from a run-shaping flag
    (else --resume would silently ignore it)."""
    import dataclasses

    from benchmarks.cli import build_parser
    from benchmarks.cli import run as cli_run
    from benchmarks.config import RunConfig

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run = sub.choices["run"]
    flags = {max(a.option_strings, key=len): a for a in run._actions if a.option_strings}
    assert not set(cli_run.RUN_DEFAULTS) & set(cli_run.NOT_SHAPING)
    assert set(flags) == set(cli_run.RUN_DEFAULTS) | set(cli_run.NOT_SHAPING)
    for flag, default in cli_run.RUN_DEFAULTS.items():
        assert flags[flag].dest == cli_run.dest(flag), flag
        assert run.get_default(flags[flag].dest) == default, flag
    shaping = {cli_run.dest(f) for f in cli_run.RUN_DEFAULTS}
    resumable = {"data_dir", "classifier_gate"}  # --resume may change them (runner.resume)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    missing = {f for f in fields - resumable if f not in shaping and f.rstrip("s") not in shaping}
    assert not missing, f"RunConfig fields no run flag sets: {missing}"
