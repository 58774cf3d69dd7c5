"""Checking a JSON value against a type written as a TypedDict (or list, dict, union, Literal
of them), naming the first place it differs: "runs[0].final must be an object or null, found
str". The schema's types are both its documentation and its check.
"""

import functools
import types
import typing
from collections.abc import Callable
from typing import Any, Literal


class TypeCheckError(ValueError):
    """A value that does not have its declared type; the message names where."""


def is_a(value: Any, kind: type) -> bool:
    """isinstance with JSON's view of numbers: bool is not a number, an int is a float."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def found(value: Any) -> str:
    names = {type(None): "null", dict: "object", list: "list", bool: "bool"}
    return names.get(type(value), type(value).__name__)


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if typing.is_typeddict(tp) or tp is dict or typing.get_origin(tp) is dict:
        return "an object"
    if tp is list or typing.get_origin(tp) is list:
        return "a list"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(tp))
    if _is_union(tp):
        return " or ".join(_describe(t) for t in typing.get_args(tp))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            Any: "anything"}[tp]


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _matches(value: Any, tp: Any) -> bool:
    """Whether value has the outer JSON type of tp (contents are checked by its checker)."""
    return _predicate(tp)(value)


@functools.cache
def _predicate(tp: Any) -> Callable[[Any], bool]:
    if tp is Any:
        return lambda value: True
    if tp is type(None):
        return lambda value: value is None
    if _is_union(tp):
        members = [_predicate(t) for t in typing.get_args(tp)]
        return lambda value: any(p(value) for p in members)
    if typing.get_origin(tp) is Literal:
        allowed = typing.get_args(tp)
        return lambda value: not isinstance(value, bool) and value in allowed
    kind = dict if typing.is_typeddict(tp) else typing.get_origin(tp) or tp
    return lambda value: is_a(value, kind)


def check(value: Any, tp: Any, where: str) -> None:
    """Raise TypeCheckError at the first place value does not have type tp."""
    _checker(tp)(value, where)


Checker = Callable[[Any, str], None]


@functools.cache
def _checker(tp: Any) -> Checker:
    """A checker for tp, built once per type: a record holds tens of thousands of numbers."""
    description = _describe(tp)
    literal = typing.get_origin(tp) is Literal

    def outer(value: Any, where: str) -> None:
        if not _matches(value, tp):
            seen = repr(value) if literal else found(value)
            raise TypeCheckError(f"{where or 'the record'} must be {description}, found {seen}")

    if _is_union(tp):
        members = [(t, _checker(t)) for t in typing.get_args(tp)]

        def union(value: Any, where: str) -> None:
            outer(value, where)
            next(c for t, c in members if _matches(value, t))(value, where)
        return union
    if typing.is_typeddict(tp):
        fields = {k: _checker(t) for k, t in typing.get_type_hints(tp).items()}
        required = tp.__required_keys__

        def record(value: Any, where: str) -> None:
            outer(value, where)
            prefix = f"{where}." if where else ""
            for key, field in fields.items():
                if key in value:
                    field(value[key], prefix + key)
                elif key in required:
                    raise TypeCheckError(f"{prefix}{key} is missing")
        return record
    if typing.get_origin(tp) in (dict, list):
        item_type = typing.get_args(tp)[-1]
        item = _checker(item_type)

        def container(value: Any, where: str) -> None:
            outer(value, where)
            if isinstance(value, dict):
                prefix = f"{where}." if where else ""
                for key, v in value.items():
                    item(v, prefix + key)
            elif not all(_matches(v, item_type) for v in value) or not _is_leaf(item_type):
                for i, v in enumerate(value):  # fast path above: a list of plain numbers
                    item(v, f"{where}[{i}]")
        return container
    return outer


def _is_leaf(tp: Any) -> bool:
    """Whether matching tp's outer type checks it fully (no contents to walk)."""
    if _is_union(tp):
        return all(_is_leaf(t) for t in typing.get_args(tp))
    return not typing.is_typeddict(tp) and typing.get_origin(tp) not in (dict, list)
