"""The mode-collapse benchmarks end to end: the 2-D ring and grid (points scored by their
known mixture) and Stacked MNIST (the MNIST classifier on each channel), as `run` and `data`
see them; the presets that carry a paper's settings."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from benchmarks import data
from tests.clitools import assert_one_line_error, cli

MNIST = Path(os.environ.get("BENCHMARKS_DATA_DIR", "/nonexistent")) / "mnist"


@pytest.mark.parametrize("name, modes, sigma", [("ring", 8, 0.01), ("grid", 25, 0.05)])
def test_point_datasets_are_generated_deterministically_offline(name, modes, sigma):
    a, b = data.load(name), data.load(name)
    assert a.holds == "points" and a.image_shape == (2,)
    assert (len(a.x_train), len(a.x_test)) == (100000, 10000)  # PacGAN's 100,000 points
    assert a.checksum == b.checksum and np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train[:10000], a.x_test)  # the splits are other draws
    assert a.num_classes == modes and a.mixture.sigma == sigma
    # each label is the component the point lies nearest, at about sigma from its centre
    offsets = a.x_train - a.mixture.centres[a.y_train]
    assert np.std(offsets) == pytest.approx(sigma, rel=0.02)
    assert np.bincount(a.y_train, minlength=modes).min() > 0.8 * len(a.x_train) / modes
    assert "no classifier" in a.scored_by
    data.check_minimum(a)  # points have no image side to check


def test_real_points_score_every_mode_and_collapse_scores_one():
    import metrics

    ds = data.load("ring")
    ref = metrics.build_reference(ds)
    assert ref.kind == "mixture"
    real = metrics.evaluate(ds.x_test[:2500], ref)
    assert set(real) == set(metrics.applicable("mixture")) | {"class_histogram"}
    assert real["mixture_modes"] == 8 and real["high_quality"] > 0.97
    assert real["reverse_kl"] < 0.01
    collapsed = np.repeat(ds.mixture.centres[:1], 500, axis=0)
    scores = metrics.evaluate(collapsed, ref)
    assert scores["mixture_modes"] == 1 and scores["reverse_kl"] == pytest.approx(math.log(8))
    assert scores["class_histogram"][0] == 1.0 and sum(scores["class_histogram"]) == 1.0
    fast = metrics.evaluate(collapsed, ref, fast=True)
    assert set(fast) == set(metrics.fast_keys("mixture")) | {"class_histogram"}


@pytest.mark.slow
def test_gan_on_the_ring_end_to_end(tmp_path):
    """The mixture preset's settings (PacGAN's), a few steps several to a call, the scatter
    figures, the mixture's figures in results.json and the report's mode-collapse section."""
    out = tmp_path / "ring"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture",
               "--steps", "200", "--eval-every", "100", "--steps-per-call", "50", "--seeds", "1",
               "--set", "gan.pack=2", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["classifier"] is None and results["scoring"] == {"real_images": 100000}
    assert set(results["metrics"]) == {"mixture_modes", "high_quality", "reverse_kl",
                                       "log_likelihood"}
    (run,) = results["runs"]
    # the preset's PacGAN settings, beneath --set
    assert {k: run["model_config"][k] for k in ("noise_dim", "lr", "beta_1", "pack")} == {
        "noise_dim": 2, "lr": 1e-4, "beta_1": 0.8, "pack": 2}
    assert results["config"]["steps_per_call"] == 50
    assert run["steps_done"] == 200 and run["curves"]["step"] == [100, 200]
    assert 0 <= run["final"]["mixture_modes"] <= 8 and 0 <= run["final"]["high_quality"] <= 1
    assert results["floor"]["mixture_modes"] == 8
    for key in ("samples_final", "progression_strip"):
        assert (out / run["figures"][key]).stat().st_size > 0
    report = (out / "report.md").read_text()
    section = report[report.index("## Mode collapse"):]
    assert "Reverse KL" in section and "High quality" in section
    # the preset reproduces PacGAN Table 1: its rows travel in results.json, and the one for
    # pack 2 sits under ours
    assert [row["label"] for row in results["published"]] == ["GAN", "PacGAN2", "PacGAN3",
                                                               "PacGAN4"]
    assert section.count(", published*") == 1 and "| *PacGAN2, published* | 10 | 7.9 [" in section


def test_image_models_on_points_are_one_line_before_training(tmp_path):
    proc = cli("run", "--dataset", "grid", "--models", "gan,dcgan", "--preset", "smoke",
               "--out", str(tmp_path / "x"))
    assert_one_line_error(proc, "dcgan", "grid", "2-d points")
    assert not (tmp_path / "x").exists()


def test_score_refuses_a_point_dataset(tmp_path):
    np.save(tmp_path / "points.npy", np.zeros((100, 2), np.float32))
    proc = cli("score", str(tmp_path / "points.npy"), "--dataset", "ring",
               "--out", str(tmp_path / "s"))
    assert_one_line_error(proc, "ring", "points", "run --dataset ring")


@pytest.mark.slow
def test_data_lists_the_mode_benchmarks():
    proc = cli("data")
    assert proc.returncode == 0, proc.stderr
    for name in ("stacked-mnist", "ring", "grid"):
        assert name in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.is_dir(), reason="needs the MNIST files in $BENCHMARKS_DATA_DIR")
def test_stacked_mnist_loads_from_the_mnist_files_and_is_scored_per_channel():
    import metrics

    ds = data.load("stacked-mnist")
    assert ds.image_shape == (28, 28, 3) and ds.num_classes == 1000
    assert len(ds.x_train) == 128000  # the papers' training set
    assert ds.channel_dataset.name == "mnist"
    ref = metrics.build_reference(ds, n=2000)
    assert ref.kind == "per_channel"
    real = metrics.evaluate(ds.x_test[:2000], ref)
    assert {"modes_1000", "kl_triples", "fid", "modes_covered"} <= set(real)
    # 2,000 real images drawn uniformly from 1,000 triples: 1000 (1 - e^-2) = 865 expected
    assert 820 <= real["modes_1000"] <= 900
    one = np.repeat(ds.x_test[:1], 100, axis=0)
    collapsed = metrics.evaluate(one, ref)
    assert collapsed["modes_1000"] == 1
    assert collapsed["kl_triples"] == pytest.approx(math.log(1000))


def _config(*argv):
    from benchmarks.cli import build_parser
    from benchmarks.cli.run import resolve_config

    return resolve_config(build_parser().parse_args(["run", *argv]))


def test_a_presets_paper_settings_sit_beneath_set():
    cfg = _config("--models", "gan,dcgan", "--preset", "mixture", "--set", "gan.lr=2e-4")
    # PacGAN's 2-D settings for gan, the user's lr over the preset's; dcgan gets none
    assert cfg.overrides == {"gan": {"noise_dim": 2, "lr": 2e-4, "beta_1": 0.8, "dropout": 0.0}}
    assert (cfg.steps, cfg.batch_size, cfg.samples, cfg.steps_per_call) == (10000, 100, 2500, 1)
    assert _config("--models", "gan", "--preset", "quick").overrides == {}
    assert _config("--models", "gan", "--steps-per-call", "50").steps_per_call == 50


def test_points_are_sampled_unclipped():
    """The grid reaches +-4: a point generator's samples keep their values (images clip)."""
    from benchmarks.harness import build

    model = build("gan", None, seed=0, image_shape=(2,))
    out = model.networks["generator"].layers[-1]
    kernel, bias = out.get_weights()
    out.set_weights([kernel, bias + 3.0])
    points = model.sample(200, seed=1)
    assert points.shape == (200, 2) and points.min() > 1.5  # not clipped to [-1, 1]


def test_mixture_evaluation_refuses_bad_points_in_one_line():
    import metrics

    ref = metrics.build_reference(data.load("grid"))
    with pytest.raises(metrics.MetricsError, match=r"expected \(N, 2\) float points"):
        metrics.evaluate(np.zeros((100, 28, 28, 1), np.float32), ref)
    bad = np.zeros((100, 2), np.float32)
    bad[3] = np.nan
    with pytest.raises(metrics.MetricsError, match="1 of 100 samples contain NaN"):
        metrics.evaluate(bad, ref)


def test_a_resumed_mixture_run_keeps_its_curves_and_best(tmp_path):
    from benchmarks import experiment

    keys = experiment.CURVES["mixture"]
    curves = {"step": [100], **{k: [0.5] for k in keys}}
    frame = np.ones((experiment.POINTS_SHOWN, 2), np.float32)
    experiment.save_progress(tmp_path, curves, [(100, frame)], {"step": 100, "reverse_kl": 0.5})
    kept, frames, best = experiment.progress_so_far(tmp_path, keys, "reverse_kl")
    assert kept == curves and best == {"step": 100, "reverse_kl": 0.5}
    assert frames[0][0] == 100 and np.array_equal(frames[0][1], frame)
    fresh = experiment.progress_so_far(tmp_path / "none", keys, "reverse_kl")
    assert fresh[2] == {"step": None, "reverse_kl": math.inf} and set(fresh[0]) == {"step", *keys}


def test_every_image_model_on_points_is_named_at_once(tmp_path):
    """--models all on a mixture: one line naming every model that does not build for points,
    not one a retry (issue 29 item 8)."""
    proc = cli("run", "--dataset", "grid", "--models", "all", "--preset", "smoke",
               "--out", str(tmp_path / "x"))
    assert_one_line_error(proc, "grid", "2-d points", "--models gan")
    unfit = proc.stderr.split("leave ")[1].split(" out of")[0]
    assert unfit.split(", ") == ["ae", "dcgan", "dcgan_tf", "ddpm", "flow", "metz", "vae",
                                 "wgan_gp"]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("preset, dataset, holds", [("mixture", "digits", "images"),
                                                    ("pacgan-2d", "digits", "images"),
                                                    ("pacgan-stacked", "ring", "points")])
def test_a_preset_for_other_data_is_refused_before_training(tmp_path, preset, dataset, holds):
    proc = cli("run", "--dataset", dataset, "--models", "gan", "--preset", preset,
               "--steps", "1", "--out", str(tmp_path / "x"))
    assert_one_line_error(proc, f"--preset {preset}", f"{dataset} holds {holds}", "smoke")
    assert not (tmp_path / "x").exists()


def test_every_preset_beyond_smoke_keeps_checkpoints_to_resume_from():
    """An interrupted --preset mixture run resumed from step 0: it kept no checkpoint."""
    from benchmarks.config import PRESETS

    for name, preset in PRESETS.items():
        if name != "smoke":
            assert 0 < preset.checkpoint_every < preset.steps, name
    assert _config("--preset", "mixture").checkpoint_every == 2500


def test_mode_counts_at_another_sample_count_than_pacgans_are_noted(tmp_path):
    """Two steps on the ring, scored on 500 samples: results.json's notes and the report say
    that modes covered depend on the count and stand beside PacGAN's 2,500 no longer."""
    out = tmp_path / "ring"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture",
               "--steps", "2", "--eval-every", "0", "--seeds", "1", "--samples", "500",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = json.loads((out / "results.json").read_text())["notes"]
    (note,) = [n for n in notes if "modes covered depend" in n]
    assert "500" in note and "2,500" in note and "fewer modes" in note
    assert note in (out / "report.md").read_text()
    import metrics

    assert metrics.build_reference(data.load("ring")).caveats(2500) == []


def test_epochs_count_the_images_a_packed_step_reads(tmp_path):
    """An epoch reads the ring's 100,000 points once: at batch 10,000 with pack 2 a step reads
    20,000 of them, so one epoch is 5 steps, not 10; a grid of packs is refused (item 9)."""
    out = tmp_path / "ring"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture",
               "--epochs", "1", "--batch-size", "10000", "--set", "gan.pack=2",
               "--eval-every", "0", "--seeds", "1", "--samples", "500", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["steps"] == results["runs"][0]["steps_done"] == 5
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture",
               "--epochs", "1", "--sweep", "gan.pack=1,2", "--out", str(tmp_path / "x"))
    assert_one_line_error(proc, "--epochs 1", "1 or 2 images per batch element", "--steps")
    assert not (tmp_path / "x").exists()
