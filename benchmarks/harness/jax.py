"""JAX engine: a jit'd stateless step ``(state, images, block, pos) -> (state, logs)``.

The model's variables are swapped for traced values with ``keras.StatelessScope``; one
forward pass (``model.compute_losses``) is linearised with ``jax.vjp`` and pulled back once
per phase with a one-hot cotangent, so each phase's loss is differentiated with respect to
its own variables only (XLA drops the gradients nobody uses). ``steps_per_call`` steps run
in one ``lax.scan``; the state buffers are donated, so no step copies the model.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import keras
import numpy as np

from benchmarks.harness.loop import check_split, host_peak_memory_mb


def distribution(distribute: bool):
    """keras' DataParallel over every device JAX sees (GPUs, or forced host devices)."""
    if not distribute:
        return None
    return keras.distribution.DataParallel(devices=jax.devices())


def creation_scope(dist):
    """Nothing to do at creation: the engine places the state by the distribution's layouts."""
    return contextlib.nullcontext()


class Engine:
    def __init__(self, model, images: np.ndarray, *, batch_size: int, jit: bool,
                 steps_per_call: int, context=None):
        # every JAX step is compiled by XLA, so `jit` changes nothing here
        self.model, self.phases, self.dist = model, model.phases, context
        self.replicas = context.num_model_replicas if context is not None else 1
        check_split(batch_size, self.replicas)
        self.trainable = [v for p in self.phases for v in p.variables]
        ids = {id(v) for v in self.trainable}
        self.other = [v for v in model.variables if id(v) not in ids]
        self.optimizer_vars = [list(p.optimizer.variables) for p in self.phases]
        self.state = self._read_state()
        self.images = jnp.asarray(images)  # on the device once, for the whole run
        self.data_sharding = None
        if context is not None:
            self.data_sharding = context.get_data_layout((batch_size,)).backend_layout
            self.state = jax.tree.map(self._replicated, self.state)
            self.images = self._replicated(self.images)
        self.functions: dict[int, object] = {}

    def _replicated(self, x):
        return jax.device_put(x, self.dist.get_variable_layout(x).backend_layout)

    def _read_state(self):
        return ([v.value for v in self.trainable], [v.value for v in self.other],
                [[v.value for v in vs] for vs in self.optimizer_vars])

    # --- one step, as traced ----------------------------------------------------------
    def _step(self, state, images, indices):
        trainable, other, optimizer_values = state
        batch = jnp.take(images, indices, axis=0)
        if self.data_sharding is not None:  # each replica computes on its slice
            batch = jax.lax.with_sharding_constraint(batch, self.data_sharding)

        def forward(trainable_values):
            mapping = (list(zip(self.trainable, trainable_values, strict=True))
                       + list(zip(self.other, other, strict=True)))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.model.compute_losses(batch)
            new_other = [scope.get_current_value(v) for v in self.other]
            return [logs[p.name] for p in self.phases], (logs, new_other)

        losses, pullback, (logs, new_other) = jax.vjp(forward, trainable, has_aux=True)
        new_trainable, new_optimizer, start = list(trainable), [], 0
        for i, phase in enumerate(self.phases):
            one_hot = [jnp.ones_like(x) if j == i else jnp.zeros_like(x)
                       for j, x in enumerate(losses)]
            (grads,) = pullback(one_hot)
            part = slice(start, start + len(phase.variables))
            new_trainable[part], values = phase.optimizer.stateless_apply(
                optimizer_values[i], grads[part], trainable[part])
            new_optimizer.append(values)
            start = part.stop
        logs = {name: jnp.asarray(value, jnp.float32) for name, value in logs.items()}
        return (new_trainable, new_other, new_optimizer), logs

    def _function(self, k: int):
        def run(state, images, block, pos):
            if k == 1:
                state, logs = self._step(state, images, block[pos])
                return state, {name: value[None] for name, value in logs.items()}

            def body(state, i):
                return self._step(state, images, block[pos + i])

            # unrolled: XLA on CPU runs convolutions inside a while loop ~10x slower
            return jax.lax.scan(body, state, jnp.arange(k), unroll=True)

        # the state (argument 0) is donated: XLA updates the variables in place
        return jax.jit(run, donate_argnums=0)

    # --- what the loop calls ----------------------------------------------------------
    def put_block(self, rows: np.ndarray):
        block = jnp.asarray(rows)
        return self._replicated(block) if self.dist is not None else block

    def run(self, block, pos: int, k: int) -> tuple[dict[str, np.ndarray], bool]:
        compiled = k not in self.functions
        if compiled:
            self.functions[k] = self._function(k)
        self.state, logs = self.functions[k](self.state, self.images, block, np.int32(pos))
        return jax.device_get(logs), compiled

    def sync(self) -> None:
        """Writes the state back into the keras variables (sampling and saving read them)."""
        trainable, other, optimizer_values = self.state
        for variable, value in zip(self.trainable + self.other, trainable + other, strict=True):
            variable.assign(value)
        for variables, values in zip(self.optimizer_vars, optimizer_values, strict=True):
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)

    def peak_memory_mb(self) -> float:
        stats = [d.memory_stats() or {} for d in jax.local_devices()]
        peaks = [s["peak_bytes_in_use"] for s in stats if "peak_bytes_in_use" in s]
        return max(peaks) / 2**20 if peaks else host_peak_memory_mb()
