"""Classifier score (Inception-score style) against closed forms and a hand-worked case."""

import numpy as np
import pytest

from metrics.errors import MetricsError
from metrics.scores import classifier_score


@pytest.mark.parametrize("classes", [2, 4, 10])
def test_confident_predictions_spread_evenly_score_the_number_of_classes(classes):
    # each sample certain of its class, every class equally often: p(y) is uniform, so each
    # sample's KL(p(y|x) || p(y)) = ln(classes) and the score is exp(ln classes) = classes
    probabilities = np.tile(np.eye(classes), (3, 1))
    assert classifier_score(probabilities) == pytest.approx(classes, rel=1e-12)


def test_identical_predictions_score_one():
    # p(y|x) = p(y) for every sample: every KL is 0, the score exp(0) = 1
    probabilities = np.tile([0.2, 0.3, 0.5], (7, 1))
    assert classifier_score(probabilities) == pytest.approx(1.0, abs=1e-12)


def test_hand_worked_soft_predictions():
    # two samples (0.9, 0.1) and (0.1, 0.9): p(y) = (0.5, 0.5); each KL(p(y|x) || p(y)) =
    # 0.9 ln 1.8 + 0.1 ln 0.2 = 0.368064; score exp(0.368064) = 1.444935.
    # (The reversed KL(p(y) || p(y|x)) = 0.5 ln(5/9) + 0.5 ln 5 = 0.510826 would give 1.6667.)
    expected = np.exp(0.9 * np.log(1.8) + 0.1 * np.log(0.2))
    got = classifier_score(np.array([[0.9, 0.1], [0.1, 0.9]]))
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(1.444935, abs=1e-6)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((0, 3)), np.zeros((2, 2, 2))])
def test_bad_probabilities_raise(bad):
    with pytest.raises(MetricsError, match="class probabilities"):
        classifier_score(bad)
