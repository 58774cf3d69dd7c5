"""The training loop shared by every model and backend; it knows no backend and no model.

The backend engine (``tensorflow.py``, ``jax.py``, behind the interface in ``engine.py``)
compiles ``model.compute_losses`` and the phases' optimizer updates into one step that
gathers its batches by index from a training set put on the device once. The loop selects
the engine, feeds it blocks of seeded per-epoch permutations (or, for a set drawn on the fly,
``onthefly.py``, of fresh draws of each image's parts), times it, and reports each step. A
step is one pass over the model's phases (``engine.py`` says exactly what that is);
images/s counts the real images the steps drew: batches_per_step x batch size x the model's
samples_per_example per step (a packed GAN's batch element is ``pack`` images).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import keras
import numpy as np

from benchmarks.harness import checkpoint
from benchmarks.harness.callbacks import Callback, CallbackList, StepInfo
from benchmarks.harness.engine import BackendModule, batches_per_step
from benchmarks.harness.onthefly import OnTheFly

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BLOCK_STEPS = 512  # steps of batch indices uploaded at once: one small copy per block


@dataclass
class TrainLog:
    steps_done: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)  # name -> value per step
    diverged_at: int | None = None  # first step whose phase loss was nan or inf
    stopped_early: bool = False  # a callback asked to stop (Callback.should_stop)
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
    samples_per_example: int = 1  # images per batch element (a packed GAN's pack)
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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
    model.distribution = context
    return model


class BatchOrder:
    """The training set's indices, handed out as (rows, columns) blocks: a row is one batch,
    each run of samples_per_example consecutive images one of its elements.

    A fixed training set (``stack`` None): seeded permutations of it, one per epoch (the
    remainder dropped), an index per image. A set drawn on the fly (``stack`` k,
    ``onthefly.OnTheFly``): k indices per image, each an independent uniform draw with
    replacement over the source, fresh for every row, so a row's columns are its images'
    runs of k, in order."""

    def __init__(self, n: int, batch_size: int, seed: int, rows: int,
                 samples_per_example: int = 1, stack: int | None = None):
        self.width = batch_size * samples_per_example  # training images one batch reads
        if stack is None and self.width > n:
            drawn = (f"batch size {batch_size} x {samples_per_example} images per element "
                     f"({self.width})" if samples_per_example > 1 else f"batch size {batch_size}")
            raise ValueError(f"{drawn} is larger than the {n} training images")
        self.n, self.batch_size, self.rows = n, batch_size, rows
        self.samples_per_example, self.stack = samples_per_example, stack
        self.columns = self.width * (stack or 1)  # indices one batch reads
        self.rng = np.random.default_rng(seed)
        self.pending = np.empty((0, self.columns), np.int32)

    def next_block(self) -> np.ndarray:
        while len(self.pending) < self.rows:
            self.pending = np.concatenate([self.pending, self._draw()])
        block, self.pending = self.pending[: self.rows], self.pending[self.rows:]
        return block

    def _draw(self) -> np.ndarray:
        """More rows: an epoch's permutation, or (on the fly) a block's fresh draws."""
        if self.stack is not None:
            return self.rng.integers(0, self.n, (self.rows, self.columns), dtype=np.int32)
        per_epoch = self.n // self.width
        perm = self.rng.permutation(self.n)[: per_epoch * self.width].astype(np.int32)
        return perm.reshape(per_epoch, -1)

    def state(self) -> dict:
        """The generator's state, JSON-able; with the rows not yet trained on, the order."""
        return {"rng": self.rng.bit_generator.state, "batch_size": self.batch_size,
                "samples_per_example": self.samples_per_example, "stack": self.stack}

    def restore(self, state: dict, unused_rows: np.ndarray) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.pending = np.asarray(unused_rows, np.int32).reshape(-1, self.columns)


class Feed:
    """The engine's supply of batch indices: BatchOrder's blocks put on the device, handed out
    a call's rows at a time; what it has not handed out yet goes into a checkpoint."""

    def __init__(self, order: BatchOrder, engine):
        self.order, self.engine = order, engine
        self.host_block: np.ndarray | None = None  # None until the first call
        self.block, self.pos = None, order.rows

    def take(self, rows: int) -> tuple[object, int]:
        """The device block holding the next ``rows`` rows, and where they start in it."""
        if self.pos + rows > self.order.rows:
            self.host_block = self.order.next_block()
            self.block, self.pos = self.engine.put_block(self.host_block), 0
        pos, self.pos = self.pos, self.pos + rows
        return self.block, pos

    def unused(self) -> np.ndarray:
        """The rows drawn but not trained on, in the order they would be."""
        return np.concatenate([self.host_block[self.pos:], self.order.pending])


@dataclass
class Timing:
    """The engine calls' wall time: compiling calls apart, the others with the images drawn."""

    compile_s: float = 0.0
    timed_s: float = 0.0
    timed_images: int = 0
    call_ms: list[float] = field(default_factory=list)  # each timed call's ms per step

    def add(self, seconds: float, compiled: bool, k: int, images: int) -> None:
        if compiled:
            self.compile_s += seconds
        else:
            self.timed_s += seconds
            self.timed_images += images
            self.call_ms.append(1000 * seconds / k)

    @property
    def images_per_s(self) -> float:
        return self.timed_images / self.timed_s if self.timed_s else math.nan

    def fill(self, log: TrainLog) -> None:
        log.compile_s, log.images_per_s = self.compile_s, self.images_per_s
        if self.call_ms:
            log.step_ms_median = float(np.median(self.call_ms))
            log.step_ms_p90 = float(np.percentile(self.call_ms, 90))


def crossed(every: int, done: int, k: int) -> bool:
    """Whether the call that took steps done-k+1..done passed a multiple of ``every``."""
    return every > 0 and done // every > (done - k) // every


def train(model, images: np.ndarray | OnTheFly, *, steps: int, batch_size: int, seed: int,
          callbacks: Iterable[Callback] = (), eval_every: int = 0, jit: bool = False,
          precision: str = "float32", steps_per_call: int = 1, distribute: bool = False,
          checkpoint_dir: str | os.PathLike | None = None,
          checkpoint_every: int = 0) -> TrainLog:
    """Trains ``model`` for ``steps`` steps drawn from ``images``: a step is one pass over
    the model's phases (``engine.py``), drawing ``batches_per_step`` batches of ``batch_size``
    elements (one, unless a phase repeats: a WGAN critic's 5), an element being the model's
    ``samples_per_example`` images (1; a packed GAN's ``pack``). ``images`` is a fixed
    training set (an array), or an ``OnTheFly`` one whose images are drawn fresh per batch.

    ``callbacks`` (``Callback``) hear every step, an evaluation every ``eval_every`` steps
    (with steps_per_call > 1: at the first call boundary at or after each multiple) and each
    checkpoint, and may stop training. A nan/inf phase loss stops it (TrainLog.diverged_at).

    With ``checkpoint_dir``, a checkpoint found there (``checkpoint.py``) is loaded first and
    training continues from its step, history included; every ``checkpoint_every`` steps
    (at call boundaries, as evaluations) the full training state replaces it, and when a
    callback stops training, or training ends between two, the steps since the last one are
    kept too.
    """
    check_arguments(model, steps=steps, precision=precision, distribute=distribute,
                    steps_per_call=steps_per_call, checkpoint_dir=checkpoint_dir,
                    checkpoint_every=checkpoint_every)
    stack = images.stack if isinstance(images, OnTheFly) else None
    # what the device holds: the training images, or the parts drawn on the fly
    images = np.asarray(images.parts if stack is not None else images, np.float32)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    per_step = batches_per_step(model.phases)
    rows = per_step * steps_per_call * math.ceil(BLOCK_STEPS / steps_per_call)
    order = BatchOrder(len(images), batch_size, seed, rows, model.samples_per_example, stack)
    # before the engine reads the variables: it may copy them into its own state
    resumed = resume(checkpoint_dir, model, order)
    engine = engine_module().Engine(model, images, batch_size=batch_size, jit=jit,
                                    steps_per_call=steps_per_call,
                                    context=model.distribution if distribute else None,
                                    stack=stack)
    log = TrainLog(steps_done=resumed.step, history=resumed.history,
                   backend=keras.backend.backend(), precision=precision, jit=jit,
                   steps_per_call=steps_per_call, replicas=engine.replicas,
                   batch_size=batch_size, batches_per_step=per_step,
                   samples_per_example=model.samples_per_example, seed=seed)
    run = Training(model, engine, Feed(order, engine), log, CallbackList(callbacks),
                   checkpoint_dir, start)
    return run.loop(steps, steps_per_call, eval_every, checkpoint_every)


def check_arguments(model, *, steps: int, precision: str, distribute: bool,
                    steps_per_call: int, checkpoint_dir, checkpoint_every: int) -> None:
    """train()'s arguments against each other and the model, before anything runs."""
    if model.precision != precision:
        raise ValueError(f"model was built with the {model.precision!r} policy, asked to train "
                         f"in {precision!r}: build it with harness.build(..., "
                         f"precision={precision!r})")
    if distribute and model.distribution is None:
        raise ValueError("distribute=True needs a model built for it: "
                         "harness.build(..., distribute=True)")
    if steps_per_call < 1 or steps < 0:
        raise ValueError("steps must be >= 0 and steps_per_call >= 1")
    if checkpoint_every < 0 or (checkpoint_every and checkpoint_dir is None):
        raise ValueError("checkpoint_every must be >= 0, and > 0 needs a checkpoint_dir")


def resume(folder: str | os.PathLike | None, model, order: BatchOrder) -> checkpoint.Restored:
    """Loads the checkpoint in ``folder``, if there is one, into the model's variables and the
    batch order; returns what it restored, or the start: step 0, no history."""
    restored = (checkpoint.restore(folder, model, order.batch_size, order.stack)
                if folder else None)
    if restored is None:
        return checkpoint.Restored(0, {}, order.state(), order.pending)
    order.restore(restored.order_state, restored.unused_rows)
    return restored


class Training:
    """One train() call under way: the engine, its feed of batches, the log and the timing."""

    def __init__(self, model, engine, feed: Feed, log: TrainLog, callbacks: CallbackList,
                 folder: str | os.PathLike | None, start: float):
        self.model, self.engine, self.feed, self.log = model, engine, feed, log
        self.callbacks, self.folder, self.start = callbacks, folder, start
        self.phase_names = [p.name for p in model.phases]
        self.saved_at = log.steps_done  # the step the folder's checkpoint holds
        self.timing = Timing()

    def loop(self, steps: int, steps_per_call: int, eval_every: int,
             checkpoint_every: int) -> TrainLog:
        log = self.log
        try:
            while log.steps_done < steps:
                if self.callbacks.should_stop():
                    log.stopped_early = True
                    break
                k = min(steps_per_call, steps - log.steps_done)
                if not self.run_call(k, steps):
                    break  # diverged
                if crossed(eval_every, log.steps_done, k):
                    self.evaluate()
                if crossed(checkpoint_every, log.steps_done, k):
                    self.checkpoint()
            checkpointing = checkpoint_every > 0 and log.diverged_at is None
            if ((log.stopped_early or checkpointing) and self.folder is not None
                    and self.feed.host_block is not None and log.steps_done > self.saved_at):
                # asked to stop, or finished between checkpoints: keep the steps since the
                # last one (a resume then scores the final weights instead of training again)
                self.checkpoint()
        finally:
            self.engine.sync()
        self.timing.fill(log)
        log.peak_memory_mb = self.engine.peak_memory_mb()
        return log

    def run_call(self, k: int, steps: int) -> bool:
        """k steps in one engine call, timed and logged; False if a phase loss diverged."""
        rows = k * self.log.batches_per_step
        block, pos = self.feed.take(rows)
        t0 = time.perf_counter()
        logs, compiled = self.engine.run(block, pos, k)  # numpy, fetched: the step is done
        self.timing.add(time.perf_counter() - t0, compiled, k, rows * self.feed.order.width)
        rate = self.timing.images_per_s
        for j in range(k):
            self.log.steps_done += 1
            losses = {name: float(values[j]) for name, values in logs.items()}
            for name, value in losses.items():
                self.log.history.setdefault(name, []).append(value)
            if not all(math.isfinite(losses[name]) for name in self.phase_names):
                self.log.diverged_at = self.log.steps_done
                return False
            if self.callbacks:  # no StepInfo to build when nobody listens (bench)
                self.callbacks.on_step(StepInfo(self.log.steps_done, steps, losses, rate,
                                                time.perf_counter() - self.start))
        return True

    def evaluate(self) -> None:
        self.engine.sync()
        self.callbacks.on_eval(self.log.steps_done)

    def checkpoint(self) -> None:
        self.engine.sync()
        done = self.log.steps_done
        checkpoint.save(self.folder, self.model, done, self.log.history,
                        self.feed.order.state(), self.feed.unused())
        self.saved_at = done
        self.callbacks.on_checkpoint(done)
