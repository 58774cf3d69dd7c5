"""Where a study's runs run: ``local`` (this process, one after another), ``local --workers N``
(one fresh process per run, N at a time) or ``ray`` (one Ray task per run, on a cluster or a
local instance).

Every executor hands each finished trial (``trial.Trial``) to ``on_result`` in this process,
as it arrives, so the runner writes results.json after every trial whichever executor ran it. A
trial that raises or whose process dies becomes a "failed" record with its error; the others
go on. A full disk is not a trial's failure: it stops the study (``errors.no_space``), to be
resumed once there is space.

How a worker gets the data and the scoring space without downloading or training again: the
runner loads the dataset and builds the classifier and the real statistics into the cache
folder before any run starts (``metrics.build_reference``); a worker loads both from that
folder (``Job.cache_dir``, resolved to an absolute path). Worker processes reload the dataset
from its files (already fetched, checksummed); Ray tasks get it from the object store, put once.
On a multi-machine cluster --cache-dir and --out must be paths every machine sees (shared
storage), or the classifier is trained once per machine and figures stay where they were drawn.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.config import RunConfig
from benchmarks.console import eval_figures
from benchmarks.errors import UserError, no_space
from benchmarks.trial import Trial, TrialSpec

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install -e '.[ray]'"
RETRIES = 1  # a worker process that dies is run once more, then recorded as failed
POLL_S = 0.2  # how often the driver looks at Ctrl-C while waiting on workers
STOP_WAIT_S = 10  # how long a terminated worker is waited for (its own cleanup), at most
RAY_NICENESS = "RAY_worker_niceness"  # Ray's setting, read by each worker process it starts
ROOT = Path(__file__).resolve().parents[1]  # so workers import this checkout's code

OnResult = Callable[[Trial], None]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class Choice:
    """--executor, --workers and --ray-address, checked."""

    kind: str = "local"
    workers: int = 1
    ray_address: str | None = None


LOCAL = Choice()  # the default: today's sequential loop in this process


@dataclass(frozen=True)
class Job:
    """What a worker process needs to rebuild a run's context (all of it picklable)."""

    cfg: RunConfig
    dataset: str  # the dataset the runner loaded (after any fallback)
    run_dir: str
    cache_dir: str  # where the runner put the classifier and the real statistics
    parent_run: str | None = None  # the command's MLflow parent run (benchmarks/tracking.py)


def check(kind: str, workers: int | None, ray_address: str | None) -> Choice:
    """Every problem with the executor options as one line, before any data or training."""
    if kind not in EXECUTORS:
        raise UserError(f"unknown executor '{kind}'; choose one of: {', '.join(EXECUTORS)}")
    if workers is not None and kind != "local":
        raise UserError("--workers is for --executor local; Ray runs as many runs at once as "
                        "the cluster has CPUs (or GPUs)")
    if ray_address and kind != "ray":
        raise UserError("--ray-address needs --executor ray")
    if kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError(f"--executor ray needs Ray, which is not installed here: "
                            f"{RAY_INSTALL}") from None
    return Choice(kind, workers or 1, ray_address)


def execute(choice: Choice, specs: list[TrialSpec], ctx, job: Job, on_result: OnResult,
            should_stop: ShouldStop) -> None:
    """Run ``specs``; returns when all finished or, after ``should_stop()``, what ran did."""
    if choice.kind == "ray":
        run_ray(specs, job, ctx.dataset, choice.ray_address, on_result, should_stop)
    elif choice.workers > 1:
        run_workers(specs, job, choice.workers, on_result, should_stop)
    else:
        run_local(specs, ctx, on_result, should_stop)


def failed(spec: TrialSpec, error: str) -> Trial:
    return Trial(spec, "failed", error=error)


def _error_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0]


# --------------------------------------------------------------------------- local


def run_local(specs, ctx, on_result: OnResult, should_stop: ShouldStop) -> None:
    from rich.markup import escape  # keys hold [settings], which rich reads as markup

    from benchmarks import experiment

    for spec in specs:
        if should_stop():
            return
        try:
            record = experiment.run(spec, ctx, should_stop)
        except Exception as err:  # one run's bug must not lose the others' results
            if no_space(err):
                raise
            ctx.console.loud(escape(f"{spec.key} failed: {_error_line(err)}"))
            traceback.print_exc()
            record = failed(spec, _error_line(err))
        on_result(record)


# --------------------------------------------------------------------------- worker processes


class WorkerConsole:
    """The console inside a worker: a line per event, prefixed by the run; no live bars,
    which would interleave with the other workers'."""

    def __init__(self, key: str):
        self.key = key

    def info(self, text: str) -> None:
        print(f"[{self.key}] {text}", flush=True)

    loud = note = info

    def eval_line(self, name: str, seed: int, step: int, scores: dict) -> None:
        self.info(f"step {step}: {eval_figures(scores)}")

    def progress(self, label: str, total: int):
        return _Quiet()


class _Quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def update(self, info) -> None:
        pass


def work(job: Job, spec: TrialSpec, dataset=None, should_stop: ShouldStop = lambda: False):
    """One run in a fresh worker process: pick the backend, load, score, return the record."""
    os.environ["KERAS_BACKEND"] = job.cfg.backend  # before keras is imported, in this process
    from benchmarks.backend import import_keras

    import_keras()
    from benchmarks import data, experiment, plugins, space

    plugins.load(job.cfg.plugins)  # the same models, under the same names, as the driver's

    ds = dataset if dataset is not None else data.load(job.dataset, job.cfg.data_dir)
    reference = space.build(ds, job.cfg.samples, cache_dir=job.cache_dir)
    ctx = experiment.Context(job.cfg, ds, reference, Path(job.run_dir), WorkerConsole(spec.key),
                             parent_run=job.parent_run)
    return experiment.run(spec, ctx, should_stop)


def _child(job: Job, spec: TrialSpec, gpu: str | None, stop, results) -> None:
    # the driver owns Ctrl-C: it sets ``stop`` and this run ends after its current step
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    try:
        record = work(job, spec, should_stop=stop.is_set)
    except Exception as err:
        if no_space(err):  # the driver stops the study (an OSError of plain fields pickles)
            results.put((spec.key, OSError(err.errno, os.strerror(err.errno))))
            return
        traceback.print_exc()
        record = failed(spec, _error_line(err))
    results.put((spec.key, record))


def visible_gpus() -> list[str]:
    """GPU ids to hand out one per worker: $CUDA_VISIBLE_DEVICES, else what nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g for g in env.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU")]


def run_workers(specs, job: Job, workers: int, on_result: OnResult,
                should_stop: ShouldStop) -> None:
    """``workers`` runs at a time, each in a fresh spawned process (a backend of its own; a
    forked TensorFlow is unsafe), slot i pinned to GPU i when there are GPUs."""
    import multiprocessing as mp
    import queue

    spawn = mp.get_context("spawn")
    results, stop = spawn.Queue(), spawn.Event()
    gpus = visible_gpus()
    todo = [(spec, 0) for spec in specs]
    running: dict[int, tuple] = {}  # slot -> (process, spec, attempt)
    got: dict[str, dict] = {}
    try:
        while todo or running:
            if should_stop():
                stop.set()
                todo.clear()
            for slot in range(workers):
                if slot not in running and todo:
                    spec, attempt = todo.pop(0)
                    gpu = gpus[slot % len(gpus)] if gpus else None
                    proc = spawn.Process(target=_child, args=(job, spec, gpu, stop, results),
                                         name=f"genbench-{spec.key}", daemon=True)
                    proc.start()
                    running[slot] = (proc, spec, attempt)
            try:
                key, record = results.get(timeout=POLL_S)
                if isinstance(record, OSError):
                    raise record
                got[key] = record
            except queue.Empty:
                pass
            for slot, (proc, spec, attempt) in list(running.items()):
                if spec.key in got:
                    on_result(got.pop(spec.key))
                    proc.join()
                    del running[slot]
                elif proc.exitcode is not None and not _arrives(results, got, spec.key):
                    del running[slot]
                    if attempt < RETRIES and not stop.is_set():
                        todo.insert(0, (spec, attempt + 1))
                    else:
                        on_result(failed(spec, f"worker process died (exit code "
                                               f"{proc.exitcode}) {attempt + 1} times"))
    finally:
        for proc, _, _ in running.values():  # a second Ctrl-C: stop at once
            proc.terminate()
        for proc, _, _ in running.values():  # gone before the folder's temporaries are
            proc.join(timeout=STOP_WAIT_S)


def _arrives(results, got: dict, key: str, wait_s: float = 1.0) -> bool:
    """Whether a dead worker's record is still in the queue's pipe (it wrote, then exited)."""
    import queue

    deadline = time.monotonic() + wait_s
    while key not in got and time.monotonic() < deadline:
        try:
            k, record = results.get(timeout=POLL_S)
            got[k] = record
        except queue.Empty:
            pass
    return key in got


# --------------------------------------------------------------------------- ray


def ray_task_env(backend: str) -> dict[str, str]:
    """The environment of every Ray task's worker process. Ray starts task workers at nice 15
    (its ``worker_niceness``), below everything else on the machine: beside any other work
    a run then gets a sliver of the CPU (importing TensorFlow took 51 s instead of 11 s beside
    a two-process load, 5 CPU-seconds either way) and its images/s say more about its
    neighbours than about the model. Runs train at the user's priority under every executor,
    so Ray's are put back to 0 unless the user set ``RAY_worker_niceness`` themselves."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"KERAS_BACKEND": backend, "PYTHONPATH": path,
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
            RAY_NICENESS: os.environ.get(RAY_NICENESS, "0")}


def run_ray(specs, job: Job, dataset, address: str | None, on_result: OnResult,
            should_stop: ShouldStop) -> None:
    """Each run a Ray task in a fresh worker process (max_calls=1: a backend of its own, GPU
    memory freed after), one GPU per task where the cluster has GPUs. A task whose process
    dies is retried once (max_retries); an exception is not (it would fail again)."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": ray_task_env(job.cfg.backend)})
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise UserError(f"cannot reach the Ray cluster at {address}: {_error_line(err)}; "
                        "start one with 'ray start --head' or leave out --ray-address") from None
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(max_calls=1)(_ray_work).options(
            num_gpus=gpus, max_retries=RETRIES, retry_exceptions=False)
        data_ref = ray.put(dataset)  # once; tasks read its arrays from the object store
        pending = {task.remote(job, spec, data_ref): spec for spec in specs}
        while pending:
            if should_stop():
                for ref in pending:
                    ray.cancel(ref, force=True)  # what finished is kept; these run on resume
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    continue
                except ray.exceptions.RayError as err:
                    record = failed(spec, _ray_error(err))
                if isinstance(record, OSError):  # a full disk stops the study, as in workers
                    for other in pending:
                        ray.cancel(other, force=True)
                    raise record
                on_result(record)
    finally:
        ray.shutdown()


def _ray_work(job: Job, spec: TrialSpec, dataset) -> Trial | OSError:
    try:
        return work(job, spec, dataset)
    except Exception as err:
        if no_space(err):  # returned, not raised: the driver stops the study (not "failed")
            return OSError(err.errno, os.strerror(err.errno))
        raise


def _ray_error(err: BaseException) -> str:
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        return _error_line(cause)
    return _error_line(err).split(" Traceback")[0]
