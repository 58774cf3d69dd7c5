"""Model registry: ``@register("name")`` on a class makes it a benchmark model.

A dict behind a decorator, so adding a model is one new file and its registration;
nothing chooses models by string import or by ``if name == ...``.
"""

from __future__ import annotations

_MODELS: dict[str, type] = {}
RESERVED = frozenset({"all"})  # words the command line reads itself (``--models all``)


class DuplicateModelError(ValueError):
    """A second class registered under a taken name; ``existing`` is the first one."""

    def __init__(self, message: str, name: str, existing: type):
        super().__init__(message)
        self.name, self.existing = name, existing


class ReservedNameError(ValueError):
    """A name the command line reads itself (``--models all``); ``name`` is it."""

    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.name = name


class UnknownModelError(KeyError, ValueError):
    """An unregistered name; a KeyError for lookups and a ValueError for argument checks."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def register(name: str):
    """Class decorator: registers ``cls`` under ``name`` and sets ``cls.name``."""
    from models.base import GenerativeModel

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"model name must be an identifier-like string, got {name!r}")
    if name in RESERVED:
        raise ReservedNameError(f"model name {name!r} is reserved ({', '.join(sorted(RESERVED))}"
                                " mean something else on the command line)", name)

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, GenerativeModel)):
            raise TypeError(f"@register({name!r}) needs a GenerativeModel subclass, got {cls!r}")
        if name in _MODELS:
            raise DuplicateModelError(f"model {name!r} is already registered (by "
                                      f"{_MODELS[name].__module__}."
                                      f"{_MODELS[name].__qualname__})", name, _MODELS[name])
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorate


def unregister(name: str) -> None:
    """Removes a registration (tests that register throwaway models clean up with it)."""
    get(name)
    del _MODELS[name]


def get(name: str) -> type:
    """The model class registered under ``name``; unknown names list the known ones."""
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(names()) or "(none)"
        raise UnknownModelError(f"unknown model {name!r}; registered models: {known}") from None


def names() -> list[str]:
    return sorted(_MODELS)


def describe() -> dict[str, str]:
    """Each registered model's one-line description: the first line of its class docstring
    (``python -m benchmarks list`` shows it); "" for a class without one."""
    return {name: (_MODELS[name].__doc__ or "").strip().split("\n")[0] for name in names()}
