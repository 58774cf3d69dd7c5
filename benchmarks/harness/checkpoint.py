"""Checkpoints of a train() call: everything the next step depends on, in one file.

Saved: every model variable (weights, batch-norm statistics, the noise and dropout seed
states), every phase optimizer's variables (step counts, moments), the weight averages and
their update count, the step and the loss history so far, and the batch order (its
generator's state, how it draws, and the index rows drawn but not yet trained on: for a set
drawn on the fly the generator's state is what continues its fresh draws). A run continued
from a checkpoint therefore takes the same steps as one never interrupted. The file is
written beside its final name, synced and renamed over the previous one, so a crash leaves
the last complete checkpoint; a file damaged all the same (a copy cut short, a bad disk) is
read whole before anything is loaded, and raises Unreadable naming it, so the caller can start
that run again.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from reports.files import atomic_write

FILE = "checkpoint.npz"
FORMAT = 1


def state_variables(model) -> list:
    """Every variable a step reads or writes, in an order fixed by the model's construction."""
    optimizers = [v for p in model.phases for v in p.optimizer.variables]
    averages = [v for net in model.averages.values() for v in net.variables]
    if model.average_updates is not None:
        averages.append(model.average_updates)
    return list(model.variables) + optimizers + averages


def save(folder: str | os.PathLike, model, step: int, history: dict, order_state: dict,
         unused_rows: np.ndarray) -> Path:
    """Writes the checkpoint of ``model`` (its keras variables current) after ``step``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"v{i}": np.array(keras.ops.convert_to_numpy(v))
              for i, v in enumerate(state_variables(model))}
    meta = {"format": FORMAT, "model": model.name, "step": step, "history": history,
            "order": order_state, "variables": len(arrays)}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["unused_rows"] = unused_rows
    return atomic_write(folder / FILE, lambda tmp: np.savez(tmp, **arrays))


class Restored(NamedTuple):
    """What a checkpoint gives train() besides the variables it loads."""

    step: int  # steps done when it was written
    history: dict[str, list[float]]  # the loss history up to ``step``
    order_state: dict  # the batch order's generator state (BatchOrder.state)
    unused_rows: np.ndarray  # index rows drawn but not yet trained on


class Unreadable(ValueError):
    """A checkpoint file that cannot be read back (truncated, corrupt): its message names it."""


def read(folder: str | os.PathLike) -> tuple[dict, list[np.ndarray], np.ndarray] | None:
    """(meta, variable values, unused rows) of the checkpoint in ``folder``, every byte read
    (so a damaged file is found now, not halfway through loading); None when there is none."""
    path = Path(folder) / FILE
    if not path.exists():
        return None
    try:
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            values = [f[f"v{i}"] for i in range(int(meta["variables"]))]
            return meta, values, f["unused_rows"]
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, ValueError) as err:
        raise Unreadable(f"{path} cannot be read ({type(err).__name__}: {err})") from None


def held(folder: str | os.PathLike) -> tuple[int, dict[str, list[float]]] | None:
    """(step, loss history) of the checkpoint in ``folder``, its variables left unread (what
    a tracker writes again on resume); None when there is none or it cannot be read."""
    try:
        with np.load(Path(folder) / FILE) as f:
            meta = json.loads(str(f["meta"]))
        return int(meta["step"]), dict(meta["history"])
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, ValueError):
        return None


def restore(folder: str | os.PathLike, model, batch_size: int,
            stack: int | None = None) -> Restored | None:
    """Loads the checkpoint in ``folder`` into ``model``'s variables; None when the folder
    holds none. A checkpoint that does not fit the model, the batch size or how the training
    images are drawn (``stack``: None for a fixed set, else the parts of an image drawn on the
    fly, ``BatchOrder``) is refused before any variable changes, and one that cannot be read
    raises Unreadable."""
    saved = read(folder)
    if saved is None:
        return None
    meta, values, unused_rows = saved
    path, variables = Path(folder) / FILE, state_variables(model)
    if meta.get("format") != FORMAT or meta.get("variables") != len(variables):
        raise ValueError(f"{path} is not a checkpoint of this {model.name} model (format "
                         f"{meta.get('format')}, {meta.get('variables')} variables, "
                         f"expected {len(variables)}): continue with the settings that "
                         "wrote it, or use another folder")
    if meta["order"]["batch_size"] != batch_size:
        raise ValueError(f"{path} was trained at batch size {meta['order']['batch_size']}, "
                         f"asked to continue at {batch_size}: use the same batch size")
    # checkpoints from before packing recorded no samples_per_example: theirs was 1
    packed = meta["order"].get("samples_per_example", 1)
    if packed != model.samples_per_example:
        raise ValueError(f"{path} was trained with {packed} images per batch element (pack), "
                         f"asked to continue with {model.samples_per_example}: use the same "
                         "pack")
    check_draw(path, meta["order"].get("stack"), stack)  # absent before it: a fixed set
    for variable, value in zip(variables, values, strict=True):
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"{path}: {variable.path} has shape {value.shape}, this "
                             f"model's has {tuple(variable.shape)}: continue with the "
                             "settings that wrote it, or use another folder")
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return Restored(meta["step"], meta["history"], meta["order"], unused_rows)


def check_draw(path: Path, saved: int | None, asked: int | None) -> None:
    """The checkpoint's batch order drew its images as this run would: the rows it kept are
    indices of the same kind (a fixed set's images, or k parts per image on the fly)."""
    if saved != asked:
        def drawn(stack):
            return ("a fixed training set" if stack is None else
                    f"images drawn on the fly, {stack} parts each")

        raise ValueError(f"{path} was trained on {drawn(saved)}, asked to continue on "
                         f"{drawn(asked)}: continue as it was drawn")
