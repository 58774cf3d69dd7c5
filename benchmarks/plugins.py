"""Loading the user's model plugins for a command: ``models.plugins`` with its errors as the
one-line ``UserError`` (exit 2), before any data or training: a plugin that fails, calls
``sys.exit`` or raises KeyboardInterrupt itself at import (a Ctrl-C then stops the command)."""

from __future__ import annotations

from benchmarks.errors import UserError


def load(files=()) -> tuple[str, ...]:
    """Entry points, then ``files`` (``--plugin``, in order); the files' resolved paths."""
    from benchmarks.signals import SIGNALS
    from models import plugins

    try:
        return tuple(plugins.load(files))
    except plugins.PluginError as err:
        raise UserError(str(err)) from None
    except plugins.PluginInterrupt as err:
        if SIGNALS.requested:  # a real Ctrl-C or SIGTERM while importing: stop, as anywhere
            SIGNALS.stop()
        raise UserError(err.message) from None
