"""The engine contract on both engines: phase repeats, the input gradient (a gradient
penalty, differentiated again), weight averages, and today's models' losses kept step for
step. TensorFlow runs in process, JAX in the session's JAX worker (tests/jaxworker.py); both
run the same script."""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmarks.harness.engine import batches_per_step, schedule
from benchmarks.harness.loop import BatchOrder
from models.base import GenerativeModel, Phase
from tests.clitools import ROOT
from tests.conftest import SHAPE

# Losses of the first 3 steps (batch 32, seed 0, the first 256 digits) recorded with the
# engines before phases could repeat: every phase at repeats=1 must still train like this.
BEFORE = {
    "jax": {
        "gan": {"generator": [0.694730281829834, 0.6001204252243042, 0.5378647446632385],
                "discriminator": [1.7052714824676514, 0.9912737607955933,
                                  0.9263727068901062]},
        "dcgan": {"generator": [0.6979885697364807, 0.6757819652557373, 0.650309681892395],
                  "discriminator": [1.3600424528121948, 1.2701960802078247,
                                    1.206960916519165]},
        "ae": {"reconstruction": [0.7726569771766663, 0.7721609473228455,
                                  0.7535115480422974]},
    },
    "tensorflow": {
        "gan": {"generator": [0.7090010643005371, 0.6028804183006287, 0.593027651309967],
                "discriminator": [1.2876039743423462, 0.8660746216773987,
                                  0.8367263078689575]},
        "dcgan": {"generator": [0.699683666229248, 0.6617929935455322, 0.6380165815353394],
                  "discriminator": [1.4033613204956055, 1.3352071046829224,
                                    1.2538528442382812]},
        "ae": {"reconstruction": [0.7708738446235657, 0.7591543197631836,
                                  0.7181857228279114]},
    },
}

KERNEL = [0.5, -1.0, 2.0, 0.25]  # the tiny networks' known weights
LR, DECAY = 0.1, 0.2

CONTRACT = textwrap.dedent('''
    import dataclasses
    import keras
    import numpy as np
    from keras import layers, ops
    from benchmarks import data
    from benchmarks.harness import build, train
    from models.base import GenerativeModel, Phase

    KERNEL, LR = np.array(%(kernel)r, np.float32).reshape(4, 1), %(lr)r
    # image i holds the value i everywhere, so a batch's mean tells which rows it read
    IMAGES = np.repeat(np.arange(12, dtype=np.float32), 4).reshape(12, 2, 2, 1)


    def dense(name, bias=False):
        net = keras.Sequential([keras.Input((2, 2, 1)), layers.Flatten(),
                                layers.Dense(1, use_bias=bias)], name=name)
        net.layers[-1].kernel.assign(KERNEL)
        return net


    class Tiny(GenerativeModel):
        latent_dim = 0

        def sample(self, n, seed):
            return np.zeros((n, 2, 2, 1), np.float32)


    class Penalty(Tiny):
        """Loss: the gradient penalty of one Dense layer, whose input gradient is its kernel."""

        def build_networks(self):
            return {"critic": dense("critic")}

        def build_phases(self):
            return [Phase("fit", self.networks["critic"].trainable_variables,
                          keras.optimizers.SGD(LR))]

        def compute_losses(self, images):
            _, grads = self.input_gradient(self.networks["critic"], images)
            norms = ops.sqrt(ops.sum(ops.square(ops.reshape(grads, (-1, 4))), axis=1))
            penalty = ops.mean(ops.square(norms - 1.0))
            return {"fit": penalty, "norm": ops.mean(norms)}


    class Schedule(Tiny):
        """Phase a 3 times a step, then b; each loss: its kernel's sum plus the batch mean."""

        def build_networks(self):
            return {"a": dense("a"), "b": dense("b")}

        def build_phases(self):
            return [Phase(n, self.networks[n].trainable_variables, keras.optimizers.SGD(LR),
                          repeats=r) for n, r in (("a", 3), ("b", 1))]

        def compute_losses(self, images):
            seen = ops.stop_gradient(ops.mean(images))
            return {"a": ops.sum(self.networks["a"].layers[-1].kernel) + seen,
                    "b": ops.sum(self.networks["b"].layers[-1].kernel) + seen, "seen": seen}


    class Averaged(Tiny):
        """Every weight moves by -LR a step (gradient 1); the harness averages them."""

        averaged_networks = ("net",)

        @dataclasses.dataclass(frozen=True)
        class Config:
            ema: float = %(decay)r

        def build_networks(self):
            net = dense("net", bias=True)
            net.layers[-1].bias.assign(np.array([0.3], np.float32))
            return {"net": net}

        def build_phases(self):
            return [Phase("fit", self.networks["net"].trainable_variables,
                          keras.optimizers.SGD(LR))]

        def compute_losses(self, images):
            layer = self.networks["net"].layers[-1]
            return {"fit": ops.sum(layer.kernel) + ops.sum(layer.bias)}


    def values(variables):
        return [np.asarray(keras.ops.convert_to_numpy(v)).ravel().tolist() for v in variables]


    def measure():
        out = {"backend": keras.backend.backend()}
        model = build(Penalty, image_shape=(2, 2, 1))
        log = train(model, IMAGES, steps=1, batch_size=4, seed=0)
        out["penalty"] = {"history": log.history,
                          "kernel": values(model.networks["critic"].trainable_variables)}

        model = build(Schedule, image_shape=(2, 2, 1))
        log = train(model, IMAGES, steps=2, batch_size=2, seed=0)
        out["schedule"] = {"history": log.history, "batches_per_step": log.batches_per_step,
                           "iterations": [int(ops.convert_to_numpy(p.optimizer.iterations))
                                          for p in model.phases],
                           "a": values([model.networks["a"].layers[-1].kernel])[0],
                           "two_per_call": train(build(Schedule, image_shape=(2, 2, 1)), IMAGES,
                                                 steps=2, batch_size=2, seed=0,
                                                 steps_per_call=2).history}

        ema = {}
        for decay, per_call in ((%(decay)r, 1), (%(decay)r, 3), (0.0, 1)):
            model = build(Averaged, Averaged.Config(ema=decay), image_shape=(2, 2, 1))
            log = train(model, IMAGES, steps=3, batch_size=2, seed=0,
                        steps_per_call=per_call)
            ema[f"{decay}/{per_call}"] = {
                "losses": log.history["fit"], "scored": model.weights_scored,
                "raw": values(model.networks["net"].variables),
                "sampled": values(model.sampling_network("net").variables),
                "updates": (None if model.average_updates is None
                            else float(ops.convert_to_numpy(model.average_updates)))}
        out["ema"] = ema

        x = data.load("digits").x_train[:256]
        out["unchanged"] = {}
        for name in ("gan", "dcgan", "ae"):
            model = build(name, seed=0, image_shape=(28, 28, 1))
            log = train(model, x, steps=3, batch_size=32, seed=0)
            out["unchanged"][name] = {p.name: log.history[p.name] for p in model.phases}
        return out
''') % {"kernel": KERNEL, "lr": LR, "decay": DECAY}


def check_contract(out: dict) -> None:
    backend = out["backend"]
    # the penalty (||w|| - 1)^2 and one SGD step on it: w - lr 2 (||w|| - 1) w / ||w||
    w = np.array(KERNEL)
    norm = np.sqrt(0.25 + 1 + 4 + 0.0625)  # 2.30489
    np.testing.assert_allclose(out["penalty"]["history"]["norm"], [norm], rtol=1e-5)
    np.testing.assert_allclose(out["penalty"]["history"]["fit"], [(norm - 1) ** 2], rtol=1e-5)
    np.testing.assert_allclose(out["penalty"]["kernel"][0],
                               [0.44338609, -0.88677218, 1.77354437, 0.22169305], rtol=1e-5)
    np.testing.assert_allclose(out["penalty"]["kernel"][0], w - LR * 2 * (norm - 1) * w / norm,
                               rtol=1e-5)

    # a 3 times a step, b once: each repetition reads its own batch, b the step's first
    s = out["schedule"]
    assert s["batches_per_step"] == 3 and s["iterations"] == [6, 2]
    np.testing.assert_allclose(s["a"], w - LR * 6, rtol=1e-6)
    rows = BatchOrder(12, 2, seed=0, rows=6).next_block().mean(axis=1)  # image i holds i
    # step 1: a's logged loss is its third update's (2 done before it), on batch 3
    np.testing.assert_allclose(s["history"]["a"], [w.sum() - 4 * LR * 2 + rows[2],
                                                   w.sum() - 4 * LR * 5 + rows[5]], rtol=1e-5)
    np.testing.assert_allclose(s["history"]["b"], [w.sum() + rows[0],
                                                   w.sum() - 4 * LR + rows[3]], rtol=1e-5)
    np.testing.assert_allclose(s["history"]["seen"], [rows[2], rows[5]], rtol=1e-6)
    for name, values in s["two_per_call"].items():  # two steps in one compiled call
        np.testing.assert_allclose(values, s["history"][name], rtol=1e-6)

    # weights w_t = w_0 - 0.1 t; average a_0 = w_0, a_t = d_t a_{t-1} + (1 - d_t) w_t with the
    # warmed-up decay d_t = min(0.2, (1 + t') / (10 + t')) after t' = t - 1 updates: 0.1, 2/11,
    # then 0.2 (the cap). a_1 = w_0 - 0.09, a_2 = w_0 - (2/11 0.09 + 9/11 0.2) = w_0 - 0.18,
    # a_3 = w_0 - (0.2 0.18 + 0.8 0.3) = w_0 - 0.276. (A fixed decay of 0.2 gives w_0 - 0.2752;
    # the warm-up without its cap, 0.25 at the third update, w_0 - 0.27.)
    on, calls, off = (out["ema"][key] for key in (f"{DECAY}/1", f"{DECAY}/3", "0.0/1"))
    start = [KERNEL, [0.3]]
    for got, shift in ((on["raw"], -0.3), (on["sampled"], -0.276), (calls["sampled"], -0.276),
                       (off["sampled"], -0.3)):
        for values, initial in zip(got, start, strict=True):
            np.testing.assert_allclose(values, np.array(initial) + shift, rtol=1e-5, atol=1e-6)
    assert on["scored"] == "ema" and off["scored"] == "raw"
    assert on["updates"] == calls["updates"] == 3.0 and off["updates"] is None
    assert on["losses"] == off["losses"] == calls["losses"]  # averaging never feeds back

    for name, losses in BEFORE[backend].items():
        for phase, values in losses.items():
            np.testing.assert_allclose(out["unchanged"][name][phase], values, rtol=1e-4,
                                       err_msg=f"{backend} {name} {phase}")


def test_contract_on_tensorflow():
    namespace: dict = {}
    exec(CONTRACT, namespace)  # noqa: S102  (the script the JAX test runs, in this process)
    check_contract(namespace["measure"]())


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_contract_on_jax(jax_worker):
    script = CONTRACT + "\nimport json\nprint('RESULT' + json.dumps(measure()))\n"
    out = jax_worker.run(script, timeout=600)
    assert out["backend"] == "jax"
    check_contract(out)


def phases_repeating(*repeats) -> list[Phase]:
    """Phases without variables: schedule() reads only their order and repeats."""
    import keras

    return [Phase(f"p{i}", [], keras.optimizers.SGD(), repeats=r)
            for i, r in enumerate(repeats)]


@pytest.mark.parametrize(("repeats", "groups", "batches"), [
    ((1,), [(["p0"], 1)], 1),
    ((1, 1), [(["p0", "p1"], 1)], 1),  # today's simultaneous update
    ((5, 1), [(["p0"], 5), (["p1"], 1)], 5),  # a WGAN critic, then its generator
    ((1, 1, 3, 1), [(["p0", "p1"], 1), (["p2"], 3), (["p3"], 1)], 3),
])
def test_consecutive_single_phases_share_a_forward_pass(repeats, groups, batches):
    phases = phases_repeating(*repeats)
    got = [([p.name for p in g.phases], g.repeats) for g in schedule(phases)]
    assert got == groups and batches_per_step(phases) == batches


@pytest.mark.parametrize("repeats", [0, -1, 1.5, True, "5"])
def test_a_phase_repeats_a_positive_integer_number_of_times(repeats):
    import keras

    with pytest.raises(ValueError, match="repeats must be an integer >= 1"):
        Phase("critic", [], keras.optimizers.SGD(), repeats=repeats)


def test_input_gradient_outside_a_training_step_says_where_it_works():
    from benchmarks.harness import build

    model = build("ae", seed=0, image_shape=SHAPE)
    assert isinstance(model, GenerativeModel)
    with pytest.raises(RuntimeError, match="inside a training step"):
        model.input_gradient(model.networks["encoder"], np.zeros((1, 28, 28, 1), np.float32))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_engines_import_the_interface_never_the_loop():
    """The import graph of the harness runs one way: loop -> backend module -> engine."""
    harness = ROOT / "benchmarks" / "harness"
    package = "benchmarks.harness"
    engine_imports = _imports(harness / "engine.py")
    assert not {m for m in engine_imports if m.startswith(package)}
    for backend in ("tensorflow", "jax"):
        imports = _imports(harness / f"{backend}.py")
        assert f"{package}.engine" in imports and f"{package}.loop" not in imports, backend
    # and no cycle anywhere in the package: a module reaches itself through no import chain
    graph = {f"{package}.{p.stem}": {m for m in _imports(p) if m.startswith(package + ".")}
             for p in harness.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    assert not [m for m in graph if reaches(m, m, set())]
