"""A small CNN per dataset: trained once on the real training split, cached, accuracy-gated.

Its 128-d penultimate layer is the feature space of FID, precision/recall and the rest; its
logits give the class histogram. The cache key is the dataset checksum, the architecture
version and the seed, so a changed dataset or network never reuses stale weights.
Only Keras APIs are used, so it runs on the tensorflow and the jax backend alike.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from metrics.errors import ClassifierGateError, MetricsError

ARCH_VERSION = 2  # bump whenever build_network or the training recipe changes
CACHE_ENV = "BENCHMARKS_CACHE_DIR"
FEATURE_DIM = 128
# Test accuracy below which the feature space is not trusted; the small CNN clears them with
# margin (MNIST ~99.2 %, Fashion-MNIST ~91 %, digits ~98 %).
GATES = {"mnist": 99.0, "fashion-mnist": 90.0, "digits": 95.0}
DEFAULT_GATE = 90.0
EPOCHS = 3  # MNIST passes 99 % after 2-3 epochs; the budget is 3 minutes on 2 CPU cores
MIN_STEPS = 400  # tiny datasets get more epochs: digits (12 steps/epoch) needs ~400 steps
BATCH_SIZE = 128
PREDICT_BATCH = 1000  # large batches amortise the per-call overhead of the compiled forward
# Samples should lie in [-1, 1]; a linear decoder may overshoot a little, but values beyond
# this are the wrong scale (e.g. [0, 255] pixels) and would give meaningless scores.
RANGE_LIMIT = 2.0


def gate_for(name: str) -> float:
    return GATES.get(name, DEFAULT_GATE)


def default_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$BENCHMARKS_CACHE_DIR``, else ``~/.cache/genbench``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "genbench"


def cache_key(dataset, seed: int) -> str:
    return f"{dataset.name}-{dataset.checksum[:16]}-arch{ARCH_VERSION}-seed{seed}"


def build_network(num_classes: int, image_shape=(28, 28, 1)) -> keras.Model:
    """Maps images in [-1, 1] to (features, logits); BN makes 2-3 epochs enough."""
    inputs = keras.Input(image_shape)
    x = inputs
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        if filters != 128:
            x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(128, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
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
                 train_seconds: float, key: str):
        self.network = network
        self.dataset_name = dataset_name
        self.accuracy = accuracy  # test accuracy in percent
        self.gate = gate_for(dataset_name)
        self.train_seconds = train_seconds  # 0.0 when loaded from the cache
        self.key = key
        self.num_classes = network.outputs[1].shape[-1]

    def __call__(self, images: np.ndarray, batch_size: int = PREDICT_BATCH) -> Outputs:
        images = check_images(images, self.network.inputs[0].shape[1:])
        # predict() runs one compiled forward per batch (tf.function or jax.jit)
        features, logits = self.network.predict(images, batch_size=batch_size, verbose=0)
        return Outputs(np.asarray(features, np.float32), np.asarray(logits, np.float32))

    def check_gate(self) -> None:
        if self.accuracy < self.gate:
            raise ClassifierGateError(
                f"classifier for {self.dataset_name} reached {self.accuracy:.2f}% < gate "
                f"{self.gate:.1f}%; scores would not be trustworthy; delete the cache entry "
                f"'{self.key}' to retrain, or bump ARCH_VERSION after improving the network"
            )


def check_images(images, image_shape) -> np.ndarray:
    """Samples must be finite float images of the dataset's shape, (N, H, W, C)."""
    images = np.asarray(images)
    expected = tuple(image_shape)
    if images.ndim == len(expected) and images.shape[1:] != expected and images.shape[-1] != 1:
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
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    start = time.perf_counter()
    trainer.fit(dataset.x_train, dataset.y_train, batch_size=BATCH_SIZE, epochs=epochs,
                shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    logits = trainer.predict(dataset.x_test, batch_size=PREDICT_BATCH, verbose=0)
    accuracy = 100.0 * float(np.mean(np.argmax(logits, axis=1) == dataset.y_test))
    return network, accuracy, seconds


def load_or_train(dataset, *, cache_dir: str | Path | None = None, seed: int = 0,
                  check_gate: bool = True) -> Classifier:
    """The cached classifier for ``dataset`` (training it the first time); gate-checked."""
    key = cache_key(dataset, seed)
    folder = default_cache_dir(cache_dir) / "classifier" / key
    weights, meta_path = folder / "model.weights.h5", folder / "meta.json"
    network = build_network(dataset.num_classes, dataset.x_train.shape[1:])
    if weights.is_file() and meta_path.is_file():
        network.load_weights(weights)
        meta = json.loads(meta_path.read_text())
        classifier = Classifier(network, dataset.name, meta["test_accuracy"], 0.0, key)
    else:
        network, accuracy, seconds = train(dataset, seed)
        folder.mkdir(parents=True, exist_ok=True)
        # write-then-rename so a concurrent process never reads half a file
        tmp = folder / f"tmp-{os.getpid()}.weights.h5"
        network.save_weights(tmp)
        os.replace(tmp, weights)
        meta = {"dataset": dataset.name, "checksum": dataset.checksum, "seed": seed,
                "arch_version": ARCH_VERSION, "test_accuracy": accuracy,
                "train_seconds": seconds, "keras": keras.__version__,
                "backend": keras.backend.backend()}
        tmp_meta = folder / f"tmp-{os.getpid()}.json"
        tmp_meta.write_text(json.dumps(meta, indent=2))
        os.replace(tmp_meta, meta_path)
        classifier = Classifier(network, dataset.name, accuracy, seconds, key)
    if check_gate:
        classifier.check_gate()
    return classifier
