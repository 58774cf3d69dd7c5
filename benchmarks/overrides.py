"""``--set dcgan.lr=2e-4``: typed overrides of any model's config defaults, checked by building
the model's Config (which validates its own fields) when the arguments are read."""

from __future__ import annotations

import dataclasses
import math

from benchmarks.errors import UserError

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse_value(text: str, default, where: str):
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError
            return low in _TRUE
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            value = float(text)
            if not math.isfinite(value):
                raise UserError(f"--set {where}: '{text}' is not a finite number")
            return value
        if isinstance(default, tuple):
            return tuple(type(default[0])(v) for v in text.split(",")) if default else ()
    except ValueError:
        kind = type(default).__name__
        raise UserError(f"--set {where}: '{text}' is not a valid {kind}") from None
    return text


def parse_overrides(items: list[str], config_classes: dict[str, type]) -> dict[str, dict]:
    """['dcgan.lr=2e-4'] -> {'dcgan': {'lr': 0.0002}}, checked against each model's Config."""
    out: dict[str, dict] = {}
    for item in items:
        key, sep, text = item.partition("=")
        model, dot, field = key.partition(".")
        if not sep or not dot or not field:
            raise UserError(f"--set '{item}' is not of the form MODEL.KEY=VALUE "
                            "(e.g. dcgan.lr=2e-4)")
        if model not in config_classes:
            raise UserError(f"--set '{item}': model '{model}' is not in this run; "
                            f"choose one of: {', '.join(config_classes)}")
        fields = {f.name: f for f in dataclasses.fields(config_classes[model])}
        if field not in fields:
            raise UserError(f"--set '{item}': unknown key '{field}' for {model}; valid keys: "
                            f"{', '.join(fields)}")
        if field in out.get(model, {}):  # the last value winning silently hides a typo
            raise UserError(f"--set {key} is given twice; give it once")
        f = fields[field]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.setdefault(model, {})[field] = _parse_value(text, default, item)
        _build(config_classes[model], out[model], item)
    for model, cls in config_classes.items():
        if model not in out:
            _build(cls, {}, f"{model} (defaults)")
    return out


def _build(config_class: type, values: dict, where: str):
    """The Config with ``values``; its own range checks become one ``--set`` line."""
    try:
        return config_class(**values)
    except (ValueError, TypeError) as e:
        raise UserError(f"--set {where}: {e}") from None
