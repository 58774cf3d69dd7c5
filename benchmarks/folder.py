"""A run folder, owned by one object from its first check to its final render.

``run``, ``run --resume``, ``score`` and ``compare`` all write one, and each gets every
guarantee from here: a folder holding a run is never written over; one process writes it at a
time (its lock); results.json is written whole or not at all; a full disk is one line, exit
status 74, the folder kept as it was (from the probe and the lock of its creation on); a signal
while preparing stops at once, one while finishing is noted and ignored, so results.json and
report.md are both complete; a crash or a refusal after the folder exists marks it failed,
saying why and how to finish it; a command that made a folder and stopped before its first
record (a full disk, a signal) takes back what it made (the probe, the lock, its empty
folders), so the same --out works again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.errors import NoSpace, UserError, no_space
from benchmarks.signals import Signals
from reports import schema
from reports.files import remove_temporaries

RESULTS_FILE = schema.RESULTS_FILE
LOCK_FILE = ".lock"
PROBE_FILE = ".write-test"
TRAINED = ("figures", "weights")  # the sub-folders a trained run writes into

_LOCKS: list = []  # the lock files this command holds open: released() closes them at its end
_MADE: list[tuple[Path, list[Path]]] = []  # each folder this command created, with what it made


def check_free(out: str | Path | None, replaces: str | None = None) -> None:
    """A finished or running run's folder is never written over (its results would be lost);
    one whose record a command starting with ``replaces`` wrote may be (compare's own)."""
    path = None if out is None else Path(out) / RESULTS_FILE
    if path is None or not path.exists():
        return
    if replaces is not None:
        try:
            written_by = json.loads(path.read_text()).get("command", "")
        except (OSError, ValueError, AttributeError):
            written_by = ""  # unreadable: kept, as a run's would be
        if str(written_by).startswith(replaces):
            return
    raise UserError(f"{out} already holds a run ({RESULTS_FILE}); finish it with "
                    f"--resume {out}, or choose a new folder with --out DIR")


@dataclass
class RunFolder:
    """One run folder, locked by this process, and the record it holds.

    ``again``: how the command is finished after a stop (the fix a full disk, a refusal or an
    interruption names)."""

    path: Path
    signals: Signals
    again: str
    results: dict = field(default_factory=dict)

    @classmethod
    def create(cls, out: str | Path | None, name: str, signals: Signals, *,
               again: Callable[[Path], str], subfolders: tuple[str, ...] = TRAINED,
               replaces: str | None = None) -> RunFolder:
        """The new folder (default runs/<time>-<name>) with its sub-folders, checked writable,
        locked, and checked again under the lock (a run may have just finished there)."""
        path = Path(out) if out else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{name}"
        check_free(path, replaces)
        folder = cls(path, signals, again(path))
        made = _missing(path) + [path / sub for sub in subfolders if not (path / sub).exists()]
        _MADE.append((path, made))  # taken back at the command's end if no record is written
        folder._make(subfolders, "run the same command again")
        check_free(path, replaces)
        return folder

    @classmethod
    def reopen(cls, path: str | Path, signals: Signals, *, again: Callable[[Path], str]
               ) -> RunFolder:
        """An interrupted or failed run's folder, its record loaded, locked to continue it."""
        folder = Path(path)
        try:
            results = schema.load(folder / RESULTS_FILE)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot resume {folder}: {e}") from None
        return cls(folder, signals, again(folder), results)

    def lock(self) -> None:
        """``reopen`` locks once everything else was checked (``create`` at once); what a
        killed process of the stopped run left half-written goes with it."""
        self._make(TRAINED, self.again)
        remove_temporaries(self.path)

    def _make(self, subfolders: tuple[str, ...], again: str) -> None:
        """The folder and its sub-folders, checked writable, then locked for this process: a
        full disk is ``NoSpace`` (exit 74), another refusal one line."""
        try:
            _make(self.path, subfolders)
        except OSError as e:
            if no_space(e):
                raise NoSpace.writing(self.path, e, f"nothing was written; free space, then "
                                      f"{again}") from None
            raise UserError(f"cannot write to output folder {self.path} ({e.strerror}); "
                            "choose another with --out DIR") from None

    def write(self) -> None:
        """results.json as it stands, whole or not at all."""
        schema.write(self.path / RESULTS_FILE, self.results)

    @contextlib.contextmanager
    def full_disk(self):
        """A full disk ends the command in one line (``errors.NoSpace``, exit 74). Every file
        is written whole or not at all, so results.json keeps what was finished so far."""
        try:
            yield self
        except OSError as e:
            if not no_space(e):
                raise
            if not (self.path / RESULTS_FILE).exists():  # released() takes the folder back
                raise NoSpace.writing(self.path, e, "nothing was written; free space, then "
                                      "run the same command again") from None
            raise NoSpace.writing(self.path, e, f"what was finished is kept; free space, then "
                                  f"{self.again}") from None

    def work(self, body: Callable[[], None], console=None) -> int:
        """``body`` (which fills the record), then the record's final status and the report:
        an interruption or a crash is said in the notes, both files say so, and then the
        command ends with the signal's status, one line (a refusal) or the traceback (a bug).
        """
        status, failure = "complete", None
        try:
            try:
                body()
            finally:  # every writer has ended: a worker or Ray task killed mid-write is gone
                remove_temporaries(self.path)
        except KeyboardInterrupt:
            status = "interrupted"
            self.note(f"interrupted ({self.signals.requested or 'SIGINT'}) at "
                      f"{datetime.now():%H:%M:%S}; {self.again}")
        except Exception as e:  # refused or crashed with the folder made: it says so, and why
            if no_space(e):  # results.json stays at its last complete version (full_disk)
                raise
            status, failure = "failed", e
            reason = (str(e) if isinstance(e, UserError)
                      else f"{type(e).__name__}: {e}".splitlines()[0])
            self.note(f"failed at {datetime.now():%H:%M:%S}: {reason}; once it is fixed, "
                      f"{self.again}")
        report = self.finish(status)
        if console is not None:
            console.summary(self.results, report)
        if isinstance(failure, UserError):
            raise UserError(f"{failure}; {self.path} is kept, marked failed: once that is "
                            f"fixed, {self.again}") from None
        if failure is not None:
            raise failure  # a bug: its traceback, now that both files say the run failed
        return self.signals.exit_status() if status == "interrupted" else 0

    def note(self, text: str) -> None:
        self.results.setdefault("notes", [])
        if text not in self.results["notes"]:
            self.results["notes"].append(text)

    def finish(self, status: str | None) -> Path:
        """results.json's final ``status`` (None: the record's own, as compare merged it),
        then report.md; no signal cuts them. Returns the report's path."""
        from reports import render_run

        self.signals.finishing()
        if status is not None:
            self.results["status"] = status
            self.results["finished"] = datetime.now().isoformat(timespec="seconds")
        self.write()
        return render_run(self.path)  # signals stay ignored: the command only ends from here


def _make(folder: Path, subfolders: tuple[str, ...]) -> None:
    """The folder and its sub-folders, checked writable, then locked for this process; an
    OSError as it came (the probe removed)."""
    for sub in subfolders:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / PROBE_FILE
    try:
        probe.write_text("ok")
    except OSError:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise
    probe.unlink()
    _lock(folder)


def _missing(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, outermost first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing[::-1]


def _take_back(path: Path, made: list[Path]) -> None:
    """A folder whose command stopped before its first record: its lock file, then each
    folder the command made, innermost first, where it is empty (nothing else is touched)."""
    if (path / RESULTS_FILE).exists():
        return
    (path / PROBE_FILE).unlink(missing_ok=True)
    (path / LOCK_FILE).unlink(missing_ok=True)  # still held: no other process has it
    for folder in reversed(made):
        with contextlib.suppress(OSError):  # not empty (or gone): kept
            folder.rmdir()


def _lock(folder: Path) -> None:
    """One process writes a run folder: a second one is refused while the first holds it."""
    handle = open(folder / LOCK_FILE, "a+")  # held open until the command ends (released)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{folder} is being written by {holder}; wait for it to finish, or "
                        "choose another folder with --out DIR") from None
    _LOCKS.append(handle)  # held from here, even if the line below meets a full disk
    os.ftruncate(handle.fileno(), 0)  # unbuffered: a full disk fails here, not at close()
    os.write(handle.fileno(), f"genbench pid {os.getpid()}".encode())


@contextlib.contextmanager
def released():
    """Around one command: every folder it locked is unlocked when it ends, however it ends
    (a process's end would do the same; a command called in process, as the tests call it,
    must not keep its folders locked for the next one); a folder it made and stopped before
    writing a record in is taken back first, while still locked."""
    held, made = len(_LOCKS), len(_MADE)
    try:
        yield
    finally:
        while len(_MADE) > made:
            _take_back(*_MADE.pop())
        while len(_LOCKS) > held:
            _LOCKS.pop().close()
