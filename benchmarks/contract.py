"""The model contract as checks one model can be put through (``python -m benchmarks
check-model``): what the harness, the metrics and the export rely on, on a few real images, in
seconds. Each check says what it saw; the first one that fails names the rule and the fix.

The checks run in order and stop at the first failure: each later one relies on what the
earlier ones showed, and uses the model the "losses" check trained.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STEPS = 3  # training steps before losses, samples and the round trips are looked at
BATCH = 16
SAMPLES = 12  # images per sampling check
TOLERANCE = 1e-5  # two computations of the same images (batching may reorder float sums)
# an iterative sampler (flow, ddpm) feeds each network evaluation's rounding into the next:
# its exported file (eager ops) and sample() (a compiled network call a step) may differ by
# TOLERANCE per evaluation (ddpm at 16: 1.6e-5 seen after 3 training steps)


class Failed(Exception):
    """A broken rule: the message says which and what to change."""


@dataclass
class Outcome:
    check: str
    passed: bool
    detail: str  # what was seen, or why it failed
    seconds: float


@dataclass
class Subject:
    """What the checks share: the model's name, the images, the model as trained so far."""

    name: str
    images: np.ndarray
    model: object = None
    history: dict | None = None

    def build(self, seed: int = 0):
        from benchmarks.harness import build

        return build(self.name, seed=seed, image_shape=self.images.shape[1:])

    def train(self, model) -> dict:
        from benchmarks.harness import train

        log = train(model, self.images, steps=STEPS, batch_size=min(BATCH, len(self.images)),
                    seed=0)
        if log.diverged_at is not None:
            raise Failed(f"a phase's loss was not finite at step {log.diverged_at}: "
                         f"{_last(log.history)}")
        return log.history


def config(s: Subject) -> str:
    from models import registry

    cls = registry.get(s.name).Config
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
        raise Failed(f"{cls.__qualname__} must be a frozen dataclass "
                     "(@dataclass(frozen=True)): its fields are the --set keys")
    missing = [f.name for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise Failed(f"Config fields without a default: {', '.join(missing)}; every field "
                     "needs one (a run with no --set builds Config())")
    return f"{len(dataclasses.fields(cls))} settings, each with a default"


def builds(s: Subject) -> str:
    s.model = s.build(seed=0)
    counts = s.model.param_counts()
    return f"{len(s.model.networks)} networks, {counts['total']:,} weights"


def phases(s: Subject) -> str:
    owner: dict[int, str] = {}
    for phase in s.model.phases:  # the base class refuses variables shared by two phases
        if not phase.variables:
            raise Failed(f"phase {phase.name!r} has no variables to train")
        owner.update({id(v): phase.name for v in phase.variables})
    idle = [v.path for net in s.model.networks.values() for v in net.trainable_variables
            if id(v) not in owner]
    if idle:
        raise Failed(f"{len(idle)} trainable variables are in no phase (e.g. {idle[0]}); put "
                     "each in one phase, or make it non-trainable")
    return ", ".join(f"{p.name} x{p.repeats}" for p in s.model.phases) + \
        f"; each of {len(owner)} variables in one phase"


def losses(s: Subject) -> str:
    s.history = s.train(s.model)
    return f"{STEPS} steps, last: {_last(s.history)}"


def sampling(s: Subject) -> str:
    s.model.prepare_sampling(s.images)
    low, high = check_samples(s.model.sample(SAMPLES, seed=1), SAMPLES, s.images.shape[1:])
    return f"{(SAMPLES, *s.images.shape[1:])}, float32, in [{low:.2f}, {high:.2f}]"


def check_samples(images, n: int, image_shape) -> tuple[float, float]:
    """What ``sample(n, seed)`` must give: a float32 numpy array (n, *image_shape), finite,
    in [-1, 1]; its lowest and highest value, or ``Failed`` naming the rule. ``run`` holds a
    plugin model's first sample to it before training (``preflight.check_models_fit``)."""
    shape = (n, *image_shape)
    if not isinstance(images, np.ndarray) or images.shape != shape:
        raise Failed(f"sample({n}, seed) gave {_shape(images)}; it must be a numpy "
                     f"array of shape {shape}")
    if images.dtype != np.float32:
        raise Failed(f"sample() gave {images.dtype} images; it must give float32")
    if not np.all(np.isfinite(images)):
        raise Failed("sample() gave values that are not finite")
    low, high = float(images.min()), float(images.max())
    if low < -1.0 or high > 1.0:
        raise Failed(f"sample() gave values in [{low:.3g}, {high:.3g}]; images must lie in "
                     "[-1, 1] (end the generator in tanh, or clip)")
    return low, high


def determinism(s: Subject) -> str:
    first, again = s.model.sample(SAMPLES, seed=1), s.model.sample(SAMPLES, seed=1)
    if not np.array_equal(first, again):
        raise Failed("sample(n, seed) gave other images for the same seed; draw the noise "
                     "from the seed (np.random.default_rng(seed)), not from global state")
    if np.array_equal(first, s.model.sample(SAMPLES, seed=2)):
        raise Failed("sample(n, seed) gave the same images for seeds 1 and 2")
    twin = s.build(seed=0)
    history = s.train(twin)
    for key, values in s.history.items():
        if not np.allclose(values, history.get(key, []), rtol=TOLERANCE, atol=TOLERANCE):
            raise Failed(f"two models built and trained with seed 0 logged different {key} "
                         f"losses ({values} against {history.get(key)}); draw training noise "
                         "through self.seed_generator")
    twin.prepare_sampling(s.images)
    if not np.allclose(twin.sample(SAMPLES, seed=1), first, atol=TOLERANCE):
        raise Failed("two models built and trained with seed 0 sample different images")
    return "same seed, same samples and losses; another seed, other samples"


def checkpoint(s: Subject) -> str:
    with tempfile.TemporaryDirectory() as folder:
        s.model.save_weights(folder)
        restored = s.build(seed=1)  # other initial weights: only the files can make it equal
        restored.load_weights(folder)
    if not np.allclose(restored.sample(SAMPLES, seed=3), s.model.sample(SAMPLES, seed=3),
                       atol=TOLERANCE):
        raise Failed("a model restored with load_weights samples other images than the one "
                     "saved; save_weights must keep all sampling state (a fitted density too)")
    return "save_weights then load_weights into a fresh model: the same samples"


def export(s: Subject) -> str:
    import keras

    from benchmarks import export as exporting

    with tempfile.TemporaryDirectory() as folder:
        path = exporting.save(s.model, folder)
        if path is None:
            return "skipped: sampling_model() is None, so its runs export no generator"
        network = keras.saving.load_model(path)
    noise_shape = tuple(network.inputs[0].shape[1:])
    noise = np.random.default_rng(4).standard_normal((SAMPLES, *noise_shape))
    drawn = keras.ops.convert_to_numpy(network(noise.astype(np.float32)))
    wanted = s.model.sample(SAMPLES, seed=4)
    if drawn.shape != wanted.shape:
        raise Failed(f"the exported generator gives {drawn.shape} for noise {noise.shape}; "
                     f"sample() gives {wanted.shape}")
    if not np.allclose(drawn, wanted, atol=TOLERANCE * s.model.nfe):
        raise Failed("the exported generator on np.random.default_rng(seed).standard_normal"
                     f"((n, {', '.join(map(str, noise_shape))})) does not give sample(n, "
                     "seed); sample() must draw its noise that way and pass it through "
                     "sampling_model()")
    return f"{Path(exporting.GENERATOR_FILE).name} loads, noise {noise_shape} -> sample()"


CHECKS: tuple[tuple[str, Callable[[Subject], str]], ...] = (
    ("config", config), ("builds", builds), ("phases", phases), ("losses", losses),
    ("sampling", sampling), ("determinism", determinism), ("checkpoint", checkpoint),
    ("export", export))


def run(name: str, images: np.ndarray,
        on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Every check on the model registered as ``name``, in order, until one fails."""
    subject, outcomes = Subject(name, np.asarray(images, np.float32)), []
    for check, fn in CHECKS:
        started = time.perf_counter()
        try:
            outcome = Outcome(check, True, fn(subject), 0.0)
        except Failed as err:
            outcome = Outcome(check, False, str(err), 0.0)
        except Exception as err:  # the model's own error is the finding, as one line
            outcome = Outcome(check, False, f"{type(err).__name__}: {err}".splitlines()[0], 0.0)
        outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
        if not outcome.passed:
            break
    return outcomes


def _last(history: dict) -> str:
    return ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.items() if v)


def _shape(value) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} of shape {tuple(shape)}" if shape is not None \
        else type(value).__name__
