"""Fashion-MNIST classifier gate (trains once, ~2 minutes on 2 CPU cores, then cached)."""

import pytest

from metrics import classifier


@pytest.mark.slow
def test_fashion_mnist_classifier_passes_its_gate(real_dataset):
    fashion = real_dataset("fashion-mnist")
    trained = classifier.load_or_train(fashion, check_gate=False)
    assert trained.gate == classifier.gate_for(fashion) == 90.0
    assert trained.accuracy >= trained.gate
