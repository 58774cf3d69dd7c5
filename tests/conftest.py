"""Shared constants and fixtures: the digits the model and harness tests train on, the stored
schema-1 record, and real data through the data-dir setting (skipped with a reason if absent)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmarks import data
from metrics import cache

SHAPE = (28, 28, 1)  # the images these tests train on (digits, MNIST-shaped)
# a run's folder as schema 1 wrote it, and the report rendered from it (tests/test_render_stable)
V1_DIGITS = Path(__file__).parent / "fixtures" / "v1-digits"


@pytest.fixture(scope="session")
def digits_dataset():
    """scikit-learn's digits, padded to MNIST's shape: always there, loaded once."""
    return data.load("digits")


@pytest.fixture(scope="session")
def digits(digits_dataset) -> np.ndarray:
    """The first 256 training digits: what the model and harness tests train on."""
    return digits_dataset.x_train[:256]


@pytest.fixture(scope="session")
def real_dataset():
    """``real_dataset(name)``: the real dataset, found where ``run`` looks (the data-dir
    setting, the Keras cache, Debian's package) but never downloaded, loaded once per session;
    the test is skipped, naming the places tried, when there is none."""
    loaded = {}

    def load(name: str):
        if name not in loaded:
            found, tried = data.locate(name, os.environ.get(data.DATA_DIR_ENV), download=False)
            if found is None:
                pytest.skip(f"real {name} not found without downloading (tried: "
                            f"{'; '.join(tried)}); set {data.DATA_DIR_ENV} to its folder")
            loaded[name] = found.load()
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def mnist(real_dataset):
    return real_dataset("mnist")


@pytest.fixture(scope="session")
def mnist_dir(mnist) -> Path:
    """The folder real MNIST's IDX files were loaded from, for tests that copy or damage them."""
    folder = Path(mnist.source)
    if not folder.is_dir():
        pytest.skip(f"real MNIST was loaded from {mnist.source}, not a folder of IDX files")
    return folder


def _session_root(tmp_path_factory) -> Path:
    """A folder every worker of this pytest session shares: under pytest-xdist (``make test
    ARGS="-n 4"``) each worker has a temporary folder of its own inside one common parent."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory) -> Path:
    """The one classifier cache of the session: $BENCHMARKS_CACHE_DIR where it is set (CI sets
    the clone's .cache), else a folder the session's workers share. Each dataset's classifier
    trains at most once per session, in the first test that needs it (the cache's own lock
    makes a second worker wait for it); every test that needs a trained classifier uses this
    (the tests of the cache itself, damaged or rebuilt, keep their own)."""
    folder = os.environ.get("BENCHMARKS_CACHE_DIR")
    if folder:
        return Path(folder)
    shared = _session_root(tmp_path_factory) / "classifier-cache"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def jax_worker():
    """The session's one JAX process (tests/jaxworker.py): ``jax_worker.run(SCRIPT, *argv)``
    runs a script on JAX and returns its RESULT. Started by the first script, ended with the
    session."""
    from tests.jaxworker import JaxWorker

    worker = JaxWorker()
    yield worker
    worker.close()


@dataclass(frozen=True)
class SmokeRun:
    """The session's one finished smoke run: ``python -m benchmarks run --preset smoke
    --models dcgan,gan,ae --summary`` with no real MNIST (so on digits, saying so). ``folder``
    is shared: read it, never write it; ``copy`` gives a test its own."""

    folder: Path
    args: tuple
    stdout: str
    stderr: str

    def copy(self, dest: Path) -> Path:
        shutil.copytree(self.folder, dest)
        (dest / ".lock").unlink(missing_ok=True)
        return dest


SMOKE_RUN = ("run", "--preset", "smoke", "--models", "dcgan,gan,ae", "--summary")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, classifier_cache) -> SmokeRun:
    """Trained once per session, by the first test (of any worker) that asks (about a minute
    on 2 cores); the other workers wait for it and read the same folder."""
    from tests.clitools import cli

    root = _session_root(tmp_path_factory) / "smoke-run"
    root.mkdir(exist_ok=True)
    folder, output = root / "run", root / "output.json"
    args = (*SMOKE_RUN, "--out", str(folder))
    with cache.building(folder):  # the cache's lock: another worker waits, then reads it
        if not output.is_file():
            proc = cli(*args,  # offline: cli sets BENCHMARKS_OFFLINE
                       env={"BENCHMARKS_DATA_DIR": None, "KERAS_HOME": str(root / "keras"),
                            "BENCHMARKS_CACHE_DIR": str(classifier_cache)})
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            output.write_text(json.dumps({"stdout": proc.stdout, "stderr": proc.stderr}))
    printed = json.loads(output.read_text())
    return SmokeRun(folder, args, printed["stdout"], printed["stderr"])


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests never try the network: the download step is skipped, not timed out."""
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    monkeypatch.setenv("KERAS_HOME", str(tmp / "genbench-no-keras-home"))


# Tests run with one thread in each of TensorFlow's two pools and in OpenMP (oneDNN, BLAS),
# set before any test runs an op and inherited by every process a test starts (workers, Ray,
# `python -m benchmarks`): the tests' networks are tiny, so a second thread per op buys
# little, while the pools' and OpenMP's spinning threads of one process take the cores from
# the others that run beside it (a worker or Ray run is three processes or more). Measured
# in docs/development.md. Not under --benchmark-only: timings are taken as users run. A value
# already in the environment is kept.
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
              "OMP_NUM_THREADS": "1"}


# JAX's persistent compilation cache, one folder for the session (every xdist worker, JAX
# worker and `python -m benchmarks --backend jax` a test starts): a network compiled once
# is read back, not compiled again, when a later test (or a second build of the same model)
# traces the same program. The executable is the one XLA compiled, so every figure is the
# same; only compile time is saved (the JAX tests compile the same small models several
# times). Not under --benchmark-only, whose timings are taken as users run.
JAX_CACHE = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
JAX_CACHE_DIR = "JAX_COMPILATION_CACHE_DIR"


def pytest_configure(config):
    if config.getoption("benchmark_only", default=False):
        return
    for name, value in ONE_THREAD.items():
        os.environ.setdefault(name, value)
    if JAX_CACHE_DIR not in os.environ:  # the controller (or the one process): xdist's
        # workers, started after this, inherit the folder
        config._jax_cache = tempfile.mkdtemp(prefix="genbench-jax-cache-")
        os.environ[JAX_CACHE_DIR] = config._jax_cache
        for name, value in JAX_CACHE.items():
            os.environ.setdefault(name, value)


def pytest_unconfigure(config):
    folder = getattr(config, "_jax_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(JAX_CACHE_DIR, None)


# a test that asks for one of these trains, times training or reads real data: slow, whatever
# its file says (a test without them that trains or starts processes is marked by hand)
SLOW_FIXTURES = ("smoke_run", "real_dataset", "mnist", "mnist_dir", "benchmark")


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects by marker
def pytest_collection_modifyitems(config, items):
    """The slow tier: tests using a SLOW_FIXTURES fixture are marked ``slow``. Step and load
    timings are timed only under ``pytest --benchmark-only``, and run once,
    untimed, under ``--benchmark-disable`` (what ``make test``, and so CI, passes, so a
    benchmark cannot break unseen); plain pytest skips them. Under --benchmark-only the other
    tests are deselected, not skipped one line each, so the timing table is the last thing
    printed."""
    for item in items:
        if set(SLOW_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_share_order)  # every worker collects, and so sorts, the same way
    if config.getoption("benchmark_only", default=False):
        timed = [item for item in items if "benchmark" in getattr(item, "fixturenames", ())]
        config.hook.pytest_deselected(items=[item for item in items if item not in timed])
        items[:] = timed
        return
    if config.getoption("benchmark_disable", default=False):
        # once is enough to catch a broken benchmark: the step tests run at their smallest
        # batch only (the same code; the larger batches doubled the untimed run's time)
        batches = [_batch(item) for item in items if _batch(item) is not None]
        larger = [item for item in items if batches and (_batch(item) or 0) > min(batches)]
        config.hook.pytest_deselected(items=larger)
        items[:] = [item for item in items if item not in larger]
        return
    skip = pytest.mark.skip(reason="timing benchmark: run with pytest --benchmark-only (timed) "
                                   "or --benchmark-disable (once, untimed)")
    for item in items:
        if "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _batch(item) -> int | None:
    """The batch size a benchmark test is parametrized with; None for any other test."""
    if "benchmark" not in getattr(item, "fixturenames", ()):
        return None
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("batch") if callspec is not None else None


RAY_GROUP = "ray"  # the tests that start a local Ray instance: one at a time, in one worker


def _share_order(item) -> int:
    """Under pytest-xdist (``make test``), the order workers are handed tests in: the Ray group
    (one worker runs it whole, about four minutes), then the scripts on the JAX worker (slow,
    and none needs a trained classifier: the other worker starts on them while the first
    trains the session's digits classifier, instead of waiting on the cache's lock for it),
    then the other slow tests, then the fast ones, so the longest work starts first and the
    many short tests even out the end rather than one long test finishing alone (stable:
    collection order within each)."""
    group = item.get_closest_marker("xdist_group")
    if group is not None and group.args[:1] == (RAY_GROUP,):
        return 0
    if "jax_worker" in getattr(item, "fixturenames", ()):
        return 1
    return 2 if item.get_closest_marker("slow") else 3


# Where a test run's time goes: with GENBENCH_TEST_TIMELINE=FILE, each test (setup, call and
# teardown) appends one line "worker start end cpu nodeid" to FILE (Unix seconds; cpu: the
# CPU seconds of the worker and of the child processes it waited for during the test, so a
# command run as a real process counts, a Ray task does not, and the session's JAX process
# counts in full in the teardown of its worker's last test, where session fixtures end), so
# the idle time of each xdist worker, which tests run beside which, and where the CPU goes
# can be read after a run (python -m tests.timeline FILE). Off unless set.
TIMELINE_ENV = "GENBENCH_TEST_TIMELINE"


def _cpu_seconds() -> float:
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    path = os.environ.get(TIMELINE_ENV)
    start, cpu = time.time(), _cpu_seconds() if path else 0.0
    yield
    if path:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(path, "a") as f:  # one short line per write: appends do not interleave
            f.write(f"{worker} {start:.3f} {time.time():.3f} {_cpu_seconds() - cpu:.3f} "
                    f"{item.nodeid}\n")
