"""The smallest dataset the suite accepts: refused below it in one line before any training
(too few images, too small images), and run end to end just above it, with every figure
computed and the settings a small dataset changes (NDB's cells, k) recorded and reported."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from benchmarks import data
from benchmarks.data import folder_cache
from tests.clitools import assert_one_line_error, cli, run_env


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(folder_cache.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))


def learnable_folder(root, per_class: int, side: int = 8, classes: int = 3):
    """Grayscale PNGs the classifier can tell apart: class c lights one quarter of the image
    over dim noise."""
    rng = np.random.default_rng(0)
    half = max(side // 2, 1)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        row, col = divmod(c, 2)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (side, side)).astype(np.uint8)
            pixels[row * half:(row + 1) * half, col * half:(col + 1) * half] += 180
            Image.fromarray(pixels, "L").save(root / f"c{c}" / f"{i:03d}.png")
    return root


def test_the_smallest_hold_out_folder_is_accepted_and_one_image_less_is_not(tmp_path):
    # 42 per class: 8 held out (round(0.2 * 42)), 34 to train: 102 train / 24 test
    ds = data.load(str(learnable_folder(tmp_path / "ok", 42)))
    assert (len(ds.x_train), len(ds.x_test)) == (102, 24)
    data.check_minimum(ds)
    # 41 per class: 8 held out, 33 to train: 99 < 100
    small = data.load(str(learnable_folder(tmp_path / "small", 41)))
    with pytest.raises(data.DataError) as err:
        data.check_minimum(small)
    assert str(err.value) == (
        "dataset folder-small is too small: 99 training and 24 test images; the suite needs at "
        "least 100 and 20 (an image folder split by the 20 % hold-out: about 125 images in "
        "all); add images")


def test_too_few_test_images_are_refused(tmp_path):
    learnable_folder(tmp_path / "split" / "train", 40)
    learnable_folder(tmp_path / "split" / "test", 6)
    ds = data.load(str(tmp_path / "split"))
    with pytest.raises(data.DataError, match="120 training and 18 test images; the suite "
                                             "needs at least 100 and 20"):
        data.check_minimum(ds)


def test_images_below_8_pixels_are_refused_unless_resized(tmp_path):
    root = learnable_folder(tmp_path / "dots", 42, side=1)
    ds = data.load(str(root))
    assert ds.image_shape == (1, 1, 1)
    with pytest.raises(data.DataError, match=r"has 1x1-pixel images; the suite needs at least "
                                             r"8x8: .*--image-size N"):
        data.check_minimum(ds)
    data.check_minimum(data.load(str(root), image_size=8))


@pytest.mark.slow
def test_small_folders_are_refused_in_one_line_before_training(tmp_path):
    # the 30-image folder with --batch-size 8 crashed in k-means after training
    thirty = learnable_folder(tmp_path / "thirty", 10)
    out = tmp_path / "out"
    proc = cli("run", "--dataset", str(thirty), "--preset", "smoke", "--batch-size", "8",
               "--models", "gan", "--out", str(out), env=run_env(tmp_path / "cache"))
    assert_one_line_error(proc, "24 training and 6 test images", "at least 100 and 20")
    assert "classifier" not in proc.stdout and not out.exists()
    # 1x1 images take the same check (above); `data PATH` refuses as run does
    proc = cli("data", str(thirty))
    assert_one_line_error(proc, "24 training and 6 test images")


@pytest.mark.slow
def test_the_smallest_folder_runs_end_to_end_with_every_figure(tmp_path):
    root = learnable_folder(tmp_path / "small", 42)
    out = tmp_path / "out"
    proc = cli("run", "--dataset", str(root), "--preset", "smoke", "--models", "gan",
               "--out", str(out), env=run_env(tmp_path / "cache"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    # 24 real test images: 24 // 5 = 4 NDB cells (the 51 training images it is fitted on
    # would allow 10), k-NN balls of k = 24 // 10 = 2
    assert results["scoring"] == {"real_images": 24, "ndb_cells": 4, "k_precision_recall": 2,
                                  "k_density_coverage": 2}
    scored = [run["final"] for run in results["runs"]] + [results["floor"]]
    assert [run["status"] for run in results["runs"]] == ["finished"]
    for figures in scored:
        for key in ("fid", "fid_ci_low", "fid_ci_high", "kid", "ndb", "ndb_js", "precision",
                    "recall", "density", "coverage", "pairwise_distance_ratio", "memorization",
                    "modes_covered", "classifier_score"):
            assert math.isfinite(figures[key]), (key, figures)
        assert figures["ndb"] * 4 == round(figures["ndb"] * 4)  # a share of 4 cells
    assert results["metrics"]["ndb"]["description"].endswith(
        "(here 4 cells: a small dataset, see the notes)")
    report = (out / "report.md").read_text()
    assert ("NDB/K and JS(cells) use 4 k-means cells, not 100: a cell's z-test needs about 5 "
            "images per cell on average, and the smaller of the sets it counts holds 24") in report
    assert "precision/recall use k=2 and density/coverage k=2 (not 3 and 5)" in report
    assert "FID: 24 real test images are no more than the 128 feature dimensions" in report
