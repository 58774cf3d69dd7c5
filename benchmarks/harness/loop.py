"""The training loop shared by every model and backend; it knows no backend and no model.

The backend engine (``tensorflow.py``, ``jax.py``, behind the interface in ``engine.py``)
compiles ``model.compute_losses`` and the phases' optimizer updates into one step that
gathers its batches by index from a training set put on the device once. The loop selects
the engine, feeds it blocks of seeded per-epoch permutations, times it, and reports each
step. A step is one pass over the model's phases (``engine.py`` says exactly what that is);
images/s counts the real images the steps drew: batches_per_step x batch size per step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from benchmarks.harness import checkpoint
from benchmarks.harness.engine import BackendModule, batches_per_step

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BLOCK_STEPS = 512  # steps of batch indices uploaded at once: one small copy per block


@dataclass(frozen=True)
class StepInfo:
    step: int  # steps done so far (1-based)
    steps: int  # steps asked for
    losses: dict[str, float]  # this step's logs: each phase's loss, plus the model's extras
    images_per_s: float  # real images drawn per second so far, compiling call excluded (nan
    # until known)
    elapsed_s: float  # wall time since train() started, callbacks included


@dataclass
class TrainLog:
    steps_done: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # name -> value per step
    diverged_at: int | None = None  # first step whose phase loss was nan or inf
    stopped_early: bool = False  # should_stop() asked to stop
    images_per_s: float = math.nan  # real images drawn / s, calls after the compiling one
    step_ms_median: float = math.nan
    step_ms_p90: float = math.nan
    compile_s: float = 0.0  # first call of each compiled function: tracing, compiling, running
    peak_memory_mb: float = math.nan  # device peak where the backend reports it, else max RSS
    backend: str = ""
    precision: str = "float32"
    jit: bool = False
    steps_per_call: int = 1
    replicas: int = 1
    batch_size: int = 0
    batches_per_step: int = 1  # batches a step draws: the most repeated phase's repeats
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BuildInfo:
    precision: str
    distribute: bool
    context: object  # the engine's distribution object (tf.distribute strategy, keras one)


_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def engine_module() -> BackendModule:
    """The backend adapter for the backend keras was imported with."""
    name = keras.backend.backend()
    if name == "tensorflow":
        from benchmarks.harness import tensorflow as engine
    elif name == "jax":
        from benchmarks.harness import jax as engine
    else:
        raise ValueError(f"no training engine for keras backend {name!r} (tensorflow, jax)")
    return engine


def build(name_or_class, config=None, *, seed: int = 0, precision: str = "float32",
          distribute: bool = False, image_shape: tuple[int, int, int]):
    """Constructs a model ready for train(): seeded weights, the precision policy and the
    distribution in force while its variables are created (all three are fixed then)."""
    from models import registry

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cls = registry.get(name_or_class) if isinstance(name_or_class, str) else name_or_class
    keras.utils.set_random_seed(seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        context = engine_module().distribution(distribute)
        with engine_module().creation_scope(context):
            model = cls(config, image_shape)
            model.phases  # noqa: B018  (optimizer variables are created now, in scope)
    finally:
        keras.config.set_dtype_policy(previous)
    _BUILT[model] = BuildInfo(precision, distribute, context)
    return model


class BatchOrder:
    """Seeded permutations of the training set, one per epoch (the remainder dropped),
    handed out as (rows, batch) blocks of indices."""

    def __init__(self, n: int, batch_size: int, seed: int, rows: int):
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the {n} training images")
        self.n, self.batch_size, self.rows = n, batch_size, rows
        self.rng = np.random.default_rng(seed)
        self.pending = np.empty((0, batch_size), np.int32)

    def next_block(self) -> np.ndarray:
        per_epoch = self.n // self.batch_size
        while len(self.pending) < self.rows:
            perm = self.rng.permutation(self.n)[: per_epoch * self.batch_size].astype(np.int32)
            self.pending = np.concatenate([self.pending, perm.reshape(per_epoch, -1)])
        block, self.pending = self.pending[: self.rows], self.pending[self.rows:]
        return block

    def state(self) -> dict:
        """The generator's state, JSON-able; with the rows not yet trained on, the order."""
        return {"rng": self.rng.bit_generator.state, "batch_size": self.batch_size}

    def restore(self, state: dict, unused_rows: np.ndarray) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.pending = np.asarray(unused_rows, np.int32).reshape(-1, self.batch_size)


def train(model, images: np.ndarray, *, steps: int, batch_size: int, seed: int,
          on_step: Callable[[StepInfo], None] | None = None,
          on_eval: Callable[[int], None] | None = None, eval_every: int = 0,
          should_stop: Callable[[], bool] | None = None, jit: bool = False,
          precision: str = "float32", steps_per_call: int = 1,
          distribute: bool = False, checkpoint_dir: str | os.PathLike | None = None,
          checkpoint_every: int = 0,
          on_checkpoint: Callable[[int], None] | None = None) -> TrainLog:
    """Trains ``model`` for ``steps`` steps drawn from ``images``: a step is one pass over
    the model's phases (``engine.py``), drawing ``batches_per_step`` batches of ``batch_size``
    images (one, unless a phase repeats: a WGAN critic's 5).

    on_step gets a StepInfo after every step; on_eval(step) runs every ``eval_every`` steps
    with the model's variables current (with steps_per_call > 1: at the first call boundary
    at or after each multiple). A nan/inf phase loss stops training (TrainLog.diverged_at).

    With ``checkpoint_dir``, a checkpoint found there (``checkpoint.py``) is loaded first and
    training continues from its step, history included; every ``checkpoint_every`` steps
    (at call boundaries, as on_eval) the full training state replaces it, then
    on_checkpoint(step) runs (the caller saves what it keeps beside it).
    """
    built = _BUILT.get(model, BuildInfo("float32", False, None))
    if model.precision != precision:
        raise ValueError(f"model was built with the {model.precision!r} policy, asked to train "
                         f"in {precision!r}: build it with harness.build(..., "
                         f"precision={precision!r})")
    if distribute and not built.distribute:
        raise ValueError("distribute=True needs a model built for it: "
                         "harness.build(..., distribute=True)")
    if steps_per_call < 1 or steps < 0:
        raise ValueError("steps must be >= 0 and steps_per_call >= 1")
    if checkpoint_every < 0 or (checkpoint_every and checkpoint_dir is None):
        raise ValueError("checkpoint_every must be >= 0, and > 0 needs a checkpoint_dir")
    images = np.asarray(images, np.float32)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    per_step = batches_per_step(model.phases)
    rows = per_step * steps_per_call * math.ceil(BLOCK_STEPS / steps_per_call)
    order = BatchOrder(len(images), batch_size, seed, rows)
    # before the engine reads the variables: it may copy them into its own state
    resumed = checkpoint.restore(checkpoint_dir, model, batch_size) if checkpoint_dir else None
    if resumed is not None:
        order.restore(resumed[2], resumed[3])
    engine = engine_module().Engine(model, images, batch_size=batch_size, jit=jit,
                                    steps_per_call=steps_per_call,
                                    context=built.context if distribute else None)
    log = TrainLog(backend=keras.backend.backend(), precision=precision, jit=jit,
                   steps_per_call=steps_per_call, replicas=engine.replicas,
                   batch_size=batch_size, batches_per_step=per_step, seed=seed)
    if resumed is not None:
        log.steps_done, log.history = resumed[0], resumed[1]
    phase_names = [p.name for p in model.phases]
    block, host_block, pos = None, None, rows
    timed_s, timed_images, call_ms = 0.0, 0, []
    try:
        while log.steps_done < steps:
            if should_stop is not None and should_stop():
                log.stopped_early = True
                break
            k = min(steps_per_call, steps - log.steps_done)
            if pos + k * per_step > rows:
                host_block = order.next_block()
                block, pos = engine.put_block(host_block), 0
            t0 = time.perf_counter()
            logs, compiled = engine.run(block, pos, k)  # numpy, fetched: the step is done
            dt = time.perf_counter() - t0
            pos += k * per_step
            if compiled:
                log.compile_s += dt
            else:
                timed_s += dt
                timed_images += k * per_step * batch_size
                call_ms.append(1000 * dt / k)
            rate = timed_images / timed_s if timed_s else math.nan
            for j in range(k):
                log.steps_done += 1
                losses = {name: float(values[j]) for name, values in logs.items()}
                for name, value in losses.items():
                    log.history.setdefault(name, []).append(value)
                if not all(math.isfinite(losses[name]) for name in phase_names):
                    log.diverged_at = log.steps_done
                    break
                if on_step is not None:
                    on_step(StepInfo(log.steps_done, steps, losses, rate,
                                     time.perf_counter() - start))
            if log.diverged_at is not None:
                break
            done = log.steps_done
            crossed = eval_every > 0 and done // eval_every > (done - k) // eval_every
            if on_eval is not None and crossed:
                engine.sync()
                on_eval(done)
            if checkpoint_every and done // checkpoint_every > (done - k) // checkpoint_every:
                engine.sync()
                unused = np.concatenate([host_block[pos:], order.pending])
                checkpoint.save(checkpoint_dir, model, done, log.history, order.state(), unused)
                if on_checkpoint is not None:
                    on_checkpoint(done)
        if (log.stopped_early and checkpoint_dir is not None and host_block is not None
                and log.steps_done > (resumed[0] if resumed else 0)):
            # asked to stop: keep the steps since the last checkpoint too
            engine.sync()
            unused = np.concatenate([host_block[pos:], order.pending])
            checkpoint.save(checkpoint_dir, model, log.steps_done, log.history, order.state(),
                            unused)
            if on_checkpoint is not None:
                on_checkpoint(log.steps_done)
    finally:
        engine.sync()
    log.images_per_s = timed_images / timed_s if timed_s else math.nan
    if call_ms:
        log.step_ms_median = float(np.median(call_ms))
        log.step_ms_p90 = float(np.percentile(call_ms, 90))
    log.peak_memory_mb = engine.peak_memory_mb()
    return log

