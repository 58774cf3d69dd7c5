"""Models from outside the package: a Python file by path, or an installed package's entry
point in the ``genbench.models`` group. Either registers its models with ``@register``, as a
built-in does; loading one is importing it.

The registry fills in one order, so a name means the same model in every process: the
package's own modules (``import models``), then entry points, then files. Every process that
trains (``--workers``, Ray tasks) calls ``load`` with the same files, which the run's config
records. A plugin that fails to import, registers nothing, or takes a taken name is one
``PluginError`` line naming it, and registers nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

from models import registry

ENTRY_POINT_GROUP = "genbench.models"

_FILES: dict[str, list[str]] = {}  # resolved path -> the models it registered
_ORIGIN: dict[str, str] = {}  # model name -> the file or entry point that registered it
_entry_points_loaded = False


class PluginError(ValueError):
    """A plugin that cannot be used; the message is one line naming it and the fix."""


class PluginInterrupt(KeyboardInterrupt):
    """A KeyboardInterrupt while a plugin was imported, its registrations undone: a Ctrl-C,
    or the plugin raising it itself; the command that knows which (``benchmarks.plugins``)
    stops, or refuses the plugin with ``message``."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def load(files=()) -> list[str]:
    """Entry points (once per process), then each file (once per path); the files as
    resolved absolute paths, which is what a run records for its worker processes."""
    load_entry_points()
    return [load_file(f) for f in files]


def load_file(path) -> str:
    """Imports the file at ``path`` under a name of its own; its resolved path."""
    file = Path(path).expanduser().resolve()
    key = str(file)
    if key in _FILES:
        return key
    if not file.is_file():
        raise PluginError(f"plugin {path}: no such file; pass the path of a .py file that "
                          "defines a model with @register(\"name\")")
    # one module name per path: two plugins both called model.py do not replace each other
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    module_name = f"genbench_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', file.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path} is not a Python file; pass a .py file")

    def run() -> None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up while building
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise

    _FILES[key] = _registering(f"plugin {path}", key, run)
    return key


def load_entry_points() -> None:
    """Every installed entry point of the ``genbench.models`` group, imported once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(point, "dist", None)
        where = (f"plugin entry point '{point.name} = {point.value}'"
                 + (f" of {dist.name} {dist.version}" if dist is not None else ""))
        _registering(where, f"entry point {point.name} ({point.value})", point.load)


def defined_in(path) -> list[str]:
    """The models a loaded plugin file registered."""
    return list(_FILES.get(str(Path(path).expanduser().resolve()), []))


def origin(name: str) -> str | None:
    """Where a plugin model came from (its file or entry point); None for a built-in."""
    return _ORIGIN.get(name)


def forget(path) -> None:
    """Unregisters a file's models (tests that load throwaway plugins clean up with it)."""
    for name in _FILES.pop(str(Path(path).expanduser().resolve()), []):
        registry.unregister(name)
        _ORIGIN.pop(name, None)


def _registering(where: str, source: str, run) -> list[str]:
    """Runs ``run`` (an import); the names it registered, or a PluginError undoing them."""
    before = set(registry.names())

    def undo() -> None:
        for name in set(registry.names()) - before:
            registry.unregister(name)

    try:
        run()
    except registry.ReservedNameError as err:
        undo()
        raise PluginError(f"{where}: its model {err.name!r} takes a reserved name ('all' "
                          "is --models' word for every model); give it another name in "
                          "@register(...)") from None
    except registry.DuplicateModelError as err:
        undo()
        taken = err.existing.__module__
        owner = (f"the built-in {err.name} ({taken}.{err.existing.__qualname__})"
                 if taken.startswith("models.") else
                 f"model {err.name!r} of {_ORIGIN.get(err.name, taken)}")
        raise PluginError(f"{where}: its model {err.name!r} clashes with {owner}; give it "
                          "another name in @register(...)") from None
    except Exception as err:
        undo()
        summary = f"{type(err).__name__}: {err}".strip().splitlines()[0]
        raise PluginError(f"{where} failed to import: {summary}") from None
    except SystemExit as err:  # a plugin is imported, not run: it may not end the command
        undo()
        code = err.code if err.code is None or isinstance(err.code, int) else repr(err.code)
        raise PluginError(f"{where} called sys.exit({'' if code is None else code}) at import; "
                          "a plugin only defines models: move the script part under "
                          "if __name__ == \"__main__\":") from None
    except KeyboardInterrupt:
        undo()
        raise PluginInterrupt(f"{where} raised KeyboardInterrupt at import; a plugin only "
                              "defines models: remove the raise") from None
    added = sorted(set(registry.names()) - before)
    if not added:
        raise PluginError(f"{where} defines no model: decorate a GenerativeModel subclass "
                          "with @register(\"name\") from models.registry")
    for name in added:
        _ORIGIN[name] = source
    return added
