"""``score``: images made elsewhere scored with every metric a trained run gets, in the same
space (the dataset's cached classifier and reference statistics, chosen by the same rule as
``run``: the real set holds min(samples, test split) images), beside the same real-data
floor; its results.json is a run record whose runs say where their samples came from
(``source``) and hold no training fields, so ``report`` and ``compare`` read it as any run.

Rows and seeds: each SAMPLES is a row named after its file or folder; one ``--name`` makes
every SAMPLES a seed of that one row; one ``--name`` per SAMPLES names each, and SAMPLES
sharing a name are the seeds of one row (numbered 0, 1, ... in the order given), with the
report's intervals over seeds.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import samples as samples_io
from benchmarks import space, tracking
from benchmarks.errors import UserError
from benchmarks.trial import Scored, Trial, TrialSpec
from reports import REPORT_FILE, schema

GRID_IMAGES = 64  # the first images of each row, drawn as its sample grid
ROW_NAME = re.compile(r"[A-Za-z0-9_.#-]+")  # a --name: in file names and the report's keys


def row_names(paths: list[str], names: list[str]) -> list[tuple[str, int]]:
    """(row name, seed within the row) for each SAMPLES path, by the rule in the module doc."""
    if not names:
        stems = [_stem(p) for p in paths]
        return [(s if stems.count(s) == 1 else f"{s}#{i + 1}", 0) for i, s in enumerate(stems)]
    if len(names) == 1:
        names = names * len(paths)
    elif len(names) != len(paths):
        raise UserError(f"--name is given {len(names)} times for {len(paths)} SAMPLES; give it "
                        "once (every SAMPLES is a seed of one row) or once per SAMPLES")
    for name in names:
        if not ROW_NAME.fullmatch(name):
            raise UserError(f"--name {name!r} is not a row name; use only letters, digits "
                            "and - _ . # (e.g. --name dcgan-ema)")
    seen: dict[str, int] = {}
    out = []
    for name in names:
        out.append((name, seen.get(name, 0)))
        seen[name] = seen.get(name, 0) + 1
    return out


def row_tags(rows: list[tuple[str, int]]) -> list[str]:
    """Each row's file name ('mine-s0', its figures 'figures/mine-s0-samples.png'): its
    TrialSpec.tag, with '-2', '-3', ... after a tag an earlier row has (ignoring case, as some
    file systems do): 'a#1' and 'a_1' are both 'a_1-s0' as a file name."""
    tags: list[str] = []
    taken: set[str] = set()
    for name, seed in rows:
        tag = base = TrialSpec(name, {}, seed).tag
        n = 1
        while tag.lower() in taken:
            n += 1
            tag = f"{base}-{n}"
        taken.add(tag.lower())
        tags.append(tag)
    return tags


def _stem(path: str) -> str:
    p = Path(path)
    name = (p.resolve().name if p.is_dir() else p.stem) or "samples"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def check_shape_flags(ds, options: samples_io.Options) -> None:
    """--image-size/--channels bring the samples to the dataset's shape; they cannot change a
    named dataset's (an image folder dataset is loaded at them, as ``run`` does). A point
    dataset (ring, grid) is refused: ``score`` reads images."""
    if ds.holds == "points":
        raise UserError(f"score reads image samples; {ds.name} holds 2-d points, which `run "
                        f"--dataset {ds.name}` trains and scores by their mixture")
    h, w, c = ds.image_shape
    size, channels = options.image_size, options.channels
    if size is not None and (size, size) != (h, w):
        raise UserError(f"--image-size {size} does not match {ds.name}'s {h}x{w} images; "
                        f"samples are scored at the dataset's shape: pass --image-size {h}")
    if channels is not None and channels != c:
        raise UserError(f"--channels {channels} does not match {ds.name}'s {c}-channel images; "
                        f"samples are scored at the dataset's shape: pass --channels {c}")


def load_dataset(dataset: str, options: samples_io.Options, *, data_dir=None,
                 classifier_gate=None, cache_dir=None):
    """The dataset scored against. An image folder is loaded at --image-size/--channels, as
    ``run`` loads it; a named dataset (mnist, cifar10, ...) always at its own shape, the flags
    then bringing the samples to it (``check_shape_flags`` refuses flags that do not)."""
    from benchmarks import data

    is_folder = data.folder_path(dataset) is not None
    return data.load(dataset, data_dir, image_size=options.image_size if is_folder else None,
                     channels=options.channels if is_folder else None,
                     classifier_gate=classifier_gate, cache_dir=cache_dir)


def read_all(paths: list[str], ds, options: samples_io.Options | None = None
             ) -> list[samples_io.Samples]:
    """Every SAMPLES read and checked before any scoring: a bad one is one line, exit 2."""
    options = options or samples_io.Options()
    check_shape_flags(ds, options)
    return [samples_io.read(p, ds.image_shape, options) for p in paths]


def figures(images: np.ndarray, reference, timings: dict | None = None) -> dict:
    """``metrics.evaluate`` in full: every figure a trained run's final gets."""
    import metrics

    start = time.perf_counter()
    try:
        out = metrics.evaluate(images, reference)
    except metrics.MetricsError as e:
        raise UserError(str(e)) from None
    if timings is not None:
        timings["evaluate_s"] = time.perf_counter() - start
    return out


def score(samples, dataset: str = "mnist", *, data_dir=None, cache_dir=None,
          **options) -> dict:
    """The Python API (``benchmarks.score``): the figures of one sample set, as a run's final.

    ``samples``: an array (N, H, W[, C]), a path (.npz, .npy, .keras or an image folder) or a
    Keras model (noise in, images in [-1, 1] out). ``options``: the fields of
    ``samples.Options`` (value_range, n, seed, image_size, channels).
    """
    try:
        opts = samples_io.Options(**options)
    except TypeError as e:
        raise UserError(f"{e}; the options are value_range, n, seed, image_size, channels, "
                        "data_dir, cache_dir") from None
    if not isinstance(dataset, str | os.PathLike):  # None too: the dataset is said, not guessed
        from benchmarks import data

        raise UserError(f"dataset {dataset!r} is not a dataset; pass its name "
                        f"({', '.join(data.names())}) or an image folder's path")
    dataset = os.fspath(dataset)
    ds = load_dataset(dataset, opts, data_dir=data_dir, cache_dir=cache_dir)
    check_shape_flags(ds, opts)
    got = from_object(samples, ds.image_shape, opts)
    return figures(got.images, space.build(ds, len(got.images), cache_dir=cache_dir))


def from_object(obj, image_shape, options: samples_io.Options) -> samples_io.Samples:
    """A path, an array or a Keras model as checked Samples (the API's inputs)."""
    if isinstance(obj, str | Path):
        return samples_io.read(obj, image_shape, options)
    if hasattr(obj, "predict") and hasattr(obj, "inputs"):  # a keras.Model
        where = "the generator"
        images, rule = samples_io.generate(obj, where, image_shape, options)
        fmt = "keras"
    else:
        try:
            raw = np.asarray(obj)
        except (ValueError, TypeError) as e:  # ragged lists, objects numpy cannot convert
            raise UserError(f"the {type(obj).__name__} given as samples is not an array of "
                            f"images ({e}); pass an N x H x W x C numpy array, a path or a "
                            "Keras generator") from None
        where = f"the {type(obj).__name__} of shape {raw.shape}"
        if raw.ndim == 3:
            raw = raw[..., None]
        if raw.ndim != 4 or raw.shape[-1] not in (1, 3):
            raise UserError(f"{where} is not N x H x W x C images (C 1 or 3) or N x H x W ones")
        if options.n is not None:
            raw = raw[:options.n]
        images, rule = samples_io.to_unit_range(raw, options.value_range, where)
        fmt = "array"
    images, done = samples_io.reshape(images, image_shape, options, where)
    return samples_io.Samples(images, f"<{fmt}>", fmt, rule, "; ".join(done))


# ---- the command ------------------------------------------------------------------------

def run_score(paths: list[str], options: samples_io.Options, *, dataset: str,
              names: list[str], out: str | None, data_dir=None, cache_dir=None,
              classifier_gate=None, console, backend: str,
              tracker: str = "none") -> tuple[Path, dict, int]:
    """Read and check every SAMPLES, score each, write results.json and report.md; each
    row's figures to the trackers (``--tracker``) too.

    Returns (the report's path, the record, the exit status: 0, or a signal's).
    """
    from benchmarks.folder import RunFolder, check_free
    from benchmarks.signals import SIGNALS, TRAIN

    signals = SIGNALS.start()  # a signal before the folder exists stops at once
    rows = row_names(paths, names)
    check_free(out)
    trackers, parent = tracking.parse(tracker), [None]
    tracking.check(trackers, Path(out or "runs/new"))
    ds = load_dataset(dataset, options, data_dir=data_dir, classifier_gate=classifier_gate,
                      cache_dir=cache_dir)
    got = read_all(paths, ds, options)
    record = new_record(ds, rows, got, backend=backend, data_dir=data_dir)
    folder = RunFolder.create(out, f"score-{ds.name}", signals, again=score_hint,
                              subfolders=("figures",))
    folder.results = record  # from here on a stop is recorded (work), or the folder taken back

    def score_rows() -> None:
        folder.write()
        count = max(len(s.images) for s in got)
        console.info(f"dataset {ds.name} from {ds.source}; scoring space: loading or "
                     "training the dataset classifier ...")
        reference = space.build(ds, count, cache_dir=cache_dir, note=console.loud,
                                results=folder.results)
        if len({len(s.images) for s in got}) > 1:
            folder.note("the sample sets differ in size; FID is biased by sample count, so "
                        "compare rows of equal size (KID is not)")
        folder.write()
        signals.mode = TRAIN  # a first signal stops after the row being scored
        for (name, row_seed), tag, s in zip(rows, row_tags(rows), got, strict=True):
            if signals.requested:
                signals.stop()
            trial = score_row(name, row_seed, tag, s, reference, folder.path)
            folder.results["runs"].append(trial.record())
            for note in tracking.scored(trackers, folder.path, trial, tag, s.images[:8],
                                        parent[0], console):
                folder.note(note)
            folder.write()
            final = folder.results["runs"][-1]["final"]
            console.info(f"{name} seed {row_seed} ({s.path}): FID {final['fid']:.2f}, modes "
                         f"{final['modes_covered']:.0f}/{ds.num_classes}")

    with folder.full_disk():  # the MLflow parent run, once the folder holds a record
        trackers, parent[0], note = tracking.start(trackers, folder.path, " ".join(sys.argv))
        if note:
            folder.note(note)
        status = folder.work(score_rows)
    note = tracking.end(folder.path, parent[0], folder.results.get("status", "failed"))
    if note:
        console.loud(note)
    return folder.path / REPORT_FILE, folder.results, status


def score_hint(folder: Path) -> str:
    """How a stopped ``score`` is finished: its folder holds a record now, kept as it is."""
    return f"score them again into a new folder with --out DIR ({folder} is kept)"


def score_row(name: str, row_seed: int, tag: str, s: samples_io.Samples, reference,
              folder: Path) -> Trial:
    """One SAMPLES scored, its sample grid drawn as figures/TAG-samples.png (``row_tags``): a
    trial with no training."""
    from reports import images as fig

    scores = figures(s.images, reference)
    fig.sample_grid(s.images[:GRID_IMAGES], folder / "figures" / f"{tag}-samples.png")
    return Trial(TrialSpec(name, {}, row_seed), "finished", source=s.source(),
                 final=Scored(scores, f"figures/{tag}-samples.png"))


def new_record(ds, rows, got, *, backend: str, data_dir) -> dict:
    from benchmarks import results

    models = list(dict.fromkeys(name for name, _ in rows))
    seeds = max(sum(1 for n, _ in rows if n == m) for m in models)
    return results.new_record(ds, {
        "models": models, "dataset": ds.request or ds.name, "data_dir": data_dir,
        "backend": backend, "preset": "score", "seeds": seeds,
        "samples": max(len(s.images) for s in got),
        "preset_about": "samples scored as they are: nothing trained"}, backend)


def json_summary(results: dict, folder: Path) -> dict:
    """What ``--json`` prints: each row's figures, the floor, and where the record is."""
    return {"dataset": results["dataset"]["name"],
            "results": str(folder / schema.RESULTS_FILE),
            "runs": [{"name": r["model"], "seed": r["seed"], "path": r["source"]["path"],
                      "format": r["source"]["format"], "figures": r["final"]}
                     for r in results["runs"]],
            "floor": results["floor"]}
