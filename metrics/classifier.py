"""A small CNN per dataset: trained once on the real training split, cached, accuracy-gated.

Its 128-d penultimate layer is the feature space of FID, precision/recall and the rest; its
logits give the class histogram. The cache key is the dataset checksum, the architecture
version and the seed, so a changed dataset or network never reuses stale weights; the entry
is sealed with checksums (metrics.cache) and a loaded network's test accuracy is measured
again, so a damaged entry is retrained instead of scoring with wrong weights.
Only Keras APIs are used, so it runs on the tensorflow and the jax backend alike.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from metrics import cache
from metrics.errors import ClassifierGateError, MetricsError

ARCH_VERSION = 2  # bump whenever build_network or the training recipe changes
FEATURE_DIM = 128
# Below this many training images, missing the gate is a matter of data, not of the network.
SMALL_SPLIT = 20000
EPOCHS = 3  # MNIST passes 99 % after 2-3 epochs; the budget is 3 minutes on 2 CPU cores
MIN_STEPS = 400  # tiny datasets get more epochs: digits (12 steps/epoch) needs ~400 steps
BATCH_SIZE = 128
# The forward runs in batches of one fixed shape (the last padded), each by predict_on_batch:
# keras's predict() costs ~0.5 s a call on top of the arithmetic (2,000 MNIST images: 0.44 s
# this way against 0.68-1.39 s by predict, 10,000: 2.3 s against 4.1-5.2 s, on 2 cores), and
# one shape is one compiled function a process. 256 measured as fast as 500-2,000 on 2 cores
# (within their noise) and keeps the padding small. Outputs equal predict()'s (exactly for full
# batches; a padded last batch runs another kernel: within 3e-6).
PREDICT_BATCH = 256
# Convolution blocks halve the feature map until it is at most this wide (two blocks for
# MNIST-sized or 32-pixel images, three for 64), so the head sees a few thousand values at any
# image size; MNIST-sized images get the network of ARCH_VERSION 2 unchanged.
HEAD_SIZE = 8
# A loaded network's accuracy, measured again now, may differ from the one recorded at
# training by backend round-off (a test image or two); more means the entry is not what it was.
ACCURACY_TOLERANCE = 1.0
# Samples should lie in [-1, 1]; a linear decoder may overshoot a little, but values beyond
# this are the wrong scale (e.g. [0, 255] pixels) and would give meaningless scores.
RANGE_LIMIT = 2.0
WEIGHTS, META = "model.weights.h5", "meta.json"
# Entries that ship with the package (MNIST and Fashion-MNIST, seed 0, trained by ``train``
# here): a cache missing one of these keys is seeded from it instead of training for minutes,
# and every user scores in the same feature space, as pytorch-fid's users share one Inception.
# A shipped entry is loaded like a cached one: checksummed, its test accuracy measured again
# on the user's own test split against the one recorded, and trained anew if either fails.
SHIPPED = Path(__file__).parent / "classifiers"


def gate_for(dataset, override: float | None = None) -> float:
    """The test accuracy in percent below which the feature space is not trusted: ``override``,
    else the dataset's own ``classifier_gate``. The dataset owns its gate and the reason for it
    (benchmarks/data/registry.py), so there is no second table of gates here."""
    gate = override if override is not None else getattr(dataset, "classifier_gate", None)
    if gate is None:
        raise MetricsError(f"dataset {dataset.name} states no classifier gate; give it a "
                           "classifier_gate (percent test accuracy) or pass gate=PCT")
    try:
        value = float(gate)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 100.0:
        raise MetricsError(f"classifier gate {gate!r} is not a test accuracy in percent; give "
                           "a value from 0 to 100 (e.g. 95 for 95 %)")
    return value


def cache_key(dataset, seed: int) -> str:
    return f"{dataset.name}-{dataset.checksum[:16]}-arch{ARCH_VERSION}-seed{seed}"


def _conv(x, filters: int, strides: int = 1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    return keras.layers.ReLU()(keras.layers.BatchNormalization()(x))


def build_network(num_classes: int, image_shape: tuple[int, int, int]) -> keras.Model:
    """Maps (H, W, C) images in [-1, 1] to (features, logits); BN makes 2-3 epochs enough."""
    inputs = keras.Input(tuple(image_shape))
    x, size, filters = inputs, min(image_shape[:2]), 32
    while size > HEAD_SIZE:
        x = keras.layers.MaxPooling2D(padding="same")(_conv(x, filters))
        size, filters = -(-size // 2), min(2 * filters, 128)
    x = _conv(_conv(x, 128), 128, strides=2)
    x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(x))
    features = keras.layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(keras.layers.Dropout(0.3)(features))
    return keras.Model(inputs, [features, logits], name="dataset_classifier")


@dataclass
class Outputs:
    features: np.ndarray  # (N, FEATURE_DIM) float32, penultimate layer (the FID space)
    logits: np.ndarray  # (N, num_classes) float32

    @property
    def probabilities(self) -> np.ndarray:
        z = self.logits.astype(np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    @property
    def predicted(self) -> np.ndarray:
        return self.logits.argmax(axis=1)


class Classifier:
    """A trained network plus the facts a report needs about it."""

    def __init__(self, network: keras.Model, dataset_name: str, accuracy: float,
                 train_seconds: float, key: str, *, gate: float, train_images: int):
        self.network = network
        self.dataset_name = dataset_name
        self.accuracy = accuracy  # test accuracy in percent, measured in this process
        self.gate = gate  # percent
        self.train_seconds = train_seconds  # 0.0 when loaded from the cache
        self.key = key
        self.train_images = train_images  # size of the training split it learned from
        self.num_classes = network.outputs[1].shape[-1]
        self.notes: list[str] = []  # what went wrong with the cache, if anything
        self.weights_sha256: str | None = None  # of the cached weights file it was loaded from

    def __call__(self, images: np.ndarray, batch_size: int = PREDICT_BATCH) -> Outputs:
        images = check_images(images, self.network.inputs[0].shape[1:])
        features, logits = forward(self.network, images, batch_size)
        return Outputs(features, logits)

    def check_gate(self) -> None:
        if self.accuracy >= self.gate:
            return
        reached = (f"classifier for {self.dataset_name} reached {self.accuracy:.2f}% test "
                   f"accuracy < its gate {self.gate:.1f}%, so scores in its feature space "
                   "would not be trustworthy")
        if self.train_images < SMALL_SPLIT:
            raise ClassifierGateError(
                f"{reached}: the training split ({self.train_images:,} images) is too small "
                "to reach the gate; use the full dataset, or lower the gate with "
                "--classifier-gate")
        raise ClassifierGateError(
            f"{reached}: the network is too weak for this dataset; lower the gate with "
            "--classifier-gate (or improve build_network and bump ARCH_VERSION)")


def check_images(images, image_shape) -> np.ndarray:
    """Samples must be finite float images of the dataset's shape, (N, H, W, C)."""
    images = np.asarray(images)
    expected = tuple(image_shape)
    if expected[-1] == 1 and images.shape[1:] == expected[:-1]:
        images = images[..., None]  # accept (N, H, W) for single-channel data
    if images.ndim != len(expected) + 1 or tuple(images.shape[1:]) != expected:
        dims = ", ".join(map(str, expected))
        raise MetricsError(f"samples have shape {images.shape}; expected (N, {dims}) images "
                           "in [-1, 1]")
    if not np.issubdtype(images.dtype, np.number):
        raise MetricsError(f"samples have dtype {images.dtype}; expected float images in [-1, 1]")
    images = images.astype(np.float32, copy=False)
    if not np.isfinite(images).all():
        bad = int((~np.isfinite(images)).reshape(len(images), -1).any(axis=1).sum())
        raise MetricsError(f"{bad} of {len(images)} samples contain NaN or inf; "
                           "the model diverged or its output is not images")
    if images.size and np.abs(images).max() > RANGE_LIMIT:
        raise MetricsError(f"samples range over [{images.min():g}, {images.max():g}]; expected "
                           "images in [-1, 1] (rescale, e.g. x / 127.5 - 1 for 0..255 pixels)")
    return images


def forward(network: keras.Model, images: np.ndarray,
            batch_size: int = PREDICT_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """(features, logits) as float32 for (N, H, W, C) images, in batches of ``batch_size``."""
    n = len(images)
    parts = []
    for i in range(0, n, batch_size):
        batch = images[i:i + batch_size]
        if len(batch) < batch_size:  # only the last batch is padded, not a copy of them all
            batch = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]),
                                                    batch.dtype)])
        parts.append(network.predict_on_batch(batch))
    return tuple(np.concatenate([np.asarray(p[j], np.float32) for p in parts])[:n]
                 for j in range(2))


def accuracy_on_test_split(network: keras.Model, dataset) -> float:
    """Percent of the test split whose predicted class is the label."""
    _, logits = forward(network, dataset.x_test)
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == dataset.y_test))


def train(dataset, seed: int = 0) -> tuple[keras.Model, float, float]:
    """Train on the training split; returns (network, test accuracy %, seconds).

    Sets the global Python, NumPy and backend seeds (keras.utils.set_random_seed) so that
    weights, dropout and shuffling are reproducible per seed.
    """
    keras.utils.set_random_seed(seed)
    network = build_network(dataset.num_classes, dataset.x_train.shape[1:])
    trainer = keras.Model(network.inputs, network.outputs[1])  # shares the layers
    steps_per_epoch = -(-len(dataset.x_train) // BATCH_SIZE)
    epochs = max(EPOCHS, -(-MIN_STEPS // steps_per_epoch))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, epochs * steps_per_epoch)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    trainer.fit(dataset.x_train, dataset.y_train, batch_size=BATCH_SIZE, epochs=epochs,
                shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    return network, accuracy_on_test_split(network, dataset), seconds


def _load(folder: Path, dataset) -> tuple[keras.Model | None, float, str | None]:
    """(network, accuracy measured now, None), or (None, 0.0, why the entry is unusable)."""
    reason = cache.check_entry(folder, (WEIGHTS, META))
    if reason is not None:
        return None, 0.0, reason
    network = build_network(dataset.num_classes, dataset.x_train.shape[1:])
    try:
        recorded = float(json.loads((folder / META).read_text())["test_accuracy"])
        network.load_weights(folder / WEIGHTS)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, 0.0, f"unreadable entry ({type(e).__name__}: {e})"
    accuracy = accuracy_on_test_split(network, dataset)
    if abs(accuracy - recorded) > ACCURACY_TOLERANCE:
        return None, 0.0, (f"its test accuracy measured now, {accuracy:.2f}%, is not the "
                           f"{recorded:.2f}% recorded at training")
    return network, accuracy, None


def _seed_from_shipped(folder: Path) -> str | None:
    """Copy the shipped entry of ``folder``'s key into the cache (None), or say why not."""
    shipped = SHIPPED / folder.name
    reason = cache.check_entry(shipped, (WEIGHTS, META))
    if reason is None:
        cache.write_entry(folder, {name: lambda path, name=name: shutil.copyfile(shipped / name,
                                                                                   path)
                                   for name in (WEIGHTS, META)})
    return reason


def entry(key: str, cache_dir=None) -> Path:
    """The cache folder of the classifier with ``cache_key`` ``key``."""
    return cache.default_cache_dir(cache_dir) / "classifier" / key


def load_or_train(dataset, *, cache_dir: str | Path | None = None, seed: int = 0,
                  check_gate: bool = True, gate: float | None = None,
                  note: Callable[[str], None] | None = None) -> Classifier:
    """The cached classifier for ``dataset`` (training it the first time); gate-checked.

    ``gate`` (percent) overrides the dataset's own. A damaged or unreadable cache entry is
    retrained and rewritten, with one ``note(reason)`` (default: a line on stderr).
    """
    gate = gate_for(dataset, gate)
    key = cache_key(dataset, seed)
    folder = entry(key, cache_dir)
    with cache.building(folder):
        network, accuracy, notes, seconds = _load_or_train(folder, dataset, seed, note)
    classifier = Classifier(network, dataset.name, accuracy, seconds, key, gate=gate,
                            train_images=len(dataset.x_train))
    classifier.notes = notes
    classifier.weights_sha256 = cache.sha256(folder / WEIGHTS)
    if check_gate:
        classifier.check_gate()
    return classifier


def _load_or_train(folder: Path, dataset, seed: int, note) -> tuple:
    """(network, accuracy %, notes, training seconds): the entry in ``folder``, or a network
    trained now and written there."""
    network, accuracy, reason = _load(folder, dataset)
    notes, seconds = [], 0.0
    if network is None and reason == "missing" and (SHIPPED / folder.name).is_dir():
        reason = _seed_from_shipped(folder)
        if reason is None:
            network, accuracy, reason = _load(folder, dataset)
        if reason is not None:
            reason = f"the copy of the one shipped with the package failed its check: {reason}"
    if network is None:
        if reason != "missing":
            notes.append(f"classifier cache entry {folder} is unusable: {reason}; retraining it")
            (note or cache.stderr_note)(notes[-1])
        network, accuracy, seconds = train(dataset, seed)
        meta = {"dataset": dataset.name, "checksum": dataset.checksum, "seed": seed,
                "arch_version": ARCH_VERSION, "test_accuracy": accuracy,
                "train_seconds": seconds, "keras": keras.__version__,
                "backend": keras.backend.backend()}
        cache.write_entry(folder, {
            WEIGHTS: network.save_weights,
            META: lambda path: path.write_text(json.dumps(meta, indent=2)),
        })
    return network, accuracy, notes, seconds
