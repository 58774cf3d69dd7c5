"""The classifiers shipped for MNIST and Fashion-MNIST (metrics/classifiers/), on the real
files: an empty cache is seeded with them, not trained, and each passes its gate on the real
test split (measured again here, as every load does)."""

import pytest

from metrics import cache, classifier


@pytest.mark.slow
@pytest.mark.parametrize("name, gate", [("mnist", 99.0), ("fashion-mnist", 90.0)])
def test_the_shipped_classifier_seeds_an_empty_cache_and_passes_its_gate(real_dataset, tmp_path,
                                                                         name, gate):
    dataset = real_dataset(name)
    loaded = classifier.load_or_train(dataset, cache_dir=tmp_path, check_gate=False)
    shipped = classifier.SHIPPED / classifier.cache_key(dataset, 0)
    assert loaded.train_seconds == 0.0 and loaded.notes == []  # copied, not trained
    assert loaded.weights_sha256 == cache.sha256(shipped / classifier.WEIGHTS)
    assert loaded.gate == classifier.gate_for(dataset) == gate
    assert loaded.accuracy >= loaded.gate
