"""A training run continued from its checkpoint takes the steps an uninterrupted run takes."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import textwrap

import keras
import numpy as np
import pytest

from benchmarks import data
from benchmarks.harness import LambdaCallback, build, checkpoint, train
from tests.conftest import SHAPE


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return data.load("digits").x_train[:200]  # 6 batches of 32 an epoch: the order wraps


def values(model) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in checkpoint.state_variables(model)]


class Died(Exception):
    """The process ends here: after a step, before anything else is written."""


def dies_after(step: int) -> LambdaCallback:
    def on_step(info):
        if info.step == step:
            raise Died

    return LambdaCallback(on_step=on_step)


@pytest.mark.slow
def test_a_continued_run_matches_an_uninterrupted_one_step_for_step(digits, tmp_path):
    whole = build("ae", seed=0, image_shape=SHAPE)
    uninterrupted = train(whole, digits, steps=9, batch_size=32, seed=0)

    saved = []
    with pytest.raises(Died):
        train(build("ae", seed=0, image_shape=SHAPE), digits, steps=9, batch_size=32, seed=0,
              checkpoint_dir=tmp_path, checkpoint_every=4,
              callbacks=[LambdaCallback(on_checkpoint=saved.append), dies_after(5)])
    assert saved == [4]  # the fifth step is lost with the process
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
    initial = values(whole)
    train(whole, digits, steps=9, batch_size=32, seed=0)
    with pytest.raises(Died):
        train(build("gan", config, seed=0, image_shape=SHAPE), digits, steps=9, batch_size=32,
              seed=0, checkpoint_dir=tmp_path, checkpoint_every=4, callbacks=[dies_after(5)])
    at_4 = build("gan", config, seed=0, image_shape=SHAPE)
    checkpoint.restore(tmp_path, at_4, batch_size=32)
    # the checkpoint holds the average as its own values (not the raw weights again) and its
    # count: exactly, as no step has run since
    assert float(keras.ops.convert_to_numpy(at_4.average_updates)) == 4.0
    average, raw = at_4.averages["generator"], at_4.networks["generator"]
    assert not all(np.array_equal(a, r) for a, r in
                   zip(average.get_weights(), raw.get_weights(), strict=True))
    model = build("gan", config, seed=0, image_shape=SHAPE)
    train(model, digits, steps=9, batch_size=32, seed=0, checkpoint_dir=tmp_path)
    # the update count is saved: the continued average warms up from 4, not from 0
    assert float(keras.ops.convert_to_numpy(model.average_updates)) == 9.0
    # the averages included. Not to float round-off: the dense GAN's Adam steps turn a last-bit
    # difference (oneDNN's kernels may round differently from one memory layout to another, so
    # by what ran earlier in the process) into up to 4e-5 in a weight after 9 steps. What a
    # lost or restarted average would give is of the order of the training's own movement, so
    # each variable must match to 1 % of how far training moved it
    for a, b, start in zip(values(model), values(whole), initial, strict=True):
        assert _rms(a - b) <= 0.01 * _rms(b - start) + 1e-7, (a.shape, _rms(a - b), _rms(b - start))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


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


@pytest.mark.parametrize("damage", ["truncated", "a flipped byte"])
def test_a_damaged_checkpoint_is_unreadable_naming_its_file(digits, tmp_path, damage):
    train(build("ae", seed=0, image_shape=SHAPE), digits, steps=1, batch_size=32, seed=0,
          checkpoint_dir=tmp_path, checkpoint_every=1)
    path = tmp_path / checkpoint.FILE
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        del data[len(data) // 2:]
    else:  # a quarter in, inside a variable's values: only that member's CRC tells
        data[len(data) // 4] ^= 0xFF
    path.write_bytes(bytes(data))
    model = build("ae", seed=0, image_shape=SHAPE)
    before = values(model)
    with pytest.raises(checkpoint.Unreadable, match=re.escape(f"{path} cannot be read")):
        train(model, digits, steps=2, batch_size=32, seed=0, checkpoint_dir=tmp_path)
    for a, b in zip(values(model), before, strict=True):  # nothing loaded
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damaged", ["frames.npz", "progress.json"])
def test_progress_cut_short_beside_a_checkpoint_is_a_fresh_start_for_the_curves(tmp_path,
                                                                                damaged):
    from benchmarks import experiment

    curves = {"step": [10], "fid": [5.0], "modes_covered": [9], "kl_classes": [0.5]}
    frame = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1)
    experiment.save_progress(tmp_path, curves, [(10, frame)], {"step": 10, "fid": 5.0})
    kept_curves, kept_frames, kept_best = experiment.progress_so_far(tmp_path)
    assert kept_curves == curves and kept_best == {"step": 10, "fid": 5.0}
    assert kept_frames[0][0] == 10 and np.array_equal(kept_frames[0][1], frame)
    path = tmp_path / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    curves, frames, best = experiment.progress_so_far(tmp_path)
    assert (curves["step"], frames, best) == ([], [], {"step": None, "fid": math.inf})


@pytest.mark.slow
def test_training_that_ends_between_checkpoints_keeps_its_last_steps(digits, tmp_path):
    """So a run stopped while it is scored resumes at its final weights, not before them."""
    saved = []
    log = train(build("ae", seed=0, image_shape=SHAPE), digits, steps=6, batch_size=32, seed=0,
                checkpoint_dir=tmp_path, checkpoint_every=4,
                callbacks=[LambdaCallback(on_checkpoint=saved.append)])
    assert saved == [4, 6] and log.steps_done == 6
    assert checkpoint.read(tmp_path)[0]["step"] == 6
    saved.clear()
    train(build("ae", seed=0, image_shape=SHAPE), digits, steps=8, batch_size=32, seed=0,
          checkpoint_dir=tmp_path, checkpoint_every=4, steps_per_call=3,
          callbacks=[LambdaCallback(on_checkpoint=saved.append)])
    assert saved == [8]  # continued from 6 in one call of 2 steps, which crossed 8: once


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
def test_a_continued_run_matches_an_uninterrupted_one_on_jax(jax_worker):
    whole, continued = jax_worker.run(JAX_SCRIPT, timeout=600)
    assert len(continued["reconstruction"]) == 9
    np.testing.assert_allclose(continued["reconstruction"], whole["reconstruction"], rtol=1e-5)


@pytest.mark.slow
def test_a_truncated_checkpoint_is_noted_and_its_run_trains_again_from_step_0(
        tmp_path, classifier_cache, digits):
    """The checkpoint is the harness's own, written in this process at ae's first step (as a
    run stopped there leaves it: the signal's path to it: tests/test_run.py's Ctrl-C test), then
    cut in half as a crash mid-copy leaves it."""
    from tests.clitools import cli

    here = {"BENCHMARKS_CACHE_DIR": str(classifier_cache), "BENCHMARKS_DATA_DIR": None,
            "COLUMNS": "500"}  # the note on one line, however long

    def resume():
        return cli("run", "--resume", str(out), env=here)

    out = tmp_path / "run"
    proc = cli("run", "--preset", "smoke", "--dataset", "digits", "--samples", "200",
               "--eval-samples", "100", "--models", "gan", "--checkpoint-every", "1000",
               "--out", str(out), env=here)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # widen the study to gan + ae, whose run had checkpointed its first step
    results = json.loads((out / "results.json").read_text())
    results["config"]["models"] = ["gan", "ae"]
    (out / "results.json").write_text(json.dumps(results))
    (gan,) = results["runs"]
    assert gan["model"] == "gan" and gan["status"] == "finished"
    saved = out / "checkpoints" / "ae-s0" / checkpoint.FILE
    train(build("ae", seed=0, image_shape=SHAPE), digits, steps=1,
          batch_size=results["config"]["batch_size"], seed=0, checkpoint_dir=saved.parent,
          checkpoint_every=1)
    assert saved.is_file()
    saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])  # a crash mid-copy

    for attempt in range(2):  # the first resume mends it; the second finds nothing to do
        proc = resume()
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        notes = [line for line in proc.stdout.splitlines() if str(saved) in line]
        assert len(notes) == (1 if attempt == 0 else 0), proc.stdout[-3000:]
        results = json.loads((out / "results.json").read_text())
        assert results["status"] == "complete"
        assert [r for r in results["runs"] if r["model"] == "gan"] == [gan]  # untouched
        (ae,) = [r for r in results["runs"] if r["model"] == "ae"]
        assert (ae["status"], ae["steps_done"]) == ("finished", 20)
        assert ae["losses"]["step"] == list(range(1, 21))
        assert "continuing from its last checkpoint" not in proc.stdout
    assert not saved.parent.exists()  # scored: its checkpoint folder is gone


def test_a_damaged_checkpoint_trained_again_is_in_the_notes_and_the_report(tmp_path):
    """The "cannot be read, training again" line reaches results.json's notes and report.md,
    not only the terminal (issue 29 item 10). Two steps on the ring: its run is dropped from
    the record and a damaged checkpoint left where it kept its own."""
    from tests.clitools import cli

    out = tmp_path / "ring"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture", "--steps",
               "2", "--eval-every", "0", "--seeds", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    results.update(runs=[], status="interrupted")
    (out / "results.json").write_text(json.dumps(results))
    saved = out / "checkpoints" / "gan-s0" / checkpoint.FILE
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"PK\x03\x04 cut short")
    proc = cli("run", "--resume", str(out), env={"COLUMNS": "500"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    (note,) = [n for n in results["notes"] if str(saved) in n]
    assert note.startswith("gan seed 0: ") and note.endswith("training it again from step 0")
    assert results["runs"][0]["steps_done"] == 2
    assert note in (out / "report.md").read_text()
