"""What a run and a scoring record in results.json alike: the environment (backend, device,
versions) and the scoring space (the classifier, the metric table, small-data settings)."""

from __future__ import annotations

import platform
from importlib import metadata

from benchmarks import __version__
from benchmarks.backend import device_description


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def environment(backend: str) -> dict:
    return {
        "backend": backend,
        "device": device_description(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"genbench": __version__, "keras": _version("keras"),
                     "tensorflow": _version("tensorflow"), "jax": _version("jax"),
                     "numpy": _version("numpy"), "scikit-learn": _version("scikit-learn")},
    }


def record_scoring_space(results: dict, reference, ds, samples: int) -> None:
    """The classifier, each metric's description and report placing (from metrics.METRICS),
    and a small dataset's scoring settings with their notes, into ``results``."""
    import metrics
    from metrics.mode_collapse import NDB_CELLS
    from reports import schema

    # only the metrics this dataset's kind of scoring computes (metrics.applicable)
    results["metrics"] = {k: schema.metric_info(m.label, m.description, m.direction, m.target,
                                                short=m.short, section=m.section,
                                                count=m.count, summary=m.summary,
                                                verdict=m.verdict)
                          for k, m in metrics.applicable(reference.kind).items()}
    results["notes"] += [n for n in reference.notes if n not in results["notes"]]  # rebuilt cache
    if reference.kind == "mixture":  # scored by the mixture itself: no classifier, no cells
        results["classifier"] = None
        results["scoring"] = {"real_images": len(reference.train_images)}
        return
    # fractions in results.json (metrics keeps percent): 0.9944, not 99.44
    results["classifier"] = {"test_accuracy": reference.classifier_accuracy / 100,
                             "gate": reference.classifier_gate / 100,
                             "train_seconds": reference.classifier_train_seconds,
                             "gate_source": ds.gate_rule}
    # a small dataset's settings (fewer NDB cells, smaller k), recorded and said in the notes
    results["scoring"] = {"real_images": len(reference.real_features),
                          "ndb_cells": reference.ndb_cells,
                          "k_precision_recall": reference.k_precision_recall,
                          "k_density_coverage": reference.k_density_coverage}
    results["notes"] += [n for n in reference.caveats(samples) if n not in results["notes"]]
    if "ndb" in results["metrics"] and reference.ndb_cells != NDB_CELLS:
        results["metrics"]["ndb"]["description"] += (f" (here {reference.ndb_cells} cells: "
                                                     "a small dataset, see the notes)")
