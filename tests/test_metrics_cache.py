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
from metrics import cache, classifier
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


# ~120 steps (BatchNorm's running statistics need them) separate the squares; the real
# budget (400+ steps of 128) is for real data
SHORT_TRAINING = {"MIN_STEPS": 120, "EPOCHS": 1, "BATCH_SIZE": 32}


def shorten(patch):
    for name, value in SHORT_TRAINING.items():
        patch.setattr(classifier, name, value)


@pytest.fixture(autouse=True)
def _short_training(monkeypatch):
    shorten(monkeypatch)


@pytest.fixture(scope="module")
def tiny():
    return tiny_set()


@pytest.fixture(scope="module")
def clean_cache(tmp_path_factory, tiny):
    folder = tmp_path_factory.mktemp("clean-cache")
    with pytest.MonkeyPatch.context() as patch:
        shorten(patch)
        built = metrics.build_reference(tiny, cache_dir=folder, n=100)
    assert built.classifier_train_seconds > 0  # trained, not loaded
    return folder, built


@pytest.fixture
def cache_copy(clean_cache, tmp_path):
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
    # the statistics in use belong to these exact weights, never to the damaged ones
    (stats_entry,) = {p.parent.name for p in folder.glob("reference/*/stats.npz")
                      if rebuilt.classifier.weights_sha256[:12] in p.parent.name}
    assert stats_entry.startswith(rebuilt.classifier.key)
    # the entry was rewritten: the next build loads it without a word
    quiet = []
    again = metrics.build_reference(dataset, cache_dir=folder, n=100, note=quiet.append)
    assert quiet == [] and again.classifier_train_seconds == 0.0
    return rebuilt


@pytest.mark.slow
@pytest.mark.parametrize("damage,target,reason", [
    (garble_middle, weights_file, "checksum"),
    (random_weights, weights_file, "checksum"),
    (truncate, weights_file, "checksum"),
    (garbage, meta_file, "checksum"),
])
def test_a_damaged_classifier_entry_is_retrained_with_one_note(tiny, cache_copy, damage, target,
                                                               reason):
    damage(target(cache_copy))
    assert_rebuilt(tiny, cache_copy, reason)


@pytest.mark.slow
def test_a_truncated_reference_is_recomputed_with_one_note(tiny, clean_cache, cache_copy):
    truncate(stats_file(cache_copy))
    notes = []
    rebuilt = metrics.build_reference(tiny, cache_dir=cache_copy, n=100, note=notes.append)
    assert len(notes) == 1 and "reference statistics" in notes[0], notes
    assert rebuilt.classifier_train_seconds == 0.0  # the classifier entry was intact
    np.testing.assert_allclose(rebuilt.mu, clean_cache[1].mu, rtol=1e-5, atol=1e-6)
    quiet = []
    metrics.build_reference(tiny, cache_dir=cache_copy, n=100, note=quiet.append)
    assert quiet == []


@pytest.mark.slow
def test_a_missing_manifest_is_a_missing_entry(tiny, cache_copy):
    for manifest in cache_copy.glob("classifier/*/SHA256SUMS"):
        manifest.unlink()
    assert_rebuilt(tiny, cache_copy, "no checksum")


@pytest.mark.slow
def test_edited_meta_accuracy_is_not_reported(tiny, cache_copy):
    # a consistent entry whose recorded accuracy was changed (manifest rewritten too): the
    # accuracy reported is the one measured now, and the mismatch is a reason to retrain
    meta_path = meta_file(cache_copy)
    meta = json.loads(meta_path.read_text())
    meta["test_accuracy"] = 12.5
    meta_path.write_text(json.dumps(meta))
    manifest = meta_path.with_name("SHA256SUMS")
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
             for p in sorted(meta_path.parent.iterdir()) if p.name != "SHA256SUMS"]
    manifest.write_text("\n".join(lines) + "\n")
    assert_rebuilt(tiny, cache_copy, "recorded")


@pytest.mark.slow
def test_a_loaded_classifier_reports_the_accuracy_measured_now(tiny, clean_cache, cache_copy):
    notes = []
    loaded = metrics.build_reference(tiny, cache_dir=cache_copy, n=100, note=notes.append)
    assert notes == [] and loaded.classifier_train_seconds == 0.0
    assert loaded.classifier_accuracy == measured_accuracy(loaded, tiny)
    assert loaded.classifier_accuracy == clean_cache[1].classifier_accuracy


def test_gate_comes_from_the_override_else_the_dataset_alone():
    own = TinySet("mnist", *[np.zeros(1)] * 4, checksum="x", num_classes=2, classifier_gate=80.0)
    assert classifier.gate_for(own) == 80.0  # not MNIST's 99: a name carries no gate here
    assert classifier.gate_for(own, 55.5) == 55.5
    # the dataset owns its gate (benchmarks/data/registry.py): metrics keeps no second table
    # of gates by name to fall back on, so a dataset without one is told, not defaulted
    plain = TinySet("mnist", *[np.zeros(1)] * 4, checksum="x", num_classes=2)
    with pytest.raises(MetricsError, match="^dataset mnist states no classifier gate; give "
                       "it a classifier_gate"):
        classifier.gate_for(plain)
    assert classifier.gate_for(plain, 70.0) == 70.0
    for bad in (-1.0, 100.5, float("nan"), "high"):
        with pytest.raises(MetricsError, match="not a test accuracy in percent"):
            classifier.gate_for(plain, bad)


def test_each_dataset_gate_reaches_the_classifier_as_the_registry_states_it():
    """One place: the registry's gate (or the chance rule for a folder) is the gate applied."""
    from benchmarks.data import registry
    from benchmarks.data.spec import Dataset, DatasetSpec

    def dataset(name, classes):
        x, y = np.zeros((4, 28, 28, 1), np.float32), np.zeros(4, np.int64)
        return Dataset(name, x, y, x, y, tuple(map(str, range(classes))), "here", "x")

    for name, s in registry.DATASETS.items():
        assert classifier.gate_for(registry.gated(dataset(name, 10), s)) == s.gate, name
    folder = registry.gated(dataset("my_folder", 10), DatasetSpec("my_folder", "", None))
    assert classifier.gate_for(folder) == 55.0  # chance 10 % + half of the 90 % to 100 %


@pytest.mark.slow
def test_the_gate_override_reaches_the_reference(tiny, cache_copy):
    assert metrics.build_reference(tiny, cache_dir=cache_copy, n=100).classifier_gate == 60.0
    lowered = metrics.build_reference(tiny, cache_dir=cache_copy, n=100, gate=42.0)
    assert lowered.classifier_gate == 42.0


@pytest.mark.slow
def test_a_split_too_small_for_the_gate_says_so(tmp_path):
    unlearnable = tiny_set(gate=90.0)
    unlearnable.y_test = np.random.default_rng(1).permutation(unlearnable.y_test)  # chance
    with pytest.raises(ClassifierGateError) as caught:
        metrics.build_reference(unlearnable, cache_dir=tmp_path, n=100)
    message = str(caught.value)
    assert message.startswith("classifier for tiny reached ")
    assert "< its gate 90.0%" in message
    assert "the training split (1,200 images) is too small to reach the gate" in message
    assert message.endswith("use the full dataset, or lower the gate with --classifier-gate")
    assert "ARCH_VERSION" not in message and "delete" not in message


@pytest.mark.slow
def test_fast_keys_are_what_fast_evaluation_computes(clean_cache, tiny):
    built = clean_cache[1]
    fast = metrics.evaluate(tiny.x_test[:60], built, fast=True)
    assert set(fast) == set(metrics.FAST_KEYS) | {"class_histogram"}
    full = metrics.evaluate(tiny.x_test[:60], built)
    assert set(metrics.FAST_KEYS) <= set(full) and fast["fid"] == full["fid"]
    low, high = (full[k] for k in metrics.FID_INTERVAL_KEYS)
    assert low <= full["fid"] <= high


@pytest.mark.slow
def test_the_classifier_takes_colour_images_of_any_size(tmp_path):
    rgb = tiny_set(shape=(32, 32, 3), classes=3, n_train=600, n_test=90, name="tiny-rgb")
    # make colour matter: each class's square is in one channel only
    for x, y in ((rgb.x_train, rgb.y_train), (rgb.x_test, rgb.y_test)):
        for c, k in ((c, k) for c in range(3) for k in range(3) if k != c):
            x[y == c, :, :, k] = -0.6
    rgb.checksum = hashlib.sha256(rgb.x_train.tobytes() + rgb.x_test.tobytes()).hexdigest()
    built = metrics.build_reference(rgb, cache_dir=tmp_path, n=90)
    assert built.classifier.network.inputs[0].shape[1:] == (32, 32, 3)
    out = built.classifier(rgb.x_test)
    assert out.features.shape == (90, classifier.FEATURE_DIM)
    assert out.logits.shape == (90, 3)
    assert built.classifier_accuracy > 100 / 3 + 20  # well above chance
    # every figure, NDB's pixel-space cells included, works on 3 channels
    figures = metrics.evaluate(rgb.x_test[:60], built)
    assert built.ndb_centers.shape[1] == 32 * 32 * 3
    assert built.real_cell_counts.sum() == 90 and 0.0 <= figures["ndb"] <= 1.0
    assert len(figures["class_histogram"]) == 3
    assert all(np.isfinite(figures[key]) for key in metrics.FAST_KEYS)


def test_entry_checks_name_what_is_wrong(tmp_path):
    folder = tmp_path / "entry"
    cache.write_entry(folder, {"a.txt": lambda p: p.write_text("alpha"),
                               "b.bin": lambda p: p.write_bytes(b"\x00\x01")})
    assert cache.check_entry(folder, ("a.txt", "b.bin")) is None
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "a.txt", "b.bin"]
    assert cache.check_entry(tmp_path / "absent", ("a.txt",)) == "missing"
    assert "has no checksum" in cache.check_entry(folder, ("a.txt", "c.txt"))
    (folder / "b.bin").write_bytes(b"\x00\x02")
    assert "checksum mismatch in" in cache.check_entry(folder, ("a.txt", "b.bin"))
    (folder / "SHA256SUMS").write_bytes(b"\xff\xfe garbage")
    assert "unreadable checksum manifest" in cache.check_entry(folder, ("a.txt",))


def test_an_unwritable_cache_is_one_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(MetricsError, match=r"^cannot write the cache entry .*writable folder$"):
        cache.write_entry(tmp_path / "a-file" / "entry", {"a.txt": lambda p: p.write_text("x")})


def test_a_cache_holding_the_classifier_and_statistics_is_all_scoring_reads(
        tmp_path, classifier_cache, digits_dataset):
    """What a read-only shared cache must hold for a run to take it (issue 29 item 9)."""
    from metrics.reference import missing_from_cache

    metrics.build_reference(digits_dataset, cache_dir=classifier_cache, n=200)
    assert missing_from_cache(digits_dataset, cache_dir=classifier_cache, n=200) is None
    other_n = missing_from_cache(digits_dataset, cache_dir=classifier_cache, n=150)
    assert other_n.startswith("the reference entry ") and other_n.endswith("-n150-stats3")
    assert missing_from_cache(digits_dataset, cache_dir=tmp_path).startswith(
        f"the classifier entry {tmp_path / 'classifier'}")
