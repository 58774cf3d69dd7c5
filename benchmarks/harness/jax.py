"""JAX engine: a jit'd stateless step ``(state, images, block, pos) -> (state, logs)``.

``images`` is the training set on the device (or the parts its images are drawn from on the
fly, gathered and stacked by ``BaseEngine.images_of``).

The model's variables are swapped for traced values with ``keras.StatelessScope``; per group
of phases (``engine.schedule``) one forward pass (``model.compute_losses``) is linearised
with ``jax.vjp`` with respect to the group's variables and pulled back once per phase with a
one-hot cotangent, so each phase's loss is differentiated with respect to its own variables
only (XLA drops the gradients nobody uses); a repeated group is unrolled. Weight averages
are part of the threaded state. ``steps_per_call`` steps run in one ``lax.scan``; the state
buffers are donated, so no step copies the model.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import keras
import numpy as np

from benchmarks.harness.engine import (
    BaseEngine,
    host_peak_memory_mb,
    step_logs,
    update_averages,
)


def distribution(distribute: bool):
    """keras' DataParallel over every device JAX sees (GPUs, or forced host devices)."""
    if not distribute:
        return None
    return keras.distribution.DataParallel(devices=jax.devices())


def creation_scope(dist):
    """Nothing to do at creation: the engine places the state by the distribution's layouts."""
    return contextlib.nullcontext()


def input_gradient(fn, inputs):
    """A vjp inside the engine's: the outer one differentiates through it (the gradient
    penalty's double backpropagation)."""
    outputs, pullback = jax.vjp(fn, inputs)
    (gradient,) = pullback(jnp.ones_like(outputs))
    return outputs, gradient


class Engine(BaseEngine):
    def __init__(self, model, images: np.ndarray, *, batch_size: int, jit: bool,
                 steps_per_call: int, context=None, stack: int | None = None):
        # every JAX step is compiled by XLA, so `jit` changes nothing here
        super().__init__(model, batch_size=batch_size, jit=jit, steps_per_call=steps_per_call,
                         replicas=context.num_model_replicas if context is not None else 1,
                         input_gradient=input_gradient, stack=stack)
        self.dist = context
        self.trainable = [v for p in self.phases for v in p.variables]
        ids = {id(v) for v in self.trainable}
        self.other = [v for v in model.variables if id(v) not in ids]
        self.optimizer_vars = [list(p.optimizer.variables) for p in self.phases]
        # each phase's index, and its slice of the trainable list
        ends = np.cumsum([len(p.variables) for p in self.phases]).tolist()
        self.slices = {id(p): (i, slice(end - len(p.variables), end))
                       for i, (p, end) in enumerate(zip(self.phases, ends, strict=True))}
        self.decay, pairs = model.ema, model.averaged_variables()
        self.averages = [average for _, average in pairs]
        self.updates = model.average_updates  # their update count (None: no average)
        # where each averaged variable's new value is found in (trainable, other)
        position = {id(v): (0, i) for i, v in enumerate(self.trainable)}
        position.update({id(v): (1, i) for i, v in enumerate(self.other)})
        self.sources = [position[id(source)] for source, _ in pairs]
        self.state = self._read_state()
        self.images = jnp.asarray(images)  # on the device once, for the whole run
        self.data_sharding = None
        if context is not None:
            self.data_sharding = context.get_data_layout((batch_size,)).backend_layout
            self.state = jax.tree.map(self._replicated, self.state)
            self.images = self._replicated(self.images)

    def _replicated(self, x):
        return jax.device_put(x, self.dist.get_variable_layout(x).backend_layout)

    def _read_state(self):
        return ([v.value for v in self.trainable], [v.value for v in self.other],
                [[v.value for v in vs] for vs in self.optimizer_vars],
                [v.value for v in self.averages],
                None if self.updates is None else self.updates.value)

    # --- one step, as traced ----------------------------------------------------------
    def _step(self, state, images, rows):
        trainable, other, optimizer_values, averages, updates = state
        outputs = []
        for group in self.groups:
            for i in range(group.repeats):  # unrolled: a critic's 5 passes
                indices = rows[i] if self.batches > 1 else rows
                batch = self.images_of(jnp.take(images, indices, axis=0))
                if self.data_sharding is not None:  # each replica computes on its slice
                    batch = jax.lax.with_sharding_constraint(batch, self.data_sharding)
                (trainable, other, optimizer_values), out = self._update(
                    group.phases, (trainable, other, optimizer_values), batch)
            outputs.append(out)
        if self.sources:
            averages, updates = update_averages(
                self.decay, updates, averages,
                [(trainable, other)[kind][i] for kind, i in self.sources])
        logs = {name: jnp.asarray(value, jnp.float32)
                for name, value in step_logs(self.groups, outputs).items()}
        return (trainable, other, optimizer_values, averages, updates), logs

    def _update(self, phases, state, batch):
        """One forward pass, then each of ``phases`` updated from it (simultaneously)."""
        trainable, other, optimizer_values = state
        indices, parts = zip(*(self.slices[id(p)] for p in phases), strict=True)
        own = [v for part in parts for v in trainable[part]]  # what this group differentiates

        def forward(own_values):
            values, start = list(trainable), 0
            for part in parts:
                values[part] = own_values[start:start + part.stop - part.start]
                start += part.stop - part.start
            mapping = (list(zip(self.trainable, values, strict=True))
                       + list(zip(self.other, other, strict=True)))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.model.compute_losses(batch)
            new_other = [scope.get_current_value(v) for v in self.other]
            return [logs[p.name] for p in phases], (logs, new_other)

        losses, pullback, (logs, new_other) = jax.vjp(forward, own, has_aux=True)
        new_trainable, new_optimizer, start = list(trainable), list(optimizer_values), 0
        for i, (phase, index, part) in enumerate(zip(phases, indices, parts, strict=True)):
            one_hot = [jnp.ones_like(x) if j == i else jnp.zeros_like(x)
                       for j, x in enumerate(losses)]
            (grads,) = pullback(one_hot)
            mine = slice(start, start + len(phase.variables))
            new_trainable[part], new_optimizer[index] = phase.optimizer.stateless_apply(
                optimizer_values[index], grads[mine], trainable[part])
            start = mine.stop
        return (new_trainable, new_other, new_optimizer), logs

    def _function(self, k: int):
        rows = self.batches

        def step_rows(block, pos):  # a step's batches: one row, or `rows` rows from pos
            if rows == 1:
                return block[pos]
            return jax.lax.dynamic_slice_in_dim(block, pos, rows)

        def run(state, images, block, pos):
            if k == 1:
                state, logs = self._step(state, images, step_rows(block, pos))
                return state, {name: value[None] for name, value in logs.items()}

            def body(state, i):
                return self._step(state, images, step_rows(block, pos + i * rows))

            # unrolled: XLA on CPU runs convolutions inside a while loop ~10x slower
            return jax.lax.scan(body, state, jnp.arange(k), unroll=True)

        # the state (argument 0) is donated: XLA updates the variables in place
        return jax.jit(run, donate_argnums=0)

    # --- what the loop calls ----------------------------------------------------------
    def put_block(self, rows: np.ndarray):
        block = jnp.asarray(rows)
        return self._replicated(block) if self.dist is not None else block

    def _call(self, function, block, pos: int) -> dict[str, np.ndarray]:
        self.state, logs = function(self.state, self.images, block, np.int32(pos))
        return jax.device_get(logs)

    def sync(self) -> None:
        """Writes the state back into the keras variables (sampling and saving read them)."""
        trainable, other, optimizer_values, averages, updates = self.state
        if self.updates is not None:
            self.updates.assign(updates)
        for variable, value in zip(self.trainable + self.other + self.averages,
                                   trainable + other + averages, strict=True):
            variable.assign(value)
        for variables, values in zip(self.optimizer_vars, optimizer_values, strict=True):
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)

    def step_flops(self, block) -> float:
        """XLA's cost analysis of the compiled one-step function (what runs)."""
        compiled = self._function(1).lower(self.state, self.images, block, np.int32(0)).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost  # a list in older jax
        return float(cost["flops"])

    def peak_memory_mb(self) -> float:
        stats = [d.memory_stats() or {} for d in jax.local_devices()]
        peaks = [s["peak_bytes_in_use"] for s in stats if "peak_bytes_in_use" in s]
        return max(peaks) / 2**20 if peaks else host_peak_memory_mb()
