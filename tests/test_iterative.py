"""flow and ddpm (models/flow.py, models/ddpm.py) and the U-Net they share: the flow's path
by hand, its solvers exact where the answer is known, the diffusion's closed form against
its own chain, DDIM exact for a single point, the NFE each sampler spends, and both models on
JAX. The contract (tests/test_models.py, tests/test_contract.py) covers them like any model."""

from __future__ import annotations

import math
import textwrap

import keras
import numpy as np
import pytest

import models
from models.ddpm import alphas_bar, ddim, ddim_steps, diffuse
from models.flow import SOLVERS, integrate, straight_path
from models.iterative import NetworkCalls
from models.unet import unet
from tests.conftest import SHAPE


def test_the_straight_path_and_its_velocity_by_hand():
    x0, x1 = np.array([1.0, -2.0, 0.0]), np.array([3.0, 0.0, -1.0])
    x_t, velocity = straight_path(x0, x1, 0.25)
    # (1 - 0.25) * x0 + 0.25 * x1 and x1 - x0, worked by hand
    np.testing.assert_allclose(x_t, [1.5, -1.5, -0.25])
    np.testing.assert_allclose(velocity, [2.0, 2.0, -1.0])
    np.testing.assert_allclose(straight_path(x0, x1, 0.0)[0], x0)
    np.testing.assert_allclose(straight_path(x0, x1, 1.0)[0], x1)


@pytest.mark.parametrize("nfe", [1, 2, 3, 7, 16, 64])
def test_euler_takes_every_start_to_a_single_data_point_for_any_nfe(nfe):
    # for data that is one point x1, the flow-matching velocity is (x1 - x) / (1 - t)
    # (the conditional one, exact): Euler's last step, from t = 1 - 1/nfe, lands on x1
    x1 = np.array([0.3, -0.7, 0.9])
    starts = np.random.default_rng(nfe).standard_normal((5, 3))
    landed = integrate(lambda x, t: (x1 - x) / (1.0 - t), starts, nfe, "euler")
    np.testing.assert_allclose(landed, np.broadcast_to(x1, (5, 3)), atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("nfe", [1, 2, 5, 16])
def test_each_solver_spends_exactly_nfe_evaluations_and_is_exact_on_a_linear_field(solver, nfe):
    calls = []

    def velocity(x, t):  # dx/dt = 2t: x(1) = x(0) + 1, which every rule of order 2 gets
        calls.append(t)
        return np.full_like(x, 2.0 * t)

    landed = integrate(velocity, np.zeros(4), nfe, solver)
    assert len(calls) == nfe and all(0.0 <= t <= 1.0 for t in calls)
    if solver != "euler" and nfe % 2 == 0:
        np.testing.assert_allclose(landed, np.ones(4), atol=1e-12)
    if solver == "euler":  # the left Riemann sum of 2t: 1 - 1/nfe
        np.testing.assert_allclose(landed, np.full(4, 1.0 - 1.0 / nfe), atol=1e-12)


def test_the_forward_process_closed_form_matches_its_own_chain():
    """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I): 20,000 chains of the one-step
    process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), betas from the schedule,
    against the closed form at t = 1, 250, 500, 1000."""
    for schedule in ("cosine", "linear"):
        abar = alphas_bar(schedule, 1000)
        betas = 1.0 - abar[1:] / abar[:-1]
        assert abar[0] == 1.0 and np.all(np.diff(abar) < 0) and np.all(betas <= 0.999)
        rng = np.random.default_rng(0)
        x0 = np.array([0.8, -0.5])
        x = np.broadcast_to(x0, (20_000, 2)).copy()
        for t in range(1, 1001):
            x = math.sqrt(1.0 - betas[t - 1]) * x + math.sqrt(betas[t - 1]) * \
                rng.standard_normal(x.shape)
            if t in (1, 250, 500, 1000):
                mean, var = math.sqrt(abar[t]) * x0, 1.0 - abar[t]
                se = math.sqrt(max(var, 1e-12) / len(x))
                np.testing.assert_allclose(x.mean(0), mean, atol=5 * se + 1e-9)
                np.testing.assert_allclose(x.var(0), var, rtol=0.05, atol=1e-7)
    # the schedules' own definitions at hand-picked steps
    cosine = alphas_bar("cosine", 1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert cosine[500] == pytest.approx(f(500) / f(0), rel=1e-9)
    assert alphas_bar("linear", 1000)[1] == pytest.approx(1.0 - 1e-4, rel=1e-12)


def test_diffuse_draws_x_t_with_the_closed_forms_mean_and_variance():
    eps = np.random.default_rng(1).standard_normal((50_000, 1)).astype(np.float32)
    x_t = keras.ops.convert_to_numpy(diffuse(np.float32(0.6), eps, np.float32(0.36)))
    assert x_t.mean() == pytest.approx(0.6 * 0.6, abs=0.01)  # sqrt(0.36) * x0
    assert x_t.var() == pytest.approx(1.0 - 0.36, rel=0.02)


@pytest.mark.parametrize("nfe", [1, 2, 10, 50])
def test_ddim_lands_on_a_single_data_point_with_its_exact_noise_predictor(nfe):
    # for data that is one point x0, the noise in x_t is (x_t - sqrt(abar) x0) / sqrt(1 - abar)
    abar, x0 = alphas_bar("cosine", 1000), np.array([0.25, -0.5, 0.75])
    steps = len(abar) - 1

    def predict_noise(x, t):
        a = abar[round(t * steps)]
        return (x - math.sqrt(a) * x0) / math.sqrt(1.0 - a)

    start = np.random.default_rng(nfe).standard_normal((4, 3))
    landed = keras.ops.convert_to_numpy(ddim(predict_noise, start, abar, nfe))
    np.testing.assert_allclose(landed, np.broadcast_to(x0, (4, 3)), atol=1e-6)
    assert len(ddim_steps(steps, nfe)) == nfe and ddim_steps(steps, nfe)[-1] == 1


def _ddpm(**settings):
    cls = models.get("ddpm")
    return cls(cls.Config(**settings), SHAPE)


def test_ddim_with_eta_zero_is_deterministic_for_a_seed_and_eta_one_draws_noise():
    model = _ddpm(nfe=3)
    a, b = model.sample(3, seed=7), model.sample(3, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, model.sample(3, seed=8))
    noisy = _ddpm(nfe=3, eta=1.0)
    assert noisy.noise_shape(3) == (28, 28, 3)  # the start and 2 steps' noise
    np.testing.assert_array_equal(noisy.sample(3, seed=7), noisy.sample(3, seed=7))


@pytest.mark.parametrize("name", ["flow", "ddpm"])
@pytest.mark.parametrize("nfe", [1, 4])
def test_the_samplers_network_evaluations_equal_the_setting(name, nfe):
    cls = models.get(name)
    model = cls(cls.Config(nfe=nfe), SHAPE)
    calls = NetworkCalls(lambda inputs: keras.ops.zeros_like(inputs[0]))
    model.solve(np.zeros((2, *SHAPE), np.float32), calls, nfe)
    assert calls.calls == nfe == model.nfe
    assert model.sampler(nfe).name.endswith(f"_{nfe}")  # built: its own count checked
    assert models.get("dcgan")(image_shape=SHAPE).nfe == 1  # one call: a generator


def test_the_unet_has_its_weight_count_and_maps_images_and_time_to_images():
    net = unet("flow", SHAPE)
    assert net.count_params() == 1_079_473  # in the 1-3 M the models' docs state
    assert unet("flow", (32, 32, 3)).count_params() == 1_080_051  # conv_in, conv_out: 3 channels
    out = net([np.zeros((2, *SHAPE), np.float32), np.array([[0.0], [1.0]], np.float32)])
    assert out.shape == (2, *SHAPE)
    with pytest.raises(ValueError, match=r"^flow: width=12 must be a multiple of 8"):
        unet("flow", SHAPE, width=12)


def test_bad_settings_are_one_line_each():
    with pytest.raises(ValueError, match=r"^solver='rk4' is not allowed; expected one of "):
        models.get("flow").Config(solver="rk4")
    with pytest.raises(ValueError, match=r"^nfe=2000 is not allowed"):
        models.get("flow").Config(nfe=2000)
    with pytest.raises(ValueError, match=r"^nfe=20 is more than timesteps=10"):
        models.get("ddpm").Config(nfe=20, timesteps=10)


# training and sampling on JAX: tests/test_harness.py's test_every_model_trains_on_jax (every
# registered model); here the exported sampler on JAX against sample(), untrained, at nfe 2
JAX_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    import keras, numpy as np, models
    from benchmarks import export
    from benchmarks.harness import build

    out = {"backend": keras.backend.backend()}
    for name in sys.argv[1:]:
        cls = models.get(name)
        model = build(cls, cls.Config(nfe=2), seed=0, image_shape=(28, 28, 1))
        drawn = model.sample(4, seed=3)
        with tempfile.TemporaryDirectory() as folder:
            network = keras.saving.load_model(export.save(model, folder))
        noise = np.random.default_rng(3).standard_normal((4, 28, 28, 1)).astype("float32")
        exported = keras.ops.convert_to_numpy(network(noise))
        out[name] = {"range": [float(drawn.min()), float(drawn.max())],
                     "export_gap": float(np.abs(exported - drawn).max())}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_flow_and_ddpm_export_their_sampler_on_jax(jax_worker):
    out = jax_worker.run(JAX_SCRIPT, "flow", "ddpm", timeout=600)
    assert out.pop("backend") == "jax"
    for name in ("flow", "ddpm"):
        low, high = out[name]["range"]
        assert -1.0 <= low < high <= 1.0
        assert out[name]["export_gap"] <= 2e-5, name  # 1e-5 per evaluation (benchmarks/contract)
