"""Loading the user's model plugins for a command: ``models.plugins`` with its errors as the
one-line ``UserError`` (exit 2), before any data or training."""

from __future__ import annotations

from benchmarks.errors import UserError


def load(files=()) -> tuple[str, ...]:
    """Entry points, then ``files`` (``--plugin``, in order); the files' resolved paths."""
    from models import plugins

    try:
        return tuple(plugins.load(files))
    except plugins.PluginError as err:
        raise UserError(str(err)) from None
