"""A full disk: one line naming the folder and the cause, exit status 74, every file whole (the
finished runs' records kept), and the same run finished with --resume once there is space.

The disk fills two ways: a file-size limit on the child (``ulimit -f``, needs no root: a write
past it fails with EFBIG as one on a full disk fails with ENOSPC), and, where this process may
mount one, a real 3 MB tmpfs (ENOSPC), remounted larger before the resume.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from benchmarks.errors import NoSpace
from reports import schema
from tests.clitools import ROOT, cli, run_env
from tests.conftest import RAY_GROUP

SMOKE = ("--preset", "smoke", "--dataset", "digits", "--samples", "200", "--eval-samples", "100")
# ae's files are each under 1 MB, all of them under 3 MB; gan's generator weights are 2.7 MB,
# so h5py is the writer that meets the full disk
FILE_LIMIT = 2_000_000


def _file_limit(size: int):
    def apply() -> None:  # in the child, before exec: both survive it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
    return apply


def _benchmarks(args, env, preexec_fn=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)


def _assert_one_line(proc, *fragments):
    assert proc.returncode == NoSpace.EXIT_STATUS == 74, proc.stderr[-3000:]
    for noise in ("Traceback", "Exception ignored", "Segmentation"):
        assert noise not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert errors[0] == proc.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def _assert_every_file_whole(out: Path) -> None:
    """No temp file left, and every file under its real name reads back completely."""
    names = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert not [n for n in names if ".tmp" in n], names
    for path in (p for p in out.rglob("*") if p.is_file()):
        if path.name.endswith(".h5"):
            with h5py.File(path, "r") as f:
                f.visit(lambda name, f=f: f[name][()] if isinstance(f[name], h5py.Dataset)
                        else None)
        elif path.suffix == ".npz":
            with np.load(path) as f:
                [f[k] for k in f.files]
        elif path.suffix in (".png", ".gif"):
            with Image.open(path) as img:
                img.load()
        elif path.suffix == ".json":
            json.loads(path.read_text())


def _tmpfs(folder: Path, size: str) -> None:
    folder.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not root'})")


@pytest.mark.slow
@pytest.mark.parametrize("disk", ["file-size limit", "3 MB tmpfs"])
def test_a_full_disk_stops_in_one_line_and_the_run_resumes_once_there_is_space(tmp_path, disk,
                                                                               classifier_cache):
    env = run_env(classifier_cache)
    here = {"BENCHMARKS_CACHE_DIR": str(classifier_cache), "BENCHMARKS_DATA_DIR": None}
    if disk == "3 MB tmpfs":
        mount = tmp_path / "disk"
        _tmpfs(mount, "3m")
        out, limit, cause = mount / "run", None, "No space left on device"
    else:
        mount, out, limit, cause = None, tmp_path / "run", _file_limit(FILE_LIMIT), \
            "File too large"
    args = ["run", *SMOKE, "--models", "ae,gan", "--out", str(out)]
    try:  # a file-size limit needs a process of its own; a full tmpfs is one in this process too
        proc = _benchmarks(args, env, limit) if limit else cli(*args, env=here)
        _assert_one_line(proc, str(out), cause, f"--resume {out}")
        results = schema.load(out)
        assert results["status"] == "running"  # its last complete version: ae's record in
        assert [(r["model"], r["status"]) for r in results["runs"]] == [("ae", "finished")]
        _assert_every_file_whole(out)

        if mount is not None:  # space again
            subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        proc = cli("run", "--resume", str(out), env=here)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "ae seed 0: already finished, skipped (resume)" in proc.stdout
        results = schema.load(out)
        assert results["status"] == "complete"
        assert [(r["model"], r["status"]) for r in results["runs"]] == [
            ("ae", "finished"), ("gan", "finished")]
        assert (out / "weights" / "gan-s0" / "generator.weights.h5").is_file()
        _assert_every_file_whole(out)
    finally:
        if mount is not None:
            subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
@pytest.mark.xdist_group(RAY_GROUP)  # one local Ray instance at a time
def test_a_full_disk_inside_a_ray_task_stops_the_study_rather_than_failing_the_run(
        tmp_path, classifier_cache):
    """As in this process and in worker processes: a Ray task that meets the full disk stops
    the study (one line, exit 74, to resume once there is space), and no run is 'failed'."""
    pytest.importorskip("ray")
    mount = tmp_path / "disk"
    _tmpfs(mount, "3m")
    out = mount / "run"
    try:
        proc = _benchmarks(["run", *SMOKE, "--models", "ae,gan", "--executor", "ray",
                            "--out", str(out)], run_env(classifier_cache))
        _assert_one_line(proc, str(out), "No space left on device", f"--resume {out}")
        results = schema.load(out)
        assert results["status"] == "running"
        assert all(r["status"] == "finished" for r in results["runs"]), results["runs"]
        _assert_every_file_whole(out)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# where the full disk meets compare's folder: its probe (2 bytes), its lock's pid line, its
# merged results.json (larger than 1,000 bytes)
FIRST_WRITES = {"probe": 1, "lock": 10, "record": 1000}


@pytest.mark.parametrize("where", FIRST_WRITES)
def test_compare_onto_a_full_disk_is_one_line_and_takes_its_folder_back(tmp_path, where):
    """Whichever first write meets it: exit 74, one line, and the folder compare made is gone
    (no .lock, .write-test or empty figures/ left), so the same command works again."""
    from tests.test_compare import record, write

    a = write(tmp_path / "a", record("tensorflow", [1.0, 2.0]))
    b = write(tmp_path / "b", record("jax", [3.0, 4.0]))
    out = tmp_path / "deeper" / "cmp"
    env = {**os.environ, "BENCHMARKS_OFFLINE": "1"}
    proc = _benchmarks(["compare", str(a), str(b), "--out", str(out)], env,
                       _file_limit(FIRST_WRITES[where]), timeout=120)
    _assert_one_line(proc, f"cannot write to {out}", "File too large", "nothing was written",
                     "run the same command again")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # deeper/ too is gone


def test_score_onto_a_full_disk_is_one_line(tmp_path, classifier_cache):
    """``score`` owns its folder as ``run`` does (benchmarks/folder.py): its first record
    write meets the full disk, and that is one line, exit 74, no results.json half-written,
    and the folder it made taken back."""
    np.savez(tmp_path / "samples.npz", np.zeros((60, 28, 28), np.uint8))
    out = tmp_path / "scored"
    env = run_env(classifier_cache)
    proc = _benchmarks(["score", str(tmp_path / "samples.npz"), "--dataset", "digits",
                        "--out", str(out)], env, _file_limit(1000), timeout=300)
    _assert_one_line(proc, f"cannot write to {out}", "File too large", "nothing was written",
                     "run the same command again")
    assert not out.exists()  # the folder it made is taken back: no .lock, no empty figures/
