"""The dataset classifier: gate, cache, and evaluate() input checks, on the tiny digits set.

Digits needs no files, so a real classifier is trained on it everywhere (about a minute on 2
CPU cores), once per session, into the session's cache.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import metrics
from metrics import cache, classifier
from metrics.errors import ClassifierGateError, MetricsError


@pytest.fixture(scope="module")
def cache_dir(classifier_cache):
    # the session's cache: digits' classifier is trained once per session (CI's starts empty,
    # so training runs there), by this module or the first other test that needs it
    return classifier_cache


@pytest.fixture(scope="module")
def reference(digits_dataset, cache_dir):
    return metrics.build_reference(digits_dataset, cache_dir=cache_dir)


@pytest.mark.slow
def test_digits_classifier_passes_its_gate(reference, cache_dir):
    assert reference.classifier_gate == 95.0
    assert reference.classifier_accuracy >= reference.classifier_gate
    meta = json.loads((Path(cache_dir) / "classifier" / reference.classifier.key
                       / classifier.META).read_text())
    assert meta["train_seconds"] > 0 and meta["test_accuracy"] >= 95.0  # trained, not shipped


@pytest.mark.slow
def test_second_build_loads_the_cache(reference, digits_dataset, cache_dir):
    again = metrics.build_reference(digits_dataset, cache_dir=cache_dir)
    assert again.classifier_train_seconds == 0.0
    assert again.classifier_accuracy == reference.classifier_accuracy
    np.testing.assert_array_equal(again.mu, reference.mu)
    x = digits_dataset.x_test[:64]
    np.testing.assert_allclose(again.classifier(x).features, reference.classifier(x).features,
                               atol=1e-5)


@pytest.mark.slow
def test_features_do_not_depend_on_batch_size(reference, digits_dataset):
    x = digits_dataset.x_test[:300]
    big, small = reference.classifier(x, batch_size=1000), reference.classifier(x, batch_size=32)
    np.testing.assert_allclose(big.features, small.features, atol=1e-4)
    np.testing.assert_allclose(big.probabilities.sum(axis=1), 1.0, atol=1e-9)


def test_gate_error_messages():
    network = classifier.build_network(10, (28, 28, 1))

    def trained(accuracy, train_images):
        return classifier.Classifier(network, "mnist", accuracy, 1.0, "mnist-abc", gate=99.0,
                                     train_images=train_images)

    # a valid 1,000-image subset of MNIST reaches ~91 %: the data is too small, not the network
    with pytest.raises(ClassifierGateError, match=(
            r"^classifier for mnist reached 91\.40% test accuracy < its gate 99\.0%, so scores "
            r"in its feature space would not be trustworthy: the training split \(1,000 images\) "
            r"is too small to reach the gate; use the full dataset, or lower the gate with "
            r"--classifier-gate$")):
        trained(91.4, 1000).check_gate()
    with pytest.raises(ClassifierGateError, match=r"60,000 images|network is too weak"):
        trained(97.5, 60000).check_gate()
    assert isinstance(ClassifierGateError("x"), MetricsError)
    trained(99.0, 1000).check_gate()  # at the gate: fine


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    assert cache.default_cache_dir() == tmp_path
    assert cache.default_cache_dir("/elsewhere") == Path("/elsewhere")
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.default_cache_dir().parts[-2:] == (".cache", "genbench")


@pytest.mark.parametrize("bad,message", [
    (np.zeros((100, 32, 32, 1), np.float32), "shape"),
    (np.zeros((100, 28, 28, 3), np.float32), "shape"),
    (np.zeros((100, 784), np.float32), "shape"),
    (np.full((100, 28, 28, 1), "a"), "dtype"),
    (np.full((100, 28, 28, 1), 255.0), r"expected images in \[-1, 1\]"),
])
def test_check_images_rejects_bad_shapes_and_types(bad, message):
    with pytest.raises(MetricsError, match=message):
        classifier.check_images(bad, (28, 28, 1))


def test_check_images_rejects_nan_and_names_how_many():
    x = np.zeros((100, 28, 28, 1), np.float32)
    x[[3, 7], 0, 0, 0] = np.nan
    with pytest.raises(MetricsError, match="2 of 100 samples contain NaN"):
        classifier.check_images(x, (28, 28, 1))
    assert classifier.check_images(np.zeros((5, 28, 28)), (28, 28, 1)).shape == (5, 28, 28, 1)


@pytest.mark.slow
def test_evaluate_rejects_bad_input(reference):
    with pytest.raises(MetricsError, match="shape"):
        metrics.evaluate(np.zeros((500, 32, 32, 1), np.float32), reference)
    nan = np.zeros((500, 28, 28, 1), np.float32)
    nan[0] = np.nan
    with pytest.raises(MetricsError, match="NaN"):
        metrics.evaluate(nan, reference)
    with pytest.raises(MetricsError, match="at least 50"):
        metrics.evaluate(np.zeros((10, 28, 28, 1), np.float32), reference)


@pytest.mark.slow
def test_evaluate_keys_are_constant(reference, digits_dataset):
    x = digits_dataset.x_train[:200]
    full = metrics.evaluate(x, reference)
    expected = set(metrics.applicable("classifier")) - set(metrics.RECONSTRUCTION_KEYS)
    assert set(full) == expected | {"class_histogram"}
    assert all(isinstance(full[k], float) for k in expected)
    assert sum(full["class_histogram"]) == pytest.approx(1.0)
    with_recon = metrics.evaluate(x, reference, reconstructions=(x, x * 0.9))
    assert set(with_recon) == set(metrics.applicable("classifier")) | {"class_histogram"}
    assert with_recon["recon_mse"] == pytest.approx(float(np.mean((0.1 * x) ** 2)), rel=1e-5)
    fast = metrics.evaluate(x, reference, fast=True)
    assert set(fast) == set(metrics.FAST_KEYS) | {"class_histogram"}
    assert fast["fid"] == full["fid"]


@pytest.mark.slow
def test_digits_real_floor_beats_noise(reference):
    floor = metrics.real_floor(reference)
    noise = np.random.default_rng(0).uniform(-1, 1, (500, 28, 28, 1)).astype(np.float32)
    assert 10 * floor["fid"] < metrics.evaluate(noise, reference)["fid"]
    assert floor["modes_covered"] == 10.0


JAX_SCRIPT = """
import sys
import numpy as np
import keras
from benchmarks import data
from metrics import cache, classifier
assert keras.backend.backend() == "jax"
c = classifier.load_or_train(data.load("digits"), cache_dir=sys.argv[1])
assert c.train_seconds == 0.0, "expected the tensorflow-trained weights from the cache"
np.save(sys.argv[2], c(data.load("digits").x_test[:64]).features)
"""


@pytest.mark.slow
@pytest.mark.jax
def test_cached_classifier_gives_the_same_features_on_jax(reference, digits_dataset, cache_dir,
                                                           tmp_path, jax_worker):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install -e '.[jax]')")
    out = tmp_path / "features.npy"
    jax_worker.run(JAX_SCRIPT, cache_dir, out, timeout=300)
    expected = reference.classifier(digits_dataset.x_test[:64]).features
    np.testing.assert_allclose(np.load(out), expected, atol=1e-4)


def test_the_shipped_entries_are_sealed_and_keyed_to_this_network():
    """MNIST's and Fashion-MNIST's classifiers ship with the package; a changed network
    (ARCH_VERSION) fails here until they are trained and shipped again."""
    entries = sorted(classifier.SHIPPED.iterdir())
    assert [json.loads((e / classifier.META).read_text())["dataset"] for e in entries] == [
        "fashion-mnist", "mnist"]
    for entry in entries:
        assert cache.check_entry(entry, (classifier.WEIGHTS, classifier.META)) is None, entry
        meta = json.loads((entry / classifier.META).read_text())
        assert meta["arch_version"] == classifier.ARCH_VERSION and meta["seed"] == 0
        assert entry.name == (f"{meta['dataset']}-{meta['checksum'][:16]}"
                              f"-arch{classifier.ARCH_VERSION}-seed0")


@pytest.mark.slow
def test_a_shipped_entry_seeds_an_empty_cache_and_a_damaged_one_is_not_copied(
        reference, digits_dataset, cache_dir, tmp_path, monkeypatch):
    key = classifier.cache_key(digits_dataset, 0)
    shipped = tmp_path / "shipped"
    shutil.copytree(cache_dir / "classifier" / key, shipped / key)  # trained by `reference`
    monkeypatch.setattr(classifier, "SHIPPED", shipped)
    fresh = tmp_path / "fresh"
    loaded = classifier.load_or_train(digits_dataset, cache_dir=fresh)
    assert loaded.train_seconds == 0.0 and loaded.notes == []  # copied, not trained
    assert loaded.weights_sha256 == cache.sha256(shipped / key / classifier.WEIGHTS)
    assert loaded.accuracy == pytest.approx(reference.classifier_accuracy, abs=0.5)
    assert cache.check_entry(fresh / "classifier" / key,
                             (classifier.WEIGHTS, classifier.META)) is None
    (shipped / key / classifier.WEIGHTS).write_bytes(b"damaged")
    target = tmp_path / "other" / "classifier" / key
    reason = classifier._seed_from_shipped(target)
    assert reason.startswith("checksum mismatch in") and not target.exists()
