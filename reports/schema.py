"""results.json: its one definition. The runner writes through it, the report and the console
read through it, and the tests build records from it.

A record stays a plain JSON dict (so a report re-renders from the file alone); the TypedDicts
below say what each field holds, and ``validate`` checks a record against those same types, so
the description and the check cannot drift apart. Keys not declared here are kept as they are.

Versions: 1 (the first), 2 (runs keyed by (model, overrides, seed); failed runs; which weights
were scored; the dataset's image shape; where the classifier's gate came from; a metric's
target value), 3 (each metric says where the report shows it: short label, section, count,
summary and verdict places; optional since: a run's ``source``, set by ``score``; the
``published`` rows of the paper's table a preset reproduces). Versions
1 and 2 are migrated on load; any other is refused.
"""

# No "from __future__ import annotations": TypedDict reads NotRequired[...] only from
# evaluated annotations, and validate relies on its required keys.
import json
import math
import typing
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NotRequired, TypedDict

from reports import migrate
from reports.files import atomic_write
from reports.typecheck import TypeCheckError, check, found, is_a

SCHEMA_VERSION = 3
RESULTS_FILE = "results.json"
# Runs whose metrics count: a diverged run keeps its numbers, the others have none.
SCORED_STATUSES = ("finished", "diverged")
Direction = Literal["lower", "higher", "target"]
Section = Literal["mode_collapse", "diversity"]  # the report's tables beside All metrics
RunStatus = Literal["finished", "diverged", "interrupted", "failed"]
RUN_STATUSES: tuple[str, ...] = typing.get_args(RunStatus)
RecordStatus = Literal["running", "complete", "interrupted", "failed"]  # the whole run folder's
Metrics = dict[str, Any]  # metric key -> number, null (not finite) or list (class histogram)
Series = dict[str, list[float | None]]  # "step" -> steps, then one list per curve or loss


class RecordError(ValueError):
    """A results file that cannot be read as a record; the message names the fix."""


class Config(TypedDict, total=False):
    models: list[str]
    dataset: str | None
    dataset_requested: str | None
    data_dir: str | None
    backend: str
    preset: str
    preset_about: str
    steps: int
    batch_size: int
    seeds: int
    eval_every: int
    eval_samples: int
    samples: int
    out: str | None
    overrides: dict[str, dict[str, Any]]  # model -> setting -> value, for every run of it
    sweep: dict[str, dict[str, list[Any]]]  # model -> setting -> values tried (a grid)
    precision: str
    jit: bool
    distribute: bool
    # added after schema 2's first records: optional, so older records still read
    image_size: int | None
    channels: int | None
    classifier_gate: float | None
    checkpoint_every: int
    plugins: list[str]  # --plugin files the models were loaded from (absent before them)
    steps_per_call: int  # training steps per compiled call (absent before: 1)
    tracker: str  # where progress went as it trained: tensorboard, mlflow, both, none
    # (absent before: none)
    draw: str  # how training images were drawn: fixed or on-the-fly (absent before: fixed)


class Environment(TypedDict, total=False):
    backend: str
    device: str
    python: str
    platform: str
    versions: dict[str, str | None]


class Dataset(TypedDict, total=False):
    name: str
    source: str
    note: str | None  # set when the run fell back to another dataset
    train_size: int
    test_size: int
    class_names: list[str]
    image_shape: list[int]  # [H, W, C]


class Classifier(TypedDict, total=False):
    test_accuracy: float  # fractions: 0.9944, not 99.44
    gate: float
    gate_source: str  # e.g. "dataset default" or "--classifier-gate"
    train_seconds: float | None


class Scoring(TypedDict, total=False):  # metric settings a small dataset reduces (see notes)
    real_images: int  # real test images every figure compares with
    ndb_cells: int  # k-means cells of NDB/K and JS(cells)
    k_precision_recall: int
    k_density_coverage: int


class MetricInfo(TypedDict):
    label: str
    short: str  # the column header where space is tight (the console)
    description: str
    direction: Direction
    target: NotRequired[float]  # the ideal value; required when direction is "target"
    section: Section | None  # the report's table it joins besides All metrics
    count: bool  # a whole number per seed, written without decimals
    summary: int | None  # its column in the summary (1 first); null: not in the summary
    verdict: int | None  # its rank among the metrics the verdict may rank by (1 first)


class Best(TypedDict):
    step: int
    metrics: Metrics


class Throughput(TypedDict, total=False):
    images_per_s: float | None
    step_ms_median: float | None
    step_ms_p90: float | None
    compile_s: float | None
    peak_memory_mb: float | None
    batch_size: int
    backend: str
    precision: str
    # sampling cost (records from before it have none; benchmarks/experiment.sampling_speed):
    # images/s of sample() at batch_size after a first (compiling) call, on the final weights
    sampling_images_per_s: float | None
    nfe: int  # network evaluations per sampled image (1: one generator or decoder call)


class NfeSweep(TypedDict):
    """An iterative model's final weights scored at each NFE (benchmarks/experiment.nfe_sweep):
    metric key -> its value at each of ``nfe``, on ``samples`` samples each."""
    nfe: list[int]
    samples: int
    metrics: dict[str, list[float | None]]


class Source(TypedDict, total=False):  # where samples scored by ``score`` came from; also
    kind: Literal["samples"]  # range (the rule that applied), count, note (resized, a seed)
    path: str
    format: str  # "npz", "npy", "folder", "keras" or "array"


class Run(TypedDict):
    model: str
    seed: int
    status: RunStatus
    key: str  # run_key(model, overrides, seed)
    overrides: dict[str, Any]  # the model settings this run's key varies ({} without a sweep)
    weights_scored: NotRequired[Literal["raw", "ema"]]
    error: NotRequired[str]  # why a failed run failed
    params: NotRequired[dict[str, int] | None]
    model_config: NotRequired[dict[str, Any] | None]
    steps_done: NotRequired[int | None]
    diverged_at: NotRequired[int | None]
    final: NotRequired[Metrics | None]
    best: NotRequired[Best | None]
    curves: NotRequired[Series | None]
    losses: NotRequired[Series | None]
    throughput: NotRequired[Throughput | None]
    nfe_sweep: NotRequired[NfeSweep | None]  # iterative models only (flow, ddpm)
    figures: NotRequired[dict[str, str] | None]  # figure name -> path inside the run folder
    weights: NotRequired[str | None]
    # "final" / "best" -> the generator exported as .keras, a path inside the run folder
    exported: NotRequired[dict[str, str] | None]
    source: NotRequired[Source | None]  # set for samples scored by ``score``: no training


class PublishedFigure(TypedDict):  # one figure of a paper's row, in the record's units
    mean: float
    spread: float | None  # null: the paper gives the mean alone
    spread_kind: Literal["s.e.", "s.d."] | None  # standard error, or deviation over runs
    runs: int


class Published(TypedDict):  # a row of the paper's table the run's preset reproduces
    source: str  # "Lin et al. 2018 (PacGAN), Table 1"
    label: str  # the paper's name for the row: "PacGAN2"
    model: str  # the model whose runs it sits beside
    settings: dict[str, Any]  # the model settings those runs have: {"pack": 2}
    metrics: dict[str, PublishedFigure]  # metric key -> the paper's figure


class Results(TypedDict):
    schema_version: int
    status: RecordStatus
    config: Config
    environment: Environment
    dataset: Dataset
    metrics: dict[str, MetricInfo]
    runs: list[Run]
    started: NotRequired[str | None]
    finished: NotRequired[str | None]
    command: NotRequired[str | None]
    classifier: NotRequired[Classifier | None]
    scoring: NotRequired[Scoring | None]
    floor: NotRequired[Metrics | None]  # real held-out data scored like a model
    notes: NotRequired[list[str] | None]
    published: NotRequired[list[Published] | None]  # optional since schema 3's first records


# ---- building records -------------------------------------------------------------------

def run_key(model: str, overrides: dict[str, Any], seed: int) -> str:
    """The id of one run: 'gan/s1', 'dcgan[lr=0.0001]/s0' (settings sorted by name).

    Values print as JSON (strings bare), so 1 and 1.0 are different keys: pass values of the
    type the model's Config declares.
    """
    settings = ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                        for k, v in sorted(overrides.items()))
    return f"{model}[{settings}]/s{seed}" if settings else f"{model}/s{seed}"


def new_results(*, command: str, config: Config, environment: Environment,
                dataset: Dataset) -> Results:
    """A record for a run that has just started: no classifier, metrics or runs yet.

    Values are made plain JSON first (tuples -> lists, numpy -> numbers, paths -> strings), so
    dataclasses.asdict(config) can be passed as it is.
    """
    return validate(_plain({
        "schema_version": SCHEMA_VERSION, "status": "running",
        "started": datetime.now().isoformat(timespec="seconds"), "finished": None,
        "command": command, "config": config, "environment": environment,
        "dataset": dataset, "classifier": {}, "metrics": {}, "floor": {}, "runs": [],
        "notes": [],
    }))


def metric_info(label: str, description: str, direction: Direction,
                target: float | None = None, *, short: str | None = None,
                section: Section | None = None, count: bool = False, summary: int | None = None,
                verdict: int | None = None) -> MetricInfo:
    """One entry of results["metrics"]: how the report names, places and ranks the metric."""
    info: MetricInfo = {"label": label, "short": short or label, "description": description,
                        "direction": direction, "section": section, "count": count,
                        "summary": summary, "verdict": verdict}
    if target is not None:
        info["target"] = target
    return info


def new_run(model: str, seed: int, *, overrides: dict[str, Any] | None = None,
            status: str = "finished", weights_scored: str = "raw", error: str | None = None,
            **fields: Any) -> Run:
    """A run record with every required field; fields are the optional ones (final=...).

    Values are made plain JSON first, as in new_results.
    """
    overrides = _plain(dict(overrides or {}))
    run = _plain({"model": model, "seed": seed, "status": status,
                  "key": run_key(model, overrides, seed), "overrides": overrides,
                  "weights_scored": weights_scored, **fields})
    if error is not None:
        run["error"] = error
    _check_types(run, Run, "run")
    _check_failed(run, "run")
    return run  # type: ignore[return-value]


# ---- paths a record names ---------------------------------------------------------------

def inside(rel: Any) -> bool:
    """Whether a path a record names (a run's figure) is one inside its run folder as written:
    relative, '/'-separated, with no '..'. A record is data: its paths are not trusted."""
    if not isinstance(rel, str) or not rel.strip() or "\\" in rel or "\0" in rel:
        return False
    path = PurePosixPath(rel)
    return not path.is_absolute() and ".." not in path.parts


def run_file(run_dir: str | Path, rel: Any) -> Path | None:
    """run_dir/rel when rel is inside the run folder (``inside``), resolves inside it (no link
    leads out) and is a file there; else None."""
    if not inside(rel):
        return None
    root = Path(run_dir).resolve()
    path = (root / rel).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


# ---- reading and checking ---------------------------------------------------------------

def load(path: str | Path) -> Results:
    """Read and validate a results.json (or a run folder holding one); migrate schemas 1, 2."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise RecordError(f"{path}: no such file; pass a run folder made by "
                          f"'python -m benchmarks run' (it holds {RESULTS_FILE})")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RecordError(f"{path}: cannot read it ({err.strerror})") from None
    try:
        results = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: not valid JSON ({err}); the run may have been cut off "
                          "while writing it: re-run the benchmark") from None
    try:
        return validate(results)
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from None


def validate(results: Any) -> Results:
    """Check every field's type; return the record (a schema-1 or -2 one as a migrated copy).

    Raises RecordError naming the first bad field, e.g. "runs[0].final must be an object or
    null, found str".
    """
    if not isinstance(results, dict):
        raise RecordError(f"a record must be a JSON object, found {found(results)}")
    version = results.get("schema_version")
    if version in migrate.OLDER_VERSIONS:
        results = migrate.upgrade(results, run_key)
    elif version != SCHEMA_VERSION:
        raise RecordError(_version_problem(version))
    _check_types(results, Results, "")
    for i, run in enumerate(results["runs"]):
        _check_failed(run, f"runs[{i}]")
    for key, info in results["metrics"].items():
        if info["direction"] == "target" and "target" not in info:
            raise RecordError(f"metrics.{key}.target is missing: a metric whose direction "
                              "is 'target' names its ideal value")
    return results  # type: ignore[return-value]


def _version_problem(version: Any) -> str:
    if is_a(version, int) and version > SCHEMA_VERSION:
        return (f"schema_version {version} is newer than this genbench reads (1 to "
                f"{SCHEMA_VERSION}); render it with the newer genbench that wrote it")
    if version is None:
        return ("schema_version is missing: this is not a record written by "
                "'python -m benchmarks run'; re-run the benchmark")
    return (f"schema_version {version!r} is not one this genbench reads (1 to "
            f"{SCHEMA_VERSION}); re-run the benchmark to write a current record")


def _check_types(value: Any, tp: Any, where: str) -> None:
    try:
        check(value, tp, where)
    except TypeCheckError as err:
        raise RecordError(str(err)) from None


def _check_failed(run: Run, where: str) -> None:
    if run["status"] == "failed" and not isinstance(run.get("error"), str):
        raise RecordError(f"{where}.error must be a string saying why the run failed, "
                          f"found {found(run.get('error')) if 'error' in run else 'nothing'}")


# ---- writing ----------------------------------------------------------------------------

def write(path: str | Path, results: dict) -> Path:
    """Validate, then write atomically (fsynced, mode 0644); NaN and infinity become null.

    Numpy scalars and arrays become plain numbers and lists, tuples lists, paths strings.
    """
    plain = validate(_plain(results))
    text = json.dumps(plain, indent=1, allow_nan=False, ensure_ascii=False)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not JSON: a missing figure
    return value
