"""Metrics for generated images, in the feature space of a per-dataset classifier.

    reference = build_reference(dataset)        # once per dataset; cached on disk
    figures = evaluate(samples, reference)      # {key in METRICS: float, "class_histogram"}
    floor = real_floor(reference)               # the same figures for real images

Never imports ``benchmarks``: a dataset is any object with name, checksum, num_classes,
x_train, y_train, x_test, y_test (images (N, H, W, C) in [-1, 1], any size and channel
count), and classifier_gate (percent test accuracy the classifier must reach; the dataset owns
it, ``build_reference(gate=...)`` overrides it). A dataset may instead say how else it is
scored: ``mixture`` (a ``metrics.mixture.Mixture``: points (N, D) scored by the mixture they
were drawn from, no classifier) or ``channel_dataset`` (Stacked MNIST: the classifier of that
one-channel dataset labels each channel). ``applicable(reference.kind)`` lists the metrics
each kind gets.
"""

from metrics.classifier import Classifier
from metrics.errors import ClassifierGateError, MetricsError
from metrics.evaluate import MIN_SAMPLES, evaluate, real_floor
from metrics.info import (
    FAST_KEYS,
    FID_INTERVAL_KEYS,
    METRICS,
    RECONSTRUCTION_KEYS,
    MetricInfo,
    applicable,
    fast_keys,
)
from metrics.reference import PointsReference, Reference, build_reference

__all__ = [
    "FAST_KEYS", "FID_INTERVAL_KEYS", "METRICS", "MIN_SAMPLES", "RECONSTRUCTION_KEYS", "Classifier",
    "ClassifierGateError", "MetricInfo", "MetricsError", "PointsReference", "Reference",
    "applicable", "build_reference", "fast_keys",
    "evaluate", "real_floor",
]
