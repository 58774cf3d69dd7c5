"""Cache entries on disk: folders of files written atomically and sealed with SHA-256 sums.

An entry is a folder whose files are listed, with their SHA-256, in ``SHA256SUMS`` (the
``sha256sum`` format, so ``sha256sum -c SHA256SUMS`` checks it by hand). The manifest is
written last, so a folder without a manifest that matches every file is incomplete or damaged
and is treated as missing: the caller rebuilds and rewrites it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from metrics.errors import MetricsError

CACHE_ENV = "BENCHMARKS_CACHE_DIR"
MANIFEST = "SHA256SUMS"


def default_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$BENCHMARKS_CACHE_DIR``, else ``~/.cache/genbench``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "genbench"


def stderr_note(message: str) -> None:
    """Where cache notes go when the caller gives no ``note`` callback."""
    print(f"note: {message}", file=sys.stderr)


# metrics' own atomic writer: metrics may not import reports, whose files.py is everyone else's
def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename onto ``path``: a reader never sees half a file.

    ``tmp`` keeps ``path``'s suffixes, since some writers (Keras, NumPy) choose the format by
    them. If writing fails it is emptied, then removed: a writer still holding it open (h5py,
    on a full disk) then closes into freed space instead of crashing the process at exit.
    """
    path = Path(path)
    tmp = path.with_name(f"tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.truncate(tmp, 0)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_entry(folder: Path, writers: dict[str, Callable[[Path], None]]) -> None:
    """Write each ``name: write(path)`` into ``folder``, then seal it with the manifest."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)  # unsealed while its files change
        for name, write in writers.items():
            write_atomic(folder / name, write)
        lines = "".join(f"{sha256(folder / name)}  {name}\n" for name in writers)
        write_atomic(folder / MANIFEST, lambda tmp: tmp.write_text(lines))
    except OSError as e:
        raise MetricsError(f"cannot write the cache entry {folder}: {e.strerror or e}; point "
                           f"${CACHE_ENV} (or --cache-dir) at a writable folder") from None


@contextlib.contextmanager
def building(folder: Path):
    """Held while one process loads or builds the entry ``folder``: a second process (a
    parallel run, a worker, a test process) that wants the same entry waits here, then finds
    it written instead of training it again. Where the lock file cannot be made (a read-only
    cache) nothing is held: the writer then fails with its own one-line error."""
    lock = Path(folder).with_name(f".{Path(folder).name}.lock")  # hidden: not an entry
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # let go when the handle closes, or the process dies
        yield


def check_entry(folder: Path, names: tuple[str, ...]) -> str | None:
    """None when every file in ``names`` is present and matches the manifest, else why not."""
    manifest = folder / MANIFEST
    if not folder.is_dir():
        return "missing"
    if not manifest.is_file():
        return f"no checksum manifest in {folder} (incomplete, or written by an older version)"
    try:
        sums = {}
        for line in manifest.read_text().splitlines():
            digest, name = line.split("  ", 1)
            sums[name] = digest
    except (OSError, UnicodeDecodeError, ValueError):
        return f"unreadable checksum manifest {manifest}"
    for name in names:
        path = folder / name
        if name not in sums:
            return f"{path} has no checksum in {manifest}"
        try:
            actual = sha256(path)
        except OSError as e:
            return f"cannot read {path}: {e.strerror or e}"
        if actual != sums[name]:
            return f"checksum mismatch in {path} (damaged or replaced since it was written)"
    return None
