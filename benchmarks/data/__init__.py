"""Datasets: every one loads as float32 images in [-1, 1], NHWC (N, H, W, C), or as float32
points (N, D) (the 2-D mixtures), int64 labels, and describes itself (shape, class names,
source, its scoring classifier's gate, or how else it is scored).

Where each concept lives: ``spec`` (what a dataset is, the default gate rule), ``registry``
(the named datasets and image folders), ``locate`` (where files are looked for, the download),
``idx`` (MNIST's file format and checksums), ``cifar`` (CIFAR-10's batches), ``digits`` (the
embedded fallback), ``folder`` and ``folder_cache`` (your own labelled images), ``stacked``
(Stacked MNIST from the MNIST files), ``points`` (the 2-D ring and grid, generated).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.data.idx import SPLIT_FILES
from benchmarks.data.idx import complete_folder as _idx_folder_complete
from benchmarks.data.locate import data_dir_setting, offline
from benchmarks.data.registry import (
    DEFAULT_DATASET,
    FALLBACK_DATASET,
    FOLDER_PREFIX,
    folder_path,
    names,
    spec,
)
from benchmarks.data.spec import (
    DATA_DIR_ENV,
    OFFLINE_ENV,
    DataError,
    DataNotFound,
    Dataset,
    DatasetSpec,
    Found,
    chance_gate,
    check_minimum,
)

__all__ = [
    "DATA_DIR_ENV", "DEFAULT_DATASET", "FALLBACK_DATASET", "FOLDER_PREFIX", "OFFLINE_ENV",
    "SPLIT_FILES", "Availability", "DataError", "DataNotFound", "Dataset", "DatasetSpec",
    "Found", "_idx_folder_complete", "chance_gate", "check", "check_minimum", "folder_path",
    "load", "locate", "names", "on_the_fly", "spec",
]


def on_the_fly(ds: Dataset) -> Dataset:
    """``ds`` as a run that draws its training images on the fly trains on it (``--draw
    on-the-fly``): the same dataset, scored the same way, its source line saying how the
    training images are drawn; a DataError (one line) when its images are not stacked."""
    if not ds.stack:
        raise DataError(f"training images drawn on the fly (--draw on-the-fly, the "
                        f"pacgan-table3 presets' default) are stacked from digits (--dataset "
                        f"stacked-mnist); {ds.name} is not stacked: pass --draw fixed")
    parts = ds.channel_dataset
    return replace(ds, source=(
        f"{ds.source}; training images drawn on the fly: each {ds.stack} of {parts.name}'s "
        f"{len(parts.x_train):,} training images as its channels, uniform with replacement, "
        f"fresh every batch (its {len(ds.x_train):,} fixed training images are not trained on)"))


def locate(name: str, data_dir: str | Path | None = None, *, download: bool = True,
           image_size: int | None = None, channels: int | None = None, cache_dir=None):
    """Where ``name`` would load from, without loading: (Found or None, places tried)."""
    s = spec(name, image_size=image_size, channels=channels, cache_dir=cache_dir)
    found, tried = s.locate(data_dir_setting(data_dir))
    if not download and found is not None and found.source == "download":
        return None, tried
    return found, tried


def load(name: str | None = None, data_dir: str | Path | None = None, *,
         image_size: int | None = None, channels: int | None = None,
         classifier_gate: float | None = None, cache_dir=None) -> Dataset:
    """Load ``name`` (a dataset name, ``folder:PATH`` or a folder path); with ``name=None``
    load MNIST, or fall back to digits and say so. ``classifier_gate`` (percent) overrides the
    dataset's own gate, and the dataset's ``gate_rule`` says so."""
    explicit = name is not None
    name = name or DEFAULT_DATASET
    found, tried = locate(name, data_dir, image_size=image_size, channels=channels,
                          cache_dir=cache_dir)
    try:
        if found is None:
            raise DataNotFound(name, tried)
        ds = found.load()
    except DataNotFound as e:
        if explicit:
            raise
        ds = load(FALLBACK_DATASET, classifier_gate=classifier_gate)
        ds.note = (f"FELL BACK TO '{FALLBACK_DATASET}': {name} was not found (tried: "
                   f"{'; '.join(e.tried)}). Pass --data-dir or --dataset to choose.")
        return ds
    if classifier_gate is not None:
        ds = replace(ds, classifier_gate=float(classifier_gate),
                     gate_rule=f"--classifier-gate {classifier_gate:g} % (the dataset's own: "
                               f"{ds.gate_rule})")
    return ds


@dataclass(frozen=True)
class Availability:
    """One row of ``python -m benchmarks data``."""

    name: str
    available: bool
    source: str  # where the copy is, or "" when none was usable
    detail: str  # the loaded shape and counts, or why not (places tried, the error)
    description: str


def check(name: str, data_dir: str | Path | None = None, **options) -> Availability:
    """Is ``name`` usable here? A found copy is loaded and checked as ``run`` would, so a
    corrupt or too small copy is "no", with the reason; an image folder named by its path
    that ``run`` would refuse raises the same one-line DataError."""
    s = spec(name, **options)
    found, tried = locate(name, data_dir, download=False, **options)
    if found is None:
        hint = "" if offline() else " (download possible if online)"
        return Availability(s.name, False, "", "tried: " + "; ".join(tried) + hint,
                            s.description)
    try:
        ds = found.load()
        check_minimum(ds)
    except DataError as e:
        if folder_path(name) is not None:  # a folder named by path is refused as run does
            raise
        return Availability(s.name, False, found.source, str(e), s.description)
    shape = "x".join(map(str, ds.image_shape))
    if ds.holds == "points":
        detail = (f"{len(ds.x_train):,} train / {len(ds.x_test):,} test, {shape}-d points, "
                  f"{ds.num_classes} components; scored by {ds.scored_by}")
    else:
        scored = "" if ds.channel_dataset is None else f", scored by {ds.scored_by}"
        detail = (f"{len(ds.x_train):,} train / {len(ds.x_test):,} test, {shape}, "
                  f"{ds.num_classes} classes; gate {ds.classifier_gate:g} %{scored}")
    return Availability(ds.name, True, found.source, detail, s.description)
