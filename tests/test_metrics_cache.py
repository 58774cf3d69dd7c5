"""The classifier and reference cache, the accuracy gate and any image shape, on tiny sets.

The datasets here are synthetic (a bright square per class, in a place of its own), so a
classifier trains in seconds and every damaged-cache case runs without real data.
"""

import hashlib
import json
import shutil
from dataclasses import dataclass

import keras
import numpy as np
import pytest

import metrics
from metrics import classifier, reference
from metrics.errors import ClassifierGateError, MetricsError


@dataclass
class TinySet:
    """The dataset-like object metrics accept: name, checksum, splits, num_classes."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    checksum: str
    num_classes: int
    classifier_gate: float | None = None


def tiny_set(shape=(8, 8, 1), classes=3, n_train=1200, n_test=150, seed=0, gate=60.0,
             name="tiny") -> TinySet:
    rng = np.random.default_rng(seed)
    h, w, _ = shape

    def split(n):
        y = np.arange(n) % classes
        x = rng.normal(-0.6, 0.15, size=(n, *shape))
        for c in range(classes):  # class c lights a square on the diagonal, its own place
            top = c * (h - h // 3) // max(classes - 1, 1)
            left = c * (w - w // 3) // max(classes - 1, 1)
            x[y == c, top:top + h // 3, left:left + w // 3, :] += 1.2
        return np.clip(x, -1, 1).astype(np.float32), y.astype(np.int64)

    x_train, y_train = split(n_train)
    x_test, y_test = split(n_test)
    checksum = hashlib.sha256(x_train.tobytes() + x_test.tobytes()).hexdigest()
    return TinySet(name, x_train, y_train, x_test, y_test, checksum, classes, gate)


@pytest.fixture(autouse=True)
def _short_training(monkeypatch):
    # ~120 steps (BN statistics need them) separate the squares; the real budget (400+ steps) is for real data
    monkeypatch.setattr(classifier, "MIN_STEPS", 120)
    monkeypatch.setattr(classifier, "EPOCHS", 1)
    monkeypatch.setattr(classifier, "BATCH_SIZE", 32)


@pytest.fixture(scope="module")
def tiny():
    return tiny_set()


@pytest.fixture(scope="module")
def clean_cache(tmp_path_factory, tiny):
    folder = tmp_path_factory.mktemp("clean-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classifier, "MIN_STEPS", 120)
        mp.setattr(classifier, "EPOCHS", 1)
        mp.setattr(classifier, "BATCH_SIZE", 32)
        built = metrics.build_reference(tiny, cache_dir=folder, n=100)
    assert built.classifier_train_seconds > 0  # trained, not loaded
    return folder, built


@pytest.fixture
def cache(clean_cache, tmp_path):
    """A private copy of the trained cache, for a test to damage."""
    folder = tmp_path / "cache"
    shutil.copytree(clean_cache[0], folder)
    return folder


def weights_file(folder):
    (path,) = folder.glob("classifier/*/model.weights.h5")
    return path


def meta_file(folder):
    (path,) = folder.glob("classifier/*/meta.json")
    return path


def stats_file(folder):
    (path,) = folder.glob("reference/**/*.npz")
    return path


def measured_accuracy(built, dataset):
    predicted = built.classifier(dataset.x_test).predicted
    return 100.0 * float(np.mean(predicted == dataset.y_test))


def garble_middle(path, size=200_000):
    raw = bytearray(path.read_bytes())
    start = max(len(raw) // 2 - size // 2, 0)
    raw[start:start + size] = np.random.default_rng(0).bytes(min(size, len(raw) - start))
    path.write_bytes(bytes(raw))


def random_weights(path):
    keras.utils.set_random_seed(123)
    classifier.build_network(3, (8, 8, 1)).save_weights(path)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def garbage(path):
    path.write_text("{not json at all")


def assert_rebuilt(dataset, folder, reason):
    notes = []
    rebuilt = metrics.build_reference(dataset, cache_dir=folder, n=100, note=notes.append)
    assert len(notes) == 1 and reason in notes[0], notes
    assert rebuilt.classifier_train_seconds > 0  # retrained, not silently loaded
    assert rebuilt.classifier_accuracy == measured_accuracy(rebuilt, dataset)
    assert rebuilt.classifier_accuracy >= rebuilt.classifier_gate
    # the entry was rewritten: the next build loads it without a word
    quiet = []
    again = metrics.build_reference(dataset, cache_dir=folder, n=100, note=quiet.append)
    assert quiet == [] and again.classifier_train_seconds == 0.0
    return rebuilt


@pytest.mark.parametrize("damage,target,reason", [
    (garble_middle, weights_file, "checksum"),
    (random_weights, weights_file, "checksum"),
    (truncate, weights_file, "checksum"),
    (garbage, meta_file, "checksum"),
])
def test_a_damaged_classifier_entry_is_retrained_with_one_note(tiny, cache, damage, target,
                                                               reason):
    damage(target(cache))
    assert_rebuilt(tiny, cache, reason)


def test_a_truncated_reference_is_recomputed_with_one_note(tiny, clean_cache, cache):
    truncate(stats_file(cache))
    notes = []
    rebuilt = metrics.build_reference(tiny, cache_dir=cache, n=100, note=notes.append)
    assert len(notes) == 1 and "reference statistics" in notes[0], notes
    assert rebuilt.classifier_train_seconds == 0.0  # the classifier entry was intact
    np.testing.assert_allclose(rebuilt.mu, clean_cache[1].mu, rtol=1e-5, atol=1e-6)
    quiet = []
    metrics.build_reference(tiny, cache_dir=cache, n=100, note=quiet.append)
    assert quiet == []


def test_a_missing_manifest_is_a_missing_entry(tiny, cache):
    for manifest in cache.glob("classifier/*/SHA256SUMS"):
        manifest.unlink()
    assert_rebuilt(tiny, cache, "no checksum")


def test_edited_meta_accuracy_is_not_reported(tiny, cache):
    # a consistent entry whose recorded accuracy was changed (manifest rewritten too): the
    # accuracy reported is the one measured now, and the mismatch is a reason to retrain
    meta_path = meta_file(cache)
    meta = json.loads(meta_path.read_text())
    meta["test_accuracy"] = 12.5
    meta_path.write_text(json.dumps(meta))
    manifest = meta_path.with_name("SHA256SUMS")
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
             for p in sorted(meta_path.parent.iterdir()) if p.name != "SHA256SUMS"]
    manifest.write_text("\n".join(lines) + "\n")
    assert_rebuilt(tiny, cache, "recorded")


def test_a_loaded_classifier_reports_the_accuracy_measured_now(tiny, clean_cache, cache):
    notes = []
    loaded = metrics.build_reference(tiny, cache_dir=cache, n=100, note=notes.append)
    assert notes == [] and loaded.classifier_train_seconds == 0.0
    assert loaded.classifier_accuracy == measured_accuracy(loaded, tiny)
    assert loaded.classifier_accuracy == clean_cache[1].classifier_accuracy
