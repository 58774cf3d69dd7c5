"""Running the command line as a user does, and what its one-line errors look like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env=None, timeout=120):
    full_env = {**os.environ, "BENCHMARKS_OFFLINE": "1", **(env or {})}
    for key, value in list(full_env.items()):
        if value is None:
            del full_env[key]
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


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
    """``python -m benchmarks run ARGS`` in the background, its output readable as it comes."""
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
