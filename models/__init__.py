"""Generative models behind one contract (``models.base``), found by name (``models.registry``).

Importing the package registers the built-in models.
"""

from models import autoencoder, dcgan, gan  # noqa: F401  (imported to register)
from models.base import GenerativeModel, Phase
from models.registry import get, names, register

__all__ = ["GenerativeModel", "Phase", "get", "names", "register"]
