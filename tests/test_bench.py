"""``bench``: our step's images/s, and the peers' beside it, as a user runs it."""

from __future__ import annotations

import argparse
import importlib.util
import math

import pytest

from benchmarks import bench
from benchmarks.cli import commands as cli
from benchmarks.errors import UserError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_bench_arguments(parser)
    return parser.parse_args(list(argv))


def test_measure_step_times_the_current_backend_only():
    r = bench.measure_step("gan", "tensorflow", 16, "float32", 3)
    assert r["images_per_s"] > 0 and r["step_ms"] > 0 and r["replicas"] == 1
    assert r["steps"] == 3 and r["batch"] == 16
    with pytest.raises(UserError, match="fixed per process"):
        bench.measure_step("gan", "jax", 16, "float32", 1)


def test_peer_rows_give_the_ratio_and_one_short_reason_per_failed_peer(tmp_path):
    (tmp_path / "fake_step.py").write_text(
        "import sys\nprint(f'batch={sys.argv[2]} images_per_s=10')\n")
    (tmp_path / "broken_step.py").write_text("raise SystemExit('no torch here')\n")
    args = _args("--models", "dcgan", "--batch-sizes", "16,32", "--precision", "float32",
                 "--steps", "2")
    ours = {("dcgan", "float32", 16): 40.0, ("dcgan", "float32", 32): 55.0}
    rows, failed = bench.peer_rows(tmp_path, args, "tensorflow", ours)
    assert [(r["peer"], r["batch"], r["ratio"]) for r in rows] == [("fake", 16, 4.0),
                                                                 ("fake", 32, 5.5)]
    assert failed == {"broken": "no torch here"}  # tried once, not once per row


def test_project_ships_its_own_peers():
    names = sorted(p.name for p in bench.DEFAULT_PEERS_DIR.glob("*_step.py"))
    assert names == ["dcgan_keras_step.py", "dcgan_torch_step.py"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_torch_peer_without_torch_says_so_in_one_short_line():
    rate, said = bench.run_peer(bench.DEFAULT_PEERS_DIR / "dcgan_torch_step.py", "tensorflow",
                                8, "float32", 1, False)
    assert math.isnan(rate) and said == "skipped: torch is not installed"


def test_bench_command_prints_ours_and_the_peer_ratio(tmp_path, capsys):
    (tmp_path / "fake_step.py").write_text(
        "import sys\nprint(f'batch={sys.argv[2]} images_per_s=10')\n")
    args = _args("--models", "dcgan", "--batch-sizes", "16", "--steps", "2", "--peers",
                 "--peers-dir", str(tmp_path))
    assert cli.cmd_bench(args) == 0
    out = capsys.readouterr().out
    assert "dcgan float32 batch 16:" in out and "images/s" in out
    assert "fake" in out


def test_bench_rejects_unknown_model_and_precision():
    with pytest.raises(UserError, match="unknown model 'no_such_model'"):
        cli.cmd_bench(_args("--models", "no_such_model"))
    with pytest.raises(UserError, match="unknown precision 'float8'"):
        cli.cmd_bench(_args("--precision", "float8"))
