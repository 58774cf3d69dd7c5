"""Fashion-MNIST classifier gate (trains once, ~2 minutes on 2 CPU cores, then cached)."""

import pytest

from metrics import classifier
from tests.metrics_fixtures import real_dataset


@pytest.mark.slow
def test_fashion_mnist_classifier_passes_its_gate():
    fashion = real_dataset("fashion-mnist")
    trained = classifier.load_or_train(fashion, check_gate=False)
    assert trained.gate == 90.0
    assert trained.accuracy >= trained.gate
