"""TensorFlow engine: the step is one tf.function around GradientTapes.

Per group of phases (``engine.schedule``): one forward pass (``model.compute_losses``) under
a tape; each phase's loss is then differentiated with respect to that phase's variables only,
all gradients first and all updates after (simultaneous updates, as in the tutorial recipe).
A repeated group is unrolled into the graph. The batch is gathered by index from the training
set (or the parts its images are drawn from on the fly, then stacked), which lives on the
device as one tf.constant. Weight averages are assign ops after the updates.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import tensorflow as tf

from benchmarks.harness.engine import (
    BaseEngine,
    host_peak_memory_mb,
    step_logs,
    update_averages,
)


def distribution(distribute: bool):
    """MirroredStrategy over the GPUs, else over the logical CPUs (tests split the CPU)."""
    return _mirrored() if distribute else None


@functools.cache
def _mirrored() -> tf.distribute.MirroredStrategy:
    # one per process: a second strategy's collectives reuse the first one's instance keys
    # and abort with shape mismatches
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def creation_scope(strategy):
    """Variables made under a strategy's scope are mirrored on its devices."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def input_gradient(fn, inputs):
    """A nested tape: the engine's outer tape records this gradient, so it is
    differentiable again (the gradient penalty's double backpropagation)."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    return outputs, tape.gradient(outputs, inputs)


class Engine(BaseEngine):
    def __init__(self, model, images: np.ndarray, *, batch_size: int, jit: bool,
                 steps_per_call: int, context=None, stack: int | None = None):
        super().__init__(model, batch_size=batch_size, jit=jit, steps_per_call=steps_per_call,
                         replicas=context.num_replicas_in_sync if context is not None else 1,
                         input_gradient=input_gradient, stack=stack)
        self.strategy = context
        self.averaged, self.decay = model.averaged_variables(), model.ema
        self.updates = model.average_updates  # the averages' update count (None: no average)
        self.images = tf.constant(images)  # on the device once, for the whole run

    # --- one step, as traced ----------------------------------------------------------
    def _step(self, rows):
        if self.strategy is None:
            logs = self._replica_step(rows, replicas=1)
        else:
            per_replica = self.strategy.run(self._replica_step, args=(rows, self.replicas))
            logs = {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                    for name, value in per_replica.items()}
        # in cross-replica context, where assigning a mirrored variable updates every copy
        if self.averaged:
            sources, averages = zip(*self.averaged, strict=True)
            new, updates = update_averages(self.decay, self.updates, averages, sources)
            for average, value in zip(averages, new, strict=True):
                average.assign(value)
            self.updates.assign(updates)
        return logs

    def _replica_step(self, rows, replicas: int):
        outputs = []
        for group in self.groups:
            for i in range(group.repeats):  # unrolled: a critic's 5 passes, one graph
                batch = rows[i] if self.batches > 1 else rows
                out = self._update(group.phases, batch, replicas)
            outputs.append(out)
        logs = step_logs(self.groups, outputs)
        return {name: tf.cast(value, tf.float32) for name, value in logs.items()}

    def _update(self, phases, indices, replicas: int) -> dict:
        if replicas > 1:
            ctx = tf.distribute.get_replica_context()
            size = self.columns // replicas  # whole elements: check_split counted them
            indices = indices[ctx.replica_id_in_sync_group * size:][:size]
        images = self.images_of(tf.gather(self.images, indices))
        with tf.GradientTape(persistent=True) as tape:
            logs = self.model.compute_losses(images)
            # keras' optimizer sums gradients over replicas, so each replica's mean is scaled
            scaled = [logs[p.name] / replicas if replicas > 1 else logs[p.name]
                      for p in phases]
        grads = [tape.gradient(loss, p.variables) for loss, p in zip(scaled, phases, strict=True)]
        for phase, phase_grads in zip(phases, grads, strict=True):
            phase.optimizer.apply(phase_grads, phase.variables)
        return logs

    def _function(self, k: int):
        rows = self.batches

        def step_rows(block, pos):  # a step's batches: one row, or `rows` rows from pos
            return block[pos] if rows == 1 else block[pos:pos + rows]

        def run(block, pos):
            first = self._step(step_rows(block, pos))
            if k == 1:
                return {name: value[None] for name, value in first.items()}
            # the first step sits outside the loop so the log names are known before it
            arrays = {name: tf.TensorArray(tf.float32, size=k).write(0, value)
                      for name, value in first.items()}
            for i in tf.range(1, k):
                logs = self._step(step_rows(block, pos + i * rows))
                arrays = {name: arrays[name].write(i, logs[name]) for name in arrays}
            return {name: array.stack() for name, array in arrays.items()}

        # XLA fuses the whole step (jit=True); plain graph mode otherwise
        return tf.function(run, jit_compile=self.jit, reduce_retracing=False)

    # --- what the loop calls ----------------------------------------------------------
    def put_block(self, rows: np.ndarray):
        return tf.constant(rows)

    def _call(self, function, block, pos: int) -> dict[str, np.ndarray]:
        logs = function(block, tf.constant(pos, tf.int32))
        return {name: value.numpy() for name, value in logs.items()}

    def sync(self) -> None:
        """Variables are the state here: nothing to write back."""

    def step_flops(self, block) -> float:
        """TensorFlow's profiler over the one-step graph: each op's registered count (matrix
        products and convolutions, their gradients, and elementwise ops one per element).
        With jit the graph is the same; XLA may fuse or drop some of it."""
        from tensorflow.python.profiler import model_analyzer, option_builder

        graph = self._function(1).get_concrete_function(block, tf.constant(0, tf.int32)).graph
        options = {**option_builder.ProfileOptionBuilder.float_operation(), "output": "none"}
        return float(model_analyzer.profile(graph, options=options).total_float_ops)

    def peak_memory_mb(self) -> float:
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return max(tf.config.experimental.get_memory_info(d.name)["peak"]
                       for d in gpus) / 2**20
        return host_peak_memory_mb()
