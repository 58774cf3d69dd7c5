"""The must-show test for color datasets: an image folder built from real Fashion-MNIST as
colourised RGB PNGs at 32x32, run end to end at the smoke preset: the report is written, its
sample grids are in color, and the scoring classifier's accuracy is reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.data import idx
from tests.clitools import cli

FASHION = Path("/usr/share/datasets/fashion-mnist")
TRAIN_PER_CLASS, TEST_PER_CLASS = 60, 20


def colourise(gray: np.ndarray) -> np.ndarray:
    """Gray (28, 28) -> RGB (32, 32, 3) whose channels differ: ink red-orange on dark blue."""
    g = np.asarray(Image.fromarray(gray).resize((32, 32), Image.Resampling.BILINEAR), np.float32)
    rgb = np.stack([g, 0.55 * g + 20, 110 - 0.4 * g], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def build_folder(root: Path) -> list[str]:
    files = idx.complete_folder(FASHION)
    x_tr, y_tr, x_te, y_te, _ = idx.load_idx_folder("fashion-mnist", files)
    names = ["t-shirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
             "sneaker", "bag", "ankle-boot"]
    for split, x, y, per_class in (("train", x_tr, y_tr, TRAIN_PER_CLASS),
                                   ("test", x_te, y_te, TEST_PER_CLASS)):
        for label, name in enumerate(names):
            (root / split / name).mkdir(parents=True)
            for i in np.flatnonzero(y == label)[:per_class]:
                Image.fromarray(colourise(x[i]), "RGB").save(root / split / name / f"{i}.png")
    return names


@pytest.mark.slow
def test_fashion_mnist_folder_in_color_runs_end_to_end(tmp_path):
    if idx.complete_folder(FASHION) is None:
        pytest.skip(f"Fashion-MNIST not at {FASHION} (apt-get install dataset-fashion-mnist)")
    build_folder(tmp_path / "fashion32")
    out = tmp_path / "run"
    proc = cli("run", "--dataset", str(tmp_path / "fashion32"), "--preset", "smoke",
               "--out", str(out), env={"BENCHMARKS_CACHE_DIR": str(tmp_path / "cache")},
               timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "complete"
    assert results["dataset"]["train_size"] == 600 and results["dataset"]["test_size"] == 200
    accuracy, gate = results["classifier"]["test_accuracy"], results["classifier"]["gate"]
    assert gate == pytest.approx(0.55)  # the folder rule: 50 + 50/10 %
    assert 0.1 < accuracy <= 1.0  # better than chance on 10 classes
    report = (out / "report.md").read_text()
    assert f"{accuracy:.2%}" in report  # the measured accuracy, printed

    grids = [out / run["figures"][key] for run in results["runs"]
             for key in ("samples_final", "samples_best") if key in (run.get("figures") or {})]
    assert len(grids) >= len(results["runs"]) == 3  # dcgan, gan, ae at the smoke preset
    spread = []
    for path in grids:
        with Image.open(path) as im:
            assert im.mode == "RGB", (path.name, im.mode)
            pixels = np.asarray(im, np.int16)
        spread.append(int(np.abs(pixels[..., 0] - pixels[..., 2]).max()))
    # color, not gray stored as RGB (which would give 0 everywhere); after 20 smoke steps some
    # models are still near grey (a DCGAN's grid spread 25), others have the palette (~140)
    assert min(spread) > 0 and max(spread) > 100, spread
