"""``bench``: our step's images/s, and the peers' beside it, as a user runs it."""

from __future__ import annotations

import argparse
import importlib.util
import math

import pytest

from benchmarks import bench
from benchmarks.cli import commands as cli
from benchmarks.console import rich_console
from benchmarks.errors import UserError
from tests.jaxworker import run_script


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


# The 2-D GAN's step counted on each backend (bench's GFLOP/step): pack 1 at batch 50 and
# 100, pack 2 at 100, the count and the forward pass's matrix products (2 x rows x in x out
# per Dense layer: the generator on batch x pack noise vectors, the discriminator on the real
# and the fake batch), counted by hand from the layers.
FLOPS_SCRIPT = """
import json
import keras
import numpy as np

import models
from benchmarks.bench import step_flops
from benchmarks.harness import build

out = []
for pack, batch in ((1, 50), (1, 100), (2, 100)):
    model = build("gan", models.get("gan").Config(pack=pack), seed=0, image_shape=(2,))
    forward = sum(2 * rows * layer.kernel.shape[0] * layer.kernel.shape[1]
                  for net, rows in (("generator", batch * pack), ("discriminator", 2 * batch))
                  for layer in model.networks[net].layers
                  if isinstance(layer, keras.layers.Dense))
    flops = step_flops(model, np.zeros((1024, 2), np.float32), batch, False)
    out.append({"pack": pack, "batch": batch, "flops": flops, "forward": forward})
print("RESULT" + json.dumps(out))
"""


def check_step_flops(cases: list[dict]) -> None:
    """A training step is its forward pass and the gradients of both losses: more than twice
    the forward products and (elementwise ops included) under six times; twice the batch,
    twice the count; a packed discriminator's wider input costs more."""
    by = {(c["pack"], c["batch"]): c for c in cases}
    for c in cases:
        assert 2 * c["forward"] < c["flops"] < 6 * c["forward"], c
    assert by[1, 100]["flops"] / by[1, 50]["flops"] == pytest.approx(2, rel=0.02)
    assert by[2, 100]["flops"] > by[1, 100]["flops"]


def test_step_flops_on_tensorflow_count_a_training_step_of_the_products():
    check_step_flops(run_script(FLOPS_SCRIPT, [])["result"])  # in this process: TensorFlow


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_step_flops_on_jax_are_xla_cost_analysis_of_the_same_step(jax_worker):
    check_step_flops(jax_worker.run(FLOPS_SCRIPT, timeout=600))


def test_measure_step_builds_the_case_with_its_settings_on_points():
    r = bench.measure_step("gan", "tensorflow", 16, "float32", 2, image_shape=(2,),
                           config={"pack": 2})
    assert r["config"] == {"pack": 2} and r["steps"] == 2
    assert r["step_gflop"] > 0 and r["gflop_per_s"] == pytest.approx(
        r["step_gflop"] / (r["step_ms"] / 1e3))
    assert bench.case_label("gan", {"pack": 2}) == "gan[pack=2]"
    assert bench.case_label("gan", {}) == "gan"
    assert bench.data_shape(_args("--points", "2")) == (2,)
    assert bench.data_shape(_args("--image-size", "32", "--channels", "3")) == (32, 32, 3)


def test_bench_set_for_a_model_not_benched_or_a_bad_value_is_one_line():
    with pytest.raises(UserError, match="model 'dcgan' is not in this run"):
        cli.cmd_bench(_args("--models", "gan", "--set", "dcgan.lr=1e-4"))
    with pytest.raises(UserError, match="gan.pack=0"):
        cli.cmd_bench(_args("--models", "gan", "--set", "gan.pack=0"))


@pytest.mark.slow  # times steps in processes of their own
def test_a_case_measured_in_its_own_process_gives_the_same_record():
    r = bench.measure_in_process("gan", "tensorflow", 16, "float32", 3,
                                 image_shape=(8, 8, 1))
    assert r["images_per_s"] > 0 and r["steps"] == 3 and r["batch"] == 16
    assert r["backend"] == "tensorflow" and r["replicas"] == 1
    with pytest.raises(RuntimeError, match="bench case gan float32 batch 16 failed: .*"):
        bench.measure_in_process("gan", "tensorflow", 16, "float32", 3, image_shape=(8, 8))


def test_peer_row_is_the_median_of_back_to_back_ratios():
    # (ours, peer) images/s of three repeats; the ratios are 1.1, 0.9 and 1.0
    row = bench.peer_row("keras", "float32", 64, [(110.0, 100.0), (90.0, 100.0),
                                                   (120.0, 120.0)])
    assert row["ratio"] == pytest.approx(1.0) and row["repeats"] == 3
    assert (row["ratio_low"], row["ratio_high"]) == pytest.approx((0.9, 1.1))
    # each side's own median (100 and 110), not a ratio of medians, names the figures
    assert (row["peer_images_per_s"], row["ours_images_per_s"]) == (100.0, 110.0)


def test_median_case_takes_each_timing_median():
    cases = [{"images_per_s": v, "step_ms": 1000 / v, "step_ms_p90": 2000 / v,
              "compile_s": c, "gflop_per_s": v / 10, "replicas": 1}
             for v, c in ((100.0, 3.0), (300.0, 1.0), (200.0, 2.0))]
    out = bench.median_case(cases)
    assert out["images_per_s"] == 200.0 and out["step_ms"] == 5.0 and out["compile_s"] == 2.0
    assert out["gflop_per_s"] == 20.0


def test_project_ships_its_own_peers():
    names = sorted(p.name for p in bench.DEFAULT_PEERS_DIR.glob("*_step.py"))
    assert names == ["dcgan_keras_step.py", "dcgan_torch_step.py"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_torch_peer_without_torch_says_so_in_one_short_line():
    rate, said = bench.run_peer(bench.DEFAULT_PEERS_DIR / "dcgan_torch_step.py", "tensorflow",
                                8, "float32", 1, False)
    assert math.isnan(rate) and said == "skipped: torch is not installed"


@pytest.mark.slow  # times steps in processes of their own
def test_bench_times_each_peer_right_after_ours_and_tries_a_broken_one_once(tmp_path,
                                                                           capsys):
    # each fake peer appends to a log, so the order of the timings is visible
    log = tmp_path / "calls.log"
    (tmp_path / "fake_step.py").write_text(
        f"import sys\nopen({str(log)!r}, 'a').write(f'fake {{sys.argv[2]}}\\n')\n"
        "print(f'batch={sys.argv[2]} images_per_s=10')\n")
    (tmp_path / "broken_step.py").write_text(
        f"open({str(log)!r}, 'a').write('broken\\n')\nraise SystemExit('no torch here')\n")
    # one batch size (each of our timings is a process of its own: two, not four)
    args = _args("--models", "dcgan", "--batch-sizes", "16", "--steps", "2", "--peers",
                 "--peers-dir", str(tmp_path), "--repeats", "2")
    assert cli.cmd_bench(args) == 0
    # broken is tried once (then skipped); fake runs after every one of our 2 timings
    assert log.read_text().split("\n")[:-1] == ["broken", "fake 16", "fake 16"]
    out = capsys.readouterr().out
    assert "dcgan float32 batch 16:" in out and "images/s, median of 2" in out
    assert "peer broken: no torch here" in out


@pytest.mark.slow  # times steps in processes of their own
def test_in_a_log_the_bench_table_keeps_whole_values(capsys):
    """stdout is not a terminal here, as in CI or | tee, where rich would assume 80 columns
    and cut cells ("mixed_b…"): the table is as wide as its values instead."""
    args = _args("--models", "gan", "--precision", "mixed_bfloat16", "--batch-sizes", "8",
                 "--steps", "1", "--image-size", "8")
    assert cli.cmd_bench(args) == 0
    out = capsys.readouterr().out
    assert "training throughput: tensorflow on " in out and "mixed_bfloat16" in out
    assert "…" not in out


def test_in_a_log_the_peer_table_keeps_whole_values(capsys):
    # ours/peer 700/850 = 0.82 and 720/700 = 1.03, their median 0.93
    pairs = {("dcgan_keras", "mixed_bfloat16", 64): [(700.0, 850.0), (720.0, 700.0)]}
    bench.print_peers(rich_console(), [bench.DEFAULT_PEERS_DIR / "dcgan_keras_step.py"],
                      str(bench.DEFAULT_PEERS_DIR), pairs, {})
    out = capsys.readouterr().out
    for whole in ("dcgan_keras", "mixed_bfloat16", "peer img/s", "0.93", "0.82–1.03"):
        assert whole in out
    assert "…" not in out


def test_bench_rejects_unknown_model_and_precision():
    with pytest.raises(UserError, match="unknown model 'no_such_model'"):
        cli.cmd_bench(_args("--models", "no_such_model"))
    with pytest.raises(UserError, match="unknown precision 'float8'"):
        cli.cmd_bench(_args("--precision", "float8"))
    with pytest.raises(UserError, match="add dcgan to --models"):
        cli.cmd_bench(_args("--models", "gan", "--peers"))
