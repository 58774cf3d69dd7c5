"""Running the command line as a user does, and what its one-line errors look like.

``cli(...)`` calls ``benchmarks.__main__.main`` in this process (a fresh Python process costs
a TensorFlow import, 3-6 s, each time), with its stdout, stderr and exit status captured as a
process's would be, and every piece of global state a command changes put back afterwards
(`InProcess`). What cannot happen in a process that has already imported keras, or that a
process owns for its life, runs as a real ``python -m benchmarks``: pass ``process=True``
(`cli` refuses, naming the reason, a call that would silently do otherwise in process).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import signal
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "benchmarks" / "__main__.py"  # sys.argv[0] under ``python -m benchmarks``
# read once, when a process starts (the interpreter, keras, XLA): an in-process call cannot
# honour them
STARTUP_ENV = ("KERAS_BACKEND", "PYTHONPATH", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES",
               "TF_CPP_MIN_LOG_LEVEL", "PYTHONHASHSEED")


@dataclass
class Result:
    """What a finished command left: the fields of subprocess.CompletedProcess tests read."""

    args: list
    returncode: int
    stdout: str
    stderr: str


def cli(*args, env=None, timeout=120, process=False):
    """``python -m benchmarks ARGS`` with BENCHMARKS_OFFLINE=1 and ``env`` on top (a None
    value unsets the variable), from the repository root. In this process unless
    ``process=True`` (``timeout`` applies to a real process only)."""
    args = [str(a) for a in args]
    if process:
        return _process(args, env, timeout)
    reason = needs_process(args, env)
    if reason:
        raise AssertionError(f"cli{tuple(args)} cannot run in this process: {reason}; "
                             "pass process=True")
    with InProcess(args, env) as call:
        call.run()
    return call.result


def needs_process(args, env) -> str | None:
    """Why this call must be a real process (None when it can run in this one)."""
    from benchmarks.backend import requested_backend

    env = env or {}
    wanted = requested_backend(args) or env.get("KERAS_BACKEND")
    if wanted is not None and wanted != _backend_here():
        return f"the backend is chosen once per process (this one has {_backend_here()})"
    for name in STARTUP_ENV:
        if name in env and name != "KERAS_BACKEND" and not _on_path_here(name, env[name]):
            return f"${name} is read when a process starts"
    if _option(args, "--executor") == "ray":
        return "Ray keeps its cluster connection for the process's life"
    if _option(args, "--workers") not in (None, "0", "1"):
        return "worker processes write their own output to the process's descriptors"
    return None


def _option(args, flag: str) -> str | None:
    """The value given to ``flag`` (``--flag X`` or ``--flag=X``), if any."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _on_path_here(name: str, value) -> bool:
    """A startup variable with the value this process has (``run_env`` copies os.environ), or
    a $PYTHONPATH of folders this process imports from already, changes nothing here."""
    if value == os.environ.get(name):
        return True
    if name != "PYTHONPATH" or not value:
        return False
    here = {str(Path(p or ".").resolve()) for p in sys.path}
    return all(str(Path(p).resolve()) in here for p in value.split(os.pathsep) if p)


def _backend_here() -> str:
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def _process(args, env, timeout):
    full_env = {**os.environ, "BENCHMARKS_OFFLINE": "1", **(env or {})}
    for key, value in list(full_env.items()):
        if value is None:
            del full_env[key]
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


class InProcess:
    """One command run in this process: inside the block the environment, cwd, sys.argv,
    stdout and stderr are the command's; leaving it restores them and everything a command
    leaves behind (signal handlers, the Keras dtype policy, plugin models,
    logging handlers, warning filters, the global random states)."""

    def __init__(self, args, env=None):
        self.args, self.env = list(args), dict(env or {})
        self.result: Result | None = None

    def __enter__(self) -> InProcess:
        from benchmarks.signals import SIGNALS
        from models import plugins, registry

        self._signals = SIGNALS
        self._saved = {
            "environ": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv,
            "handlers": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)},
            "signals": dict(vars(SIGNALS)), "models": dict(registry._MODELS),
            "plugin_files": dict(plugins._FILES), "plugin_origin": dict(plugins._ORIGIN),
            "modules": set(sys.modules), "logging": _logging_state(),
            "random": (random.getstate(), _numpy_state()), "dtype": _dtype_policy(),
        }
        for key, value in {"BENCHMARKS_OFFLINE": "1", **self.env}.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        os.chdir(ROOT)
        sys.argv = [str(MAIN), *self.args]
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        _fresh_process_warnings()
        return self

    def run(self) -> None:
        from benchmarks.__main__ import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(self.args))
            except SystemExit as exit_:  # argparse: --help, --version, a bad argument
                code = _exit_status(exit_.code, err)
            except Exception:  # what the interpreter does with an uncaught exception
                traceback.print_exc()
                code = 1
        self.result = Result(["python", "-m", "benchmarks", *self.args], int(code or 0),
                             out.getvalue(), err.getvalue())

    def __exit__(self, *exc) -> None:
        from models import plugins, registry

        saved = self._saved
        self._warnings.__exit__(*exc)
        for s, handler in saved["handlers"].items():
            signal.signal(s, handler)
        vars(self._signals).clear()
        vars(self._signals).update(saved["signals"])
        _restore(registry._MODELS, saved["models"])
        _restore(plugins._FILES, saved["plugin_files"])
        _restore(plugins._ORIGIN, saved["plugin_origin"])
        for name in set(sys.modules) - saved["modules"]:
            if name.startswith("genbench_plugin_"):  # a plugin file, imported by path
                del sys.modules[name]
        _restore_logging(saved["logging"])
        random.setstate(saved["random"][0])
        if saved["random"][1] is not None:
            sys.modules["numpy"].random.set_state(saved["random"][1])
        if "keras" in sys.modules:
            sys.modules["keras"].config.set_dtype_policy(saved["dtype"] or "float32")
        sys.argv = saved["argv"]
        os.chdir(saved["cwd"])
        _restore(os.environ, saved["environ"])


def _exit_status(code, err) -> int:
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=err)  # sys.exit("message"): printed, status 1
    return 1


def _fresh_process_warnings() -> None:
    """Warnings as a new interpreter shows them (its default filters, each location once, on
    stderr), not as pytest records them."""
    warnings.resetwarnings()
    for action, category, module in (("default", DeprecationWarning, "__main__"),
                                     ("ignore", DeprecationWarning, ""),
                                     ("ignore", PendingDeprecationWarning, ""),
                                     ("ignore", ImportWarning, ""),
                                     ("ignore", ResourceWarning, "")):
        warnings.filterwarnings(action, category=category, module=module)
    warnings.simplefilter("default", append=True)

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


def _restore(mapping, saved: dict) -> None:
    for key in set(mapping) - set(saved):
        del mapping[key]
    for key, value in saved.items():
        if mapping.get(key) is not value:
            mapping[key] = value


def _logging_state():
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in
                                       list(logging.root.manager.loggerDict)]
    return [(lg, list(lg.handlers), lg.level) for lg in loggers if isinstance(lg, logging.Logger)]


def _restore_logging(state) -> None:
    for lg, handlers, level in state:
        lg.handlers[:] = handlers
        lg.setLevel(level)


def _numpy_state():
    numpy = sys.modules.get("numpy")
    return numpy.random.get_state() if numpy is not None else None


def _dtype_policy():
    keras = sys.modules.get("keras")
    return keras.config.dtype_policy().name if keras is not None else None


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def run_env(cache: Path) -> dict:
    """Offline, unbuffered, no real data (digits then), the classifier cached in ``cache``."""
    env = {**os.environ, "BENCHMARKS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "BENCHMARKS_CACHE_DIR": str(cache)}
    env.pop("BENCHMARKS_DATA_DIR", None)
    return env


def start(args, env) -> subprocess.Popen:
    """``python -m benchmarks run ARGS`` in the background, its output readable as it comes
    (a real process: the tests that use it send it signals)."""
    return subprocess.Popen([sys.executable, "-m", "benchmarks", "run", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(child: subprocess.Popen, marker: str) -> list[str]:
    """Read the child's output until a line holds ``marker`` (or the child ends)."""
    seen = []
    for line in child.stdout:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"the run ended before printing {marker!r}:\n{''.join(seen)[-2000:]}")


def finish(child, seen, timeout=300):
    """Wait for the child; its whole stdout (what was read already, then the rest), stderr."""
    stdout, stderr = child.communicate(timeout=timeout)
    return "".join(seen) + stdout, stderr
