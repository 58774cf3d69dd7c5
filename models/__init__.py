"""Generative models behind one contract (``models.base``), found by name (``models.registry``).

Importing the package imports every module in it, so each model registers itself: adding a
model is one new file with ``@register("name")`` on its class, and no other file changes.
"""

import importlib
import pkgutil

from models.base import GenerativeModel, Phase
from models.registry import describe, get, names, register

# modules that are not models: the contract, the registry, plugins, helpers models share
_INFRASTRUCTURE = {"base", "registry", "checks", "losses", "plugins"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["GenerativeModel", "Phase", "describe", "get", "names", "register"]
