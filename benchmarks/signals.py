"""One handler for SIGINT and SIGTERM for the whole command, installed on its first line.

SIGTERM (what a scheduler sends) acts as Ctrl-C, and the exit status names the signal that
came (130 for SIGINT, 143 for SIGTERM). What a signal does depends on the stage:

- preparing (imports, arguments, data, planning the grid, the classifier): the first signal
  stops at once (a KeyboardInterrupt, which ``python -m benchmarks`` turns into the exit
  status without a traceback); nothing is lost;
- training: the first asks the current experiment to stop after its step (it is kept as
  interrupted), or, while it is being scored, after its scoring (kept as finished; a Ray task
  is cancelled, its checkpoint kept), and says so on stderr; a second stops at once;
- finishing (the last results.json write, the report): signals are noted and ignored, so
  both files are complete; from the command's end to the process's end they are ignored.

Once a signal has stopped the command (a KeyboardInterrupt), later ones are noted and ignored
too: a third Ctrl-C, or a second that lands while the first one's stop is on its way to the
folder's last write, cannot cut it, nor turn the exit status into a traceback.

Only the standard library is imported here, so installing it costs nothing before keras.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import NoReturn

PREPARE, TRAIN, FINISH = "prepare", "train", "finish"
HANDLED = (signal.SIGINT, signal.SIGTERM)


class Signals:
    def __init__(self):
        self.requested: str | None = None  # the first signal's name
        self.mode = PREPARE
        self._installed = False

    def install(self) -> Signals:
        """Handle both signals from now on (again: nothing changes)."""
        if not self._installed:
            for s in HANDLED:
                signal.signal(s, self._handle)
            self._installed = True
        return self

    def start(self) -> Signals:
        """A command begins (in-process callers run several): preparing, nothing requested."""
        self.install()
        self.requested, self.mode = None, PREPARE
        return self

    def _handle(self, signum, frame):
        name, first = signal.Signals(signum).name, self.requested is None
        self.requested = self.requested or name
        if self.mode == PREPARE or (self.mode == TRAIN and not first):
            self.stop()
        if self.mode == TRAIN:  # scoring a model's weights can take minutes: say so now
            with contextlib.suppress(OSError):  # stderr closed: the stop goes on unsaid
                os.write(2, f"\n{name}: stopping (a step or a model's scoring under way "
                            f"finishes first); a second {name} stops at once\n".encode())

    def stop(self) -> NoReturn:
        """Stop the command now (a KeyboardInterrupt): from here on a signal is noted and
        ignored, so whatever catches it (the folder's last write) is not cut."""
        self.mode = FINISH
        raise KeyboardInterrupt

    def end(self) -> None:
        """The command is over, its exit status decided: from here to the process's end both
        signals are ignored. Not noted by this handler: the interpreter's finalization (a
        second or more with TensorFlow and JAX loaded) puts a Python handler back to the
        default action, so a late second Ctrl-C there killed the process by the signal
        (status -2 to its parent, not 130); an ignored signal stays ignored through it."""
        for s in HANDLED:
            signal.signal(s, signal.SIG_IGN)
        self._installed = False  # the next command (in this process) installs it again

    def exit_status(self) -> int:
        return 128 + getattr(signal, self.requested or "SIGINT")


SIGNALS = Signals()  # the process's one handler
