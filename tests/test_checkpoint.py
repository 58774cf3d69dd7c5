"""A training run continued from its checkpoint takes the steps an uninterrupted run takes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks import data
from benchmarks.harness import build, checkpoint, train
from tests.conftest import SHAPE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return data.load("digits").x_train[:200]  # 6 batches of 32 an epoch: the order wraps


def values(model) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in checkpoint.state_variables(model)]


@pytest.mark.slow
def test_a_continued_run_matches_an_uninterrupted_one_step_for_step(digits, tmp_path):
    whole = build("ae", seed=0, image_shape=SHAPE)
    uninterrupted = train(whole, digits, steps=9, batch_size=32, seed=0)

    saved = []
    first = train(build("ae", seed=0, image_shape=SHAPE), digits, steps=5, batch_size=32, seed=0,
                  checkpoint_dir=tmp_path, checkpoint_every=4, on_checkpoint=saved.append)
    assert saved == [4] and first.steps_done == 5  # the fifth step is lost with the process
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.FILE]  # no temporary left

    model = build("ae", seed=0, image_shape=SHAPE)
    continued = train(model, digits, steps=9, batch_size=32, seed=0, checkpoint_dir=tmp_path,
                      steps_per_call=2)
    assert continued.steps_done == 9
    np.testing.assert_allclose(continued.history["reconstruction"],
                               uninterrupted.history["reconstruction"], rtol=1e-5)
    for a, b in zip(values(model), values(whole), strict=True):  # optimizer moments included
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_a_continued_run_keeps_the_weight_average_and_its_warm_up(digits, tmp_path):
    import models

    config = models.get("gan").Config(ema=0.9)
    whole = build("gan", config, seed=0, image_shape=SHAPE)
    train(whole, digits, steps=9, batch_size=32, seed=0)
    train(build("gan", config, seed=0, image_shape=SHAPE), digits, steps=5, batch_size=32,
          seed=0, checkpoint_dir=tmp_path, checkpoint_every=4)
    model = build("gan", config, seed=0, image_shape=SHAPE)
    train(model, digits, steps=9, batch_size=32, seed=0, checkpoint_dir=tmp_path)
    # the update count is saved: the continued average warms up from 4, not from 0
    assert float(keras.ops.convert_to_numpy(model.average_updates)) == 9.0
    for a, b in zip(values(model), values(whole), strict=True):  # the averages included
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_of_another_model_or_batch_size_is_refused(digits, tmp_path):
    train(build("ae", seed=0, image_shape=SHAPE), digits, steps=1, batch_size=32, seed=0,
          checkpoint_dir=tmp_path, checkpoint_every=1)
    with pytest.raises(ValueError, match="not a checkpoint of this gan model"):
        train(build("gan", seed=0, image_shape=SHAPE), digits, steps=2, batch_size=32, seed=0,
              checkpoint_dir=tmp_path)
    model = build("ae", seed=0, image_shape=SHAPE)
    before = values(model)
    with pytest.raises(ValueError, match="batch size 32, asked to continue at 16"):
        train(model, digits, steps=2, batch_size=16, seed=0, checkpoint_dir=tmp_path)
    for a, b in zip(values(model), before, strict=True):  # refused before loading anything
        np.testing.assert_array_equal(a, b)


def test_checkpoint_every_needs_a_folder(digits):
    with pytest.raises(ValueError, match="needs a checkpoint_dir"):
        train(build("ae", seed=0, image_shape=SHAPE), digits, steps=1, batch_size=32, seed=0,
              checkpoint_every=5)


JAX_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    from benchmarks import data
    from benchmarks.harness import build, train

    x = data.load("digits").x_train[:200]
    SHAPE = x.shape[1:]
    whole = train(build("ae", seed=0, image_shape=SHAPE), x, steps=9, batch_size=32, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        train(build("ae", seed=0, image_shape=SHAPE), x, steps=5, batch_size=32, seed=0,
              checkpoint_dir=folder, checkpoint_every=4)
        continued = train(build("ae", seed=0, image_shape=SHAPE), x, steps=9, batch_size=32, seed=0,
                          checkpoint_dir=folder, steps_per_call=2)
    print("RESULT" + json.dumps([whole.history, continued.history]))
""")


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_a_continued_run_matches_an_uninterrupted_one_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    whole, continued = json.loads(lines[-1][len("RESULT"):])
    assert len(continued["reconstruction"]) == 9
    np.testing.assert_allclose(continued["reconstruction"], whole["reconstruction"], rtol=1e-5)
