"""Stacked MNIST's scoring: the MNIST classifier applied to each channel, and the papers'
two mode-collapse figures.

The figures are those of Metz et al. 2017 (Unrolled GAN), Srivastava et al. 2017 (VEEGAN)
and Lin et al. 2018 (PacGAN, tables 2 and 3), computed as PacGAN's code computes
them (stacked_MNIST_experiments/VEEGAN_experiment/model.py, ``log_metrics``): 26,000 generated
images, each channel labelled by a pretrained MNIST classifier, the triple (d0, d1, d2) of the
three predictions its mode; *modes* is how many distinct triples appear (at most 1,000), *KL*
is KL(p || uniform over 1,000) in nats of the triples' histogram p, terms with p = 0 left out.

Why one digit classifier per channel rather than a 1,000-class network: each channel is an
MNIST digit drawn independently of the other two, so the MNIST classifier (the suite's
validated digit network, held to MNIST's 99 % gate) labels it as well as it labels MNIST, and
the triple's probability is the product of the three channels' (p1 ⊗ p2 ⊗ p3). A network
trained on the 1,000 triples would see 128 training images per class and learn the same thing
worse.
"""

from __future__ import annotations

import numpy as np

from metrics.classifier import (
    PREDICT_BATCH,
    Classifier,
    Outputs,
    check_images,
    gate_for,
    load_or_train,
)
from metrics.errors import ClassifierGateError, MetricsError

CHANNELS = 3
DIGITS = 10
NUM_MODES = DIGITS ** CHANNELS
PLACES = np.array([100, 10, 1], np.int64)  # channel 0 is the hundreds: the label's order
# The protocol's sample count (PacGAN's num_test_sample, VEEGAN's and Unrolled GAN's 26,000)
PAPER_SAMPLES = 26000
DIGIT_IMAGE = (28, 28, 1)


class StackedOutputs(Outputs):
    """Outputs over the 1,000 triples, from the three channels' 10-class outputs.

    ``features`` are the three channels' 128-d features side by side (384-d) and ``logits``
    their three 10-d logit vectors (30-d); ``probabilities`` and ``predicted`` are over the
    1,000 triples, so the class histogram, the classifier score and the modes covered count
    triples."""

    @property
    def channel_logits(self) -> np.ndarray:
        return self.logits.reshape(len(self.logits), CHANNELS, DIGITS)

    @property
    def probabilities(self) -> np.ndarray:
        """p1 ⊗ p2 ⊗ p3 flattened, index 100·a + 10·b + c: each channel labelled on its own."""
        z = self.channel_logits.astype(np.float64)
        z = np.exp(z - z.max(axis=2, keepdims=True))
        p = z / z.sum(axis=2, keepdims=True)
        return np.einsum("ni,nj,nk->nijk", p[:, 0], p[:, 1], p[:, 2]).reshape(-1, NUM_MODES)

    @property
    def predicted(self) -> np.ndarray:
        """100·a + 10·b + c of the channels' predictions (the argmax of ``probabilities``: the
        largest product of positive factors is the product of the largest)."""
        return self.channel_logits.argmax(axis=2) @ PLACES


class StackedClassifier:
    """The MNIST ``digit`` classifier, applied to each channel of (N, 28, 28, 3) images.

    It stands where a dataset's own ``Classifier`` stands (the Reference, the runner and the
    report read the same attributes), and its outputs are ``StackedOutputs``:

    - features, the FID / KID / precision-recall / memorization space: the three channels'
      128-d MNIST features concatenated, 384-d. Each channel is an MNIST digit, the MNIST
      classifier's features are the suite's validated space for digits, and concatenating
      (rather than averaging) keeps which channel holds which digit, so a generator that
      swaps or repeats channels is told apart from the real data;
    - logits: the three 10-d logit vectors concatenated, 30-d, so FID on logits has a 30 × 30
      covariance (the channels' cross-covariances included), not the 10 × 10 of MNIST;
    - probabilities over the 1,000 triples, p1 ⊗ p2 ⊗ p3, and predicted = 100·a + 10·b + c.

    ``accuracy`` is the triple accuracy (all three digits right) on the stacked test split, in
    percent; ``gate`` the triple accuracy it must reach. Build it with ``per_channel``.
    """

    def __init__(self, digit: Classifier, dataset_name: str, dataset_checksum: str,
                 accuracy: float, *, gate: float):
        self.digit = digit
        self.network = digit.network  # the per-channel network (10 classes, 28x28x1)
        self.dataset_name = dataset_name
        self.accuracy = accuracy
        self.gate = gate
        self.train_seconds = digit.train_seconds  # the MNIST network's: nothing else trains
        self.train_images = digit.train_images
        self.num_classes = NUM_MODES
        # its own key (the Reference's cache folder is named by it, so stacked statistics never
        # meet MNIST's), naming the digit network it wraps
        self.key = f"{dataset_name}-{dataset_checksum[:16]}-perchannel-{digit.key}"
        self.notes = list(digit.notes)
        self.weights_sha256 = digit.weights_sha256

    def __call__(self, images: np.ndarray, batch_size: int = PREDICT_BATCH) -> StackedOutputs:
        images = check_images(images, (*DIGIT_IMAGE[:2], CHANNELS))
        n = len(images)
        # (N, H, W, 3) -> (3N, H, W, 1), image-major: rows 3i, 3i+1, 3i+2 are image i's channels
        channels = np.moveaxis(images, -1, 1).reshape(n * CHANNELS, *DIGIT_IMAGE)
        out = self.digit(channels, batch_size=batch_size)
        return StackedOutputs(out.features.reshape(n, -1), out.logits.reshape(n, -1))

    def check_gate(self) -> None:
        if self.accuracy >= self.gate:
            return
        raise ClassifierGateError(
            f"the MNIST classifier labels all three digits of {self.accuracy:.2f}% of "
            f"{self.dataset_name}'s test images < its gate {self.gate:.1f}%, so scores in its "
            "feature space would not be trustworthy; lower the gate with --classifier-gate")


def triple_accuracy(classifier: StackedClassifier, images: np.ndarray, labels: np.ndarray
                    ) -> float:
    """Percent of ``images`` whose three digits are all predicted right."""
    return 100.0 * float(np.mean(classifier(images).predicted == np.asarray(labels)))


def per_channel(digit: Classifier, dataset, *, gate: float | None = None,
                check_gate: bool = True) -> StackedClassifier:
    """``digit`` (the MNIST classifier, from ``load_or_train`` on MNIST) as the classifier of
    the stacked ``dataset``; its triple accuracy measured now on ``dataset``'s test split.
    ``gate`` (percent) overrides ``dataset.classifier_gate``."""
    shape = tuple(digit.network.inputs[0].shape[1:])
    if shape != DIGIT_IMAGE or digit.num_classes != DIGITS:
        raise MetricsError(f"the per-channel classifier must label 28x28 gray digits into 10 "
                           f"classes; {digit.dataset_name}'s takes {shape} images into "
                           f"{digit.num_classes}: load the MNIST classifier")
    wrapped = StackedClassifier(digit, dataset.name, dataset.checksum, 0.0,
                                gate=gate_for(dataset, gate))
    wrapped.accuracy = triple_accuracy(wrapped, dataset.x_test, dataset.y_test)
    if check_gate:
        wrapped.check_gate()
    return wrapped


def load_per_channel(dataset, digit_dataset, *, cache_dir=None, seed: int = 0,
                     gate: float | None = None, note=None) -> StackedClassifier:
    """The stacked ``dataset``'s classifier: ``digit_dataset``'s (MNIST's) cached classifier,
    loaded or trained and held to MNIST's own gate by ``load_or_train``, then wrapped and held
    to the triple gate (``gate``, else ``dataset.classifier_gate``)."""
    digit = load_or_train(digit_dataset, cache_dir=cache_dir, seed=seed, note=note)
    return per_channel(digit, dataset, gate=gate)


def _triple_counts(predicted, num_modes: int) -> np.ndarray:
    predicted = np.asarray(predicted)
    if predicted.ndim != 1 or not np.issubdtype(predicted.dtype, np.integer):
        raise MetricsError(f"predicted modes must be a 1-d integer array; got {predicted.dtype} "
                           f"{predicted.shape}")
    if len(predicted) == 0:
        raise MetricsError("no predicted modes to count; pass the samples' predictions")
    if predicted.min() < 0 or predicted.max() >= num_modes:
        raise MetricsError(f"predicted modes range over {predicted.min()}..{predicted.max()}; "
                           f"expected 0..{num_modes - 1}")
    return np.bincount(predicted, minlength=num_modes)


def modes_of_1000(predicted) -> int:
    """How many distinct triples the samples' ``predicted`` modes (100·d0 + 10·d1 + d2) hold:
    Stacked MNIST's "modes" (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018,
    tables 2 and 3), at most 1,000. The papers count 26,000 samples (PacGAN's
    ``log_metrics``: ``len(map.keys())`` over the 26,000 zipped channel predictions); other
    counts are not comparable with theirs (fewer samples find fewer modes)."""
    return int(np.count_nonzero(_triple_counts(predicted, NUM_MODES)))


def kl_from_uniform(predicted, num_modes: int = NUM_MODES) -> float:
    """KL(p || uniform) in nats, p the histogram of the samples' ``predicted`` modes over
    ``num_modes`` (1,000 triples): sum over p > 0 of p log(p · num_modes), 0 · log 0 = 0. The
    papers' KL (Metz et al. 2017, Srivastava et al. 2017, Lin et al. 2018), as PacGAN's
    ``log_metrics`` computes it on 26,000 samples (``JSD().KLD(p, q)``, natural log, terms
    with p = 0 skipped). One mode scores ln 1000 = 6.908, a uniform histogram 0; 26,000 draws
    from a perfect generator score about (K - 1) / (2 · 26000) = 0.019 by sampling noise."""
    counts = _triple_counts(predicted, num_modes)
    p = counts[counts > 0] / counts.sum()
    return float(np.sum(p * np.log(p * num_modes)))
