"""Classifier score: the Inception score with the dataset classifier in place of Inception."""

from __future__ import annotations

import numpy as np

from metrics.errors import MetricsError


def classifier_score(probabilities: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over the samples.

    Ranges from 1 (every sample gets the same class distribution) to the number of classes
    (confident predictions, classes used equally often).
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise MetricsError(f"class probabilities must be (N, classes); got shape {p.shape}")
    marginal = p.mean(axis=0, keepdims=True)
    # 0 * log 0 = 0: a class with p(y|x) = 0 contributes nothing to that sample's KL
    terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))
