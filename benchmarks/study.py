"""A study: the grid of runs, model x swept settings x seeds, each with its key.

``--sweep dcgan.lr=1e-4,2e-4`` (repeatable) gives a model the product of its lists; ``--set``
fixes a setting for every run of a model. A trial's key (``trial.TrialSpec.key``) names its
model, the swept settings it varies and its seed, so ``--resume`` skips exactly the keys that
finished, whichever executor ran them.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from benchmarks.errors import UserError
from benchmarks.overrides import parse_overrides
from benchmarks.trial import TrialSpec

DONE_STATUSES = ("finished", "diverged")  # resume runs again what failed or was interrupted


def parse_sweeps(items: list[str], set_items: list[str],
                 config_classes: dict[str, type]) -> dict[str, dict[str, list]]:
    """['dcgan.lr=1e-4,2e-4'] -> {'dcgan': {'lr': [0.0001, 0.0002]}}.

    Each value is typed and checked as ``--set`` would (so a bad value is refused before any
    training), and every combination of a model's lists is built once with its ``--set``
    values, so a combination its Config rejects is refused too.
    """
    sweep: dict[str, dict[str, list]] = {}
    for item in items:
        target, sep, text = item.partition("=")
        model, _, field = target.partition(".")
        values = [v.strip() for v in text.split(",")]
        if not sep or not all(values):
            raise UserError(f"--sweep '{item}' is not of the form MODEL.KEY=V1,V2,... "
                            "(e.g. dcgan.lr=1e-4,2e-4)")
        typed = [_typed(f"{target}={v}", config_classes) for v in values]
        if isinstance(typed[0], tuple):
            raise UserError(f"--sweep '{item}': {target} is a list setting, which a sweep "
                            "cannot split; run once per value with --set")
        if len(set(typed)) != len(typed):
            raise UserError(f"--sweep '{item}' names a value twice")
        if field in sweep.get(model, {}):
            raise UserError(f"--sweep {target} is given twice; give it once with all values")
        if any(s.partition("=")[0] == target for s in set_items):
            raise UserError(f"{target} is both --set and --sweep; keep one of them")
        sweep.setdefault(model, {})[field] = typed
    for model, lists in sweep.items():
        fixed = [s for s in set_items if s.partition(".")[0] == model]
        for combo in _combinations(lists):
            chosen = [f"{model}.{k}={_text(v)}" for k, v in combo.items()]
            try:
                parse_overrides(fixed + chosen, {model: config_classes[model]})
            except UserError as e:
                raise UserError(f"--sweep: {e}") from None
    return sweep


def grid(models, sweep: dict[str, dict[str, list]], seeds: int) -> list[TrialSpec]:
    """Every run, model by model, setting by setting, seed by seed."""
    return [TrialSpec(model, combo, seed)
            for model in models
            for combo in _combinations(sweep.get(model, {}))
            for seed in range(seeds)]


def done_keys(runs: list[dict]) -> set[str]:
    """The keys of the finished records (a failed or missing run is run again)."""
    return {r.get("key") for r in runs if r.get("status") in DONE_STATUSES}


def pending(specs: list[TrialSpec], runs: list[dict]) -> list[TrialSpec]:
    """The runs of the grid that have no finished record yet."""
    done = done_keys(runs)
    return [s for s in specs if s.key not in done]


def model_config(config_class: type, fixed: dict[str, Any], spec: TrialSpec):
    """The model's Config for one run: its defaults, then ``--set``, then the swept values."""
    return dataclasses.replace(config_class(), **{**fixed, **spec.overrides})


def _combinations(lists: dict[str, list]) -> list[dict[str, Any]]:
    keys = sorted(lists)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(lists[k] for k in keys))]


def _typed(item: str, config_classes: dict[str, type]):
    try:
        parsed = parse_overrides([item], config_classes)
    except UserError as e:
        raise UserError(str(e).replace("--set", "--sweep", 1)) from None
    model, _, field = item.partition("=")[0].partition(".")
    return parsed[model][field]


def _text(value: Any) -> str:
    """A typed value back as ``--set`` text (repr keeps a float's every digit)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
