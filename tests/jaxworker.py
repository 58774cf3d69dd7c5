"""One JAX process per pytest session, for the tests that run a script on JAX.

The backend is fixed once per process, so a test of the JAX engine runs its script outside
pytest's TensorFlow process. A fresh ``python -c`` per script paid the TensorFlow + JAX +
Keras import each time: 8.3-9.2 s measured on the 2-core CI machine (``import keras`` and
the harness with KERAS_BACKEND=jax), before any compiling. The session's scripts share one
worker instead (``python -m tests.jaxworker``): each runs in a fresh globals dict, as
``python -c SCRIPT ARGV...`` would, and the global state a script can change is put back
between scripts (`reset`). The worker has two virtual CPU devices (XLA_FLAGS) for the
data-parallel scripts; the single-device scripts run on the first, with the numbers a
one-device process gives (test_engine_contract's recorded losses check it).

A script reports by printing one line ``RESULT<json>`` (the last one counts), so it still
runs alone under ``python -c``. A script that raises fails its test with the traceback; one
that kills the worker (or runs past its timeout) fails its test with the worker's exit
status and the tail of its stderr. Either way the worker is retired, so the next test gets a
fresh one. Under pytest-xdist each xdist worker has its own JAX worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import os
import select
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICES_FLAG = "--xla_force_host_platform_device_count=2"  # the data-parallel scripts' two


def worker_env() -> dict:
    """The worker's environment: this one on JAX, importing from the repository root."""
    flags = " ".join(f for f in (os.environ.get("XLA_FLAGS"), DEVICES_FLAG) if f)
    return {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "XLA_FLAGS": flags}


class JaxWorker:
    """The parent's side: ``run(script, *argv)`` is the script's RESULT (None if it printed
    none); the worker process starts at the first run and ends at ``close``."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log = None  # the worker's stderr: what it printed outside a script, and its death

    def run(self, script: str, *argv, timeout: float = 1200):
        if self.proc is None:
            self.log = tempfile.TemporaryFile("w+")
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.jaxworker"], cwd=ROOT,
                                         env=worker_env(), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.log, text=True)
        request = json.dumps({"script": script, "argv": [str(a) for a in argv]})
        try:
            self.proc.stdin.write(request + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the reply below says so
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            pytest.fail(self._retire(f"ran past {timeout:.0f} s" if not ready else "died"),
                        pytrace=False)
        reply = json.loads(line)
        if "error" in reply:
            self.close()  # whatever the script left half done goes with the worker
            pytest.fail(f"the script failed on JAX:\n{reply['error']}", pytrace=False)
        return reply["result"]

    def _retire(self, what: str) -> str:
        """Ends a worker that died or hung; the message a test fails with."""
        self.proc.kill()  # if it still runs
        status = self.proc.wait()
        self.log.seek(0)
        tail = self.log.read()[-3000:]
        self.close()
        return (f"the JAX worker {what} running this script (exit status {status}); the next "
                f"test gets a fresh one. Its stderr ends:\n{tail}")

    def close(self) -> None:
        if self.proc is not None:  # killed: it holds nothing unsaved between scripts, and
            self.proc.kill()  # the JAX process's own exit took 2 s
            self.proc.wait()
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None


def result_of(stdout: str):
    """A script's RESULT: the JSON after the last line starting ``RESULT`` (None if none)."""
    lines = [x for x in stdout.splitlines() if x.startswith("RESULT")]
    return json.loads(lines[-1][len("RESULT"):]) if lines else None


def run_process(script: str, *argv, env: dict, timeout: float = 1200):
    """``python -c script *argv`` in a fresh process with ``env`` over this one's (and the
    repository on its path): its RESULT; the process must succeed and print one."""
    proc = subprocess.run([sys.executable, "-c", script, *(str(a) for a in argv)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=timeout)
    result = result_of(proc.stdout)
    assert proc.returncode == 0 and result is not None, proc.stderr[-3000:]
    return result


def on_two_devices(backend: str, script: str, jax_worker: JaxWorker, timeout: float = 1200):
    """A data-parallel script's RESULT on ``backend`` with two CPU devices: the session's JAX
    worker has them; TensorFlow sets its two logical devices before it starts, so it runs in
    a process of its own."""
    if backend == "jax":
        return jax_worker.run(script, timeout=timeout)
    return run_process(script, env={"KERAS_BACKEND": backend, "XLA_FLAGS": DEVICES_FLAG},
                       timeout=timeout)


# --- the worker's side -----------------------------------------------------------------------
def run_script(script: str, argv: list[str]) -> dict:
    """``python -c script *argv`` in this process: {"result": its RESULT or None}, or
    {"error": its traceback, with what it wrote to stderr}."""
    out, err = io.StringIO(), io.StringIO()
    # the script's lines, for its traceback (a file's lines are read from the file)
    linecache.cache["<script>"] = (len(script), None, script.splitlines(True), "<script>")
    saved = sys.argv, os.getcwd(), dict(os.environ)
    sys.argv = ["-c", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(script, "<script>", "exec"), {"__name__": "__main__"})  # noqa: S102
    except Exception:
        return {"error": err.getvalue()[-3000:] + traceback.format_exc()}
    finally:
        sys.argv = saved[0]
        os.chdir(saved[1])
        os.environ.clear()
        os.environ.update(saved[2])
    return {"result": result_of(out.getvalue())}


def reset() -> None:
    """What a script can leave behind for the next: Keras's global state (the names and
    graph clear_session clears, the dtype policy, a distribution) and the models it
    registered (a class of the package itself is from a ``models.`` module)."""
    if "keras" not in sys.modules:
        return
    import keras

    keras.utils.clear_session()
    keras.config.set_dtype_policy("float32")
    keras.distribution.set_distribution(None)
    registry = sys.modules.get("models.registry")
    for name, cls in list(getattr(registry, "_MODELS", {}).items()):
        if not cls.__module__.startswith("models."):
            del registry._MODELS[name]


def serve() -> None:
    """Runs each request line's script; one reply line each on the original stdout."""
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever else reaches stdout (a C library, a stray print) goes to stderr
    for line in sys.stdin:
        request = json.loads(line)
        reply = run_script(request["script"], request["argv"])
        reset()
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
