"""The scoring space: what every figure of a run or a ``score`` is measured in. One rule
builds it (the real set holds min(samples, test split) images, so ``run``, its worker
processes and ``score`` of the same count share one cache entry): the reference (the dataset's
classifier and real statistics, the per-channel classifier, or the known mixture) and, for
results.json, its description: the metric table, the classifier, a small dataset's settings,
their notes and the real-data floor."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.errors import UserError


def build(ds, samples: int, *, cache_dir=None, note: Callable[[str], None] | None = None,
          results: dict | None = None):
    """The reference for ``samples`` samples of ``ds`` (built, or loaded from the cache);
    with ``results``, the scoring space written into that record too (the floor only where
    it has none yet: a resumed run keeps its own)."""
    import metrics

    try:
        reference = metrics.build_reference(ds, cache_dir=cache_dir,
                                            n=min(samples, len(ds.x_test)), note=note)
    except metrics.MetricsError as e:
        raise UserError(str(e)) from None
    if results is not None:
        _record(results, reference, ds, samples)
        if not results.get("floor"):
            results["floor"] = metrics.real_floor(reference, n=min(samples, len(ds.x_train)))
    return reference


def _record(results: dict, reference, ds, samples: int) -> None:
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
    # what this dataset's size, or the sample count, does to the figures
    results["notes"] += [n for n in reference.caveats(samples) if n not in results["notes"]]
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
    if "ndb" in results["metrics"] and reference.ndb_cells != NDB_CELLS:
        results["metrics"]["ndb"]["description"] += (f" (here {reference.ndb_cells} cells: "
                                                     "a small dataset, see the notes)")
