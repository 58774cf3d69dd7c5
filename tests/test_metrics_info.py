"""The metric table (metrics/info.py): each metric described once, and evaluate() running it.

evaluate() is scored here with a stand-in reference whose classifier returns fixed outputs, so
what is checked is the table's machinery (which rows run, a group's function once); every
metric's own figure is tested against hand values in its concept's test file, and the real
pipeline in test_metrics_classifier.py.
"""

import sys

import numpy as np
import pytest

import metrics
from metrics.classifier import Outputs
from metrics.info import METRICS, MetricInfo


def test_metric_table_is_well_formed():
    for key, info in METRICS.items():
        assert info.key == key and info.label and info.description
        assert info.direction in ("lower", "higher", "target")
        assert (info.target is not None) == (info.direction == "target")
        assert info.section in (None, "mode_collapse", "diversity")
        assert info.scoring and set(info.scoring) <= {"classifier", "per_channel", "mixture"}
    assert set(metrics.FAST_KEYS) <= set(METRICS)
    for kind in ("classifier", "per_channel", "mixture"):
        rows = metrics.applicable(kind).values()
        for place in ("summary", "verdict"):
            # 1, 2, ... no gaps among what one kind of dataset shows; Stacked MNIST's triples
            # share the places of the class figures they stand beside (table order breaks ties)
            places = sorted({getattr(m, place) for m in rows if getattr(m, place) is not None})
            assert places == list(range(1, len(places) + 1)), (kind, place)
        assert metrics.fast_keys(kind) and set(metrics.fast_keys(kind)) <= set(METRICS)
    # an image dataset scored by its own classifier gets exactly the figures it always had
    assert not {"modes_1000", "mixture_modes"} & set(metrics.applicable("classifier"))
    assert {"modes_1000", "kl_triples", "fid"} <= set(metrics.applicable("per_channel"))
    assert set(metrics.applicable("mixture")) == {"mixture_modes", "high_quality", "reverse_kl",
                                                  "log_likelihood"}
    # the verdict ranks by a metric with a better direction, never a "target" one
    assert all(m.direction != "target" for m in METRICS.values() if m.verdict)
    # rows that share a group's function run it once: they must be wanted together
    groups: dict = {}
    for m in METRICS.values():
        groups.setdefault(m.compute, set()).add((m.fast, m.from_reconstructions))
    assert all(len(flags) == 1 for flags in groups.values())


class StandIn:
    """What evaluate() reads of a Reference before any metric runs."""

    image_shape = (4, 4, 1)
    num_classes = 3
    seed = 0
    kind = "classifier"

    def histogram(self, x):
        return x.shares

    def classifier(self, samples):
        n = len(samples)
        return Outputs(np.zeros((n, 2), np.float32), np.eye(3, dtype=np.float32)[np.arange(n) % 3])


def test_evaluate_runs_every_row_of_the_table_and_a_group_once(monkeypatch):
    calls = []

    def group(x):
        calls.append("group")
        return {"first": 1.0, "second": 2.0}

    def fast_one(x):
        return float(len(x.samples))

    def recon(x):
        originals, reconstructed = x.reconstructions
        return float(np.abs(originals - reconstructed).max())

    table = {m.key: m for m in (
        MetricInfo("fast_one", "Fast", "the sample count", "higher", fast_one, fast=True),
        MetricInfo("first", "First", "a group's first", "lower", group),
        MetricInfo("second", "Second", "a group's second", "lower", group),
        MetricInfo("recon", "Recon", "largest reconstruction error", "lower", recon,
                   from_reconstructions=True),
    )}
    # evaluate runs the rows info.applicable reads from the module's table: patch it there
    monkeypatch.setattr(sys.modules["metrics.info"], "METRICS", table)
    samples = np.zeros((60, 4, 4, 1), np.float32)
    shares = [pytest.approx(1 / 3)] * 3  # outputs cycle through the 3 classes

    full = metrics.evaluate(samples, StandIn())
    assert full == {"fast_one": 60.0, "first": 1.0, "second": 2.0, "class_histogram": shares}
    assert calls == ["group"]  # one call for both of its rows

    fast = metrics.evaluate(samples, StandIn(), fast=True)
    assert fast == {"fast_one": 60.0, "class_histogram": shares}

    given = (samples, samples + 0.25)
    with_recon = metrics.evaluate(samples, StandIn(), reconstructions=given, fast=True)
    assert with_recon == {"fast_one": 60.0, "recon": 0.25, "class_histogram": shares}

