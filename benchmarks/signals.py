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

Python runs a handler between any two bytecodes, also in code that cannot raise: a garbage
collector's callback (JAX registers one), a ``__del__``. There Python drops the
KeyboardInterrupt with an "Exception ignored" traceback on stderr, and the command went on
preparing until its next check; the handler now takes that stop back from
``sys.unraisablehook`` and delivers it again as soon as ordinary code runs.

Only the standard library is imported here, so installing it costs nothing before keras.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
from typing import NoReturn

PREPARE, TRAIN, FINISH = "prepare", "train", "finish"
HANDLED = (signal.SIGINT, signal.SIGTERM)


class Signals:
    def __init__(self):
        self.requested: str | None = None  # the first signal's name
        self.mode = PREPARE
        self._installed = False
        self._raised: KeyboardInterrupt | None = None  # the stop last raised
        self._again = False  # that stop was dropped: the next call of the handler raises it
        self._unraisable_before = sys.unraisablehook

    def install(self) -> Signals:
        """Handle both signals from now on (again: nothing changes)."""
        if not self._installed:
            for s in HANDLED:
                signal.signal(s, self._handle)
            self._installed = True
        if sys.unraisablehook != self._unraisable:  # (pytest puts its own in for each test)
            self._unraisable_before, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def start(self) -> Signals:
        """A command begins (in-process callers run several): preparing, nothing requested."""
        self.install()
        self.requested, self.mode, self._again = None, PREPARE, False
        return self

    def _handle(self, signum, frame):
        if self._again:  # the stop that code which cannot raise dropped (see _unraisable)
            if frame is not None and frame.f_code in _HOOK_CODE:
                self._deliver_again()  # it came back inside the hook itself: once more
                return
            self._again = False
            self.stop()
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
        self._raised = KeyboardInterrupt()
        raise self._raised

    def finishing(self) -> None:
        """The folder's last writes begin: from here a signal is noted and ignored; a stop
        dropped a moment ago and not yet delivered again is moot (the command is ending)."""
        self.mode, self._again = FINISH, False

    def _unraisable(self, unraisable) -> None:
        """``sys.unraisablehook``: where the stop was raised in code that cannot raise (a
        garbage collector's callback, a ``__del__``), Python dropped it; deliver it again.
        Anything else goes to the hook that was there before."""
        if self._installed and self._raised is not None and unraisable.exc_value is self._raised:
            self._again = True
            self._deliver_again()
            return
        self._unraisable_before(unraisable)

    def _deliver_again(self) -> None:
        """Call the handler again, from the first ordinary code that runs: a thread signals the
        main one (tripped from here, Python would run the handler at once, inside this hook,
        which cannot raise either)."""
        _thread.start_new_thread(_thread.interrupt_main,
                                 (getattr(signal, self.requested or "SIGINT"),))

    def end(self) -> None:
        """The command is over, its exit status decided: from here to the process's end both
        signals are ignored. Not noted by this handler: the interpreter's finalization (a
        second or more with TensorFlow and JAX loaded) puts a Python handler back to the
        default action, so a late second Ctrl-C there killed the process by the signal
        (status -2 to its parent, not 130); an ignored signal stays ignored through it."""
        for s in HANDLED:
            signal.signal(s, signal.SIG_IGN)
        self._installed, self._raised = False, None  # the next command installs it again

    def exit_status(self) -> int:
        return 128 + getattr(signal, self.requested or "SIGINT")


_HOOK_CODE = (Signals._unraisable.__code__, Signals._deliver_again.__code__)  # cannot raise
SIGNALS = Signals()  # the process's one handler
