"""Exported generators: a trained run's weights/TAG/generator.keras loads with plain Keras in a
fresh process and draws the model's own samples; ae's mixture as layers is the mixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.special import ndtr

from benchmarks.harness import build
from models.autoencoder import mixture_codes

# three components in 2-D, weights far from equal, covariances full
WEIGHTS = np.array([0.6, 0.1, 0.3])
MEANS = np.array([[0.0, 0.0], [5.0, -5.0], [-4.0, 3.0]])
COVS = np.array([[[1.0, 0.5], [0.5, 2.0]], [[0.2, 0.0], [0.0, 0.1]],
                 [[3.0, -1.0], [-1.0, 1.0]]])


def _reference(noise: np.ndarray, weights, means, covs) -> np.ndarray:
    """numpy's own mixture draw in float64: the component numpy's rng.choice would pick for
    the uniform Phi(u), then mean + cholesky(cov) z."""
    cdf = np.cumsum(weights) / np.sum(weights)
    component = np.searchsorted(cdf, ndtr(noise[:, -1]), side="right")
    chol = np.linalg.cholesky(covs)
    return means[component] + np.einsum("nij,nj->ni", chol[component], noise[:, :-1])


def test_the_mixture_as_layers_draws_the_mixture():
    import keras

    noise = np.random.default_rng(0).standard_normal((100_000, 3))
    codes = keras.ops.convert_to_numpy(mixture_codes(WEIGHTS, MEANS, COVS)(
        noise.astype(np.float32)))
    # every code is the float64 draw's: the component choice agrees on all 100,000 draws
    np.testing.assert_allclose(codes, _reference(noise.astype(np.float32).astype(np.float64),
                                                 WEIGHTS, MEANS, COVS), atol=1e-4)
    # and the draws are the mixture's: weights, means, covariances within sampling error
    # (mean (-0.7, 0.4); covariance sum w (cov + mu mu^T) - mean mean^T; standard errors
    # ~0.01 and ~0.05 at 100,000 draws), and the component apart from the others, (5, -5)
    # with a covariance of 0.1 to 0.2, holds its weight's share of the draws
    mean = WEIGHTS @ MEANS
    np.testing.assert_allclose(mean, [-0.7, 0.4])
    np.testing.assert_allclose(codes.mean(0), mean, atol=0.05)
    second = np.einsum("c,cij->ij", WEIGHTS, COVS + np.einsum("ci,cj->cij", MEANS, MEANS))
    np.testing.assert_allclose(np.cov(codes, rowvar=False), second - np.outer(mean, mean),
                               atol=0.25)
    apart = np.linalg.norm(codes - MEANS[1], axis=1) < 2.5
    assert abs(apart.mean() - WEIGHTS[1]) < 0.005


def test_a_one_component_mixture_takes_the_same_noise_and_is_its_gaussian():
    import keras

    noise = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    codes = keras.ops.convert_to_numpy(mixture_codes(np.ones(1), MEANS[:1], COVS[:1])(noise))
    np.testing.assert_allclose(codes, noise[:, :2] @ np.linalg.cholesky(COVS[0]).T, atol=1e-6)


FRESH = textwrap.dedent('''
    import json, sys
    import keras, numpy as np
    out = {}
    for key, path in json.loads(sys.argv[1]).items():
        generator = keras.saving.load_model(path)
        shape = generator.input_shape[1:]
        noise = np.random.default_rng(5).standard_normal((16, *shape)).astype("float32")
        np.save(path + ".npy", keras.ops.convert_to_numpy(generator(noise)))
        out[key] = list(shape)
    out["imported"] = sorted(m for m in ("models", "benchmarks") if m in sys.modules)
    print(json.dumps(out))
''')


@pytest.mark.slow
def test_a_runs_exported_generators_load_in_a_fresh_process_and_draw_its_samples(smoke_run,
                                                                                  tmp_path):
    out = smoke_run.copy(tmp_path / "run")  # the session's smoke run (dcgan, gan, ae)
    runs = {r["model"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    files = {f"{name}/{which}": str(out / path) for name, r in runs.items()
             for which, path in r["exported"].items()}
    assert {"gan/final", "ae/final"} <= set(files)
    assert runs["gan"]["exported"]["final"] == "weights/gan-s0/generator.keras"
    # plain Keras, outside the checkout, with nothing of genbench on the path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    fresh = subprocess.run([sys.executable, "-c", FRESH, json.dumps(files)], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    seen = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert seen["imported"] == []
    assert seen["gan/final"] == [100] and seen["ae/final"] == [17]  # ae: 16 code values + 1
    for key, path in files.items():
        name, which = key.split("/")
        model = build(name, seed=0, image_shape=(28, 28, 1))
        model.load_weights(out / runs[name]["weights"] if which == "final"
                           else out / f"{runs[name]['weights']}-best")
        drawn = np.load(path + ".npy")
        assert drawn.shape == (16, 28, 28, 1) and np.abs(drawn).max() <= 1.0
        np.testing.assert_allclose(drawn, model.sample(16, seed=5), atol=1e-5)


def test_a_best_checkpoint_at_the_final_step_exports_its_generator_once(tmp_path):
    """Two steps on the ring, evaluated only at the last: the best weights are the final
    ones, and generator.keras is written once, which both entries of `exported` name."""
    from tests.clitools import cli

    out = tmp_path / "ring"
    proc = cli("run", "--dataset", "ring", "--models", "gan", "--preset", "mixture", "--steps",
               "2", "--eval-every", "2", "--seeds", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["best"]["step"] == run["steps_done"] == 2
    assert run["exported"] == {"final": "weights/gan-s0/generator.keras",
                               "best": "weights/gan-s0/generator.keras"}
    assert not (out / "weights" / "gan-s0-best" / "generator.keras").exists()
    assert (out / run["exported"]["best"]).is_file()
