"""Metrics for generated images, in the feature space of a per-dataset classifier.

    reference = build_reference(dataset)        # once per dataset; cached on disk
    figures = evaluate(samples, reference)      # {key in METRICS: float, "class_histogram"}
    floor = real_floor(reference)               # the same figures for real images

Never imports ``benchmarks``: a dataset is any object with name, checksum, num_classes,
x_train, y_train, x_test, y_test (images (N, H, W, C) in [-1, 1], any size and channel
count), and classifier_gate (percent test accuracy the classifier must reach; the dataset owns
it, ``build_reference(gate=...)`` overrides it).
"""

from metrics.classifier import Classifier
from metrics.errors import ClassifierGateError, MetricsError
from metrics.evaluate import MIN_SAMPLES, evaluate, real_floor
from metrics.info import FAST_KEYS, FID_INTERVAL_KEYS, METRICS, RECONSTRUCTION_KEYS, MetricInfo
from metrics.reference import Reference, build_reference

__all__ = [
    "FAST_KEYS", "FID_INTERVAL_KEYS", "METRICS", "MIN_SAMPLES", "RECONSTRUCTION_KEYS", "Classifier",
    "ClassifierGateError", "MetricInfo", "MetricsError", "Reference", "build_reference",
    "evaluate", "real_floor",
]
