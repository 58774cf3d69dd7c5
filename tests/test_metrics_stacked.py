"""Stacked MNIST's figures against hand-worked histograms, the triple outputs against hand-set
channel probabilities, and the per-channel MNIST classifier on real stacked test images
(slow: it needs real MNIST and the MNIST classifier, trained once per machine into
$BENCHMARKS_CACHE_DIR; skipped without real MNIST)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from metrics import stacked
from metrics.classifier import Classifier, build_network, load_or_train
from metrics.errors import ClassifierGateError, MetricsError


@pytest.mark.parametrize("k", [1, 2, 10, 37, 1000])
def test_a_generator_on_exactly_k_triples_uniformly_scores_k_and_ln_1000_over_k(k):
    modes = np.random.default_rng(k).choice(1000, size=k, replace=False)
    predicted = np.repeat(modes, 26)  # 26 samples each
    assert stacked.modes_of_1000(predicted) == k
    assert stacked.kl_from_uniform(predicted) == pytest.approx(math.log(1000 / k), abs=1e-12)


def test_a_collapsed_generator_scores_one_mode_and_ln_1000():
    predicted = np.full(26000, 472)
    assert stacked.modes_of_1000(predicted) == 1
    assert stacked.kl_from_uniform(predicted) == pytest.approx(6.907755, abs=1e-6)


def test_kl_of_a_non_uniform_histogram_by_hand():
    # triple 5 twice, 7 and 999 once: p = 1/2, 1/4, 1/4 over 1,000 modes, the others empty
    # KL = 1/2 ln(1000/2) + 2 * 1/4 ln(1000/4) = (ln 500 + ln 250) / 2 = ln(125000) / 2
    predicted = np.array([5, 7, 5, 999])
    assert stacked.modes_of_1000(predicted) == 3
    # ln 125000 = ln 125 + ln 1000 = 4.828314 + 6.907755 = 11.736069
    assert stacked.kl_from_uniform(predicted) == pytest.approx(5.8680345, abs=1e-6)
    # over 4 modes the same histogram is 1/2 ln 2 + 1/2 ln 1 = 0.346574
    assert stacked.kl_from_uniform(np.array([0, 1, 0, 2]), num_modes=4) == pytest.approx(
        0.5 * math.log(2), abs=1e-12)


@pytest.mark.parametrize("predicted, problem", [
    (np.array([0, 1000]), "0..999"), (np.array([-1, 3]), "0..999"),
    (np.array([0.0, 1.0]), "integer"), (np.zeros((2, 3), np.int64), "1-d"),
    (np.array([], np.int64), "no predicted modes"),
])
def test_bad_predictions_are_refused_with_the_fix(predicted, problem):
    with pytest.raises(MetricsError, match=problem):
        stacked.modes_of_1000(predicted)
    with pytest.raises(MetricsError, match=problem):
        stacked.kl_from_uniform(predicted)


def test_triple_probabilities_are_the_outer_product_of_the_channels():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=(4, 3))  # (N, channel, digit)
    logits = np.log(p).reshape(4, 30).astype(np.float32) + 3.0  # softmax ignores the shift
    out = stacked.StackedOutputs(np.zeros((4, 384), np.float32), logits)
    probs = out.probabilities
    assert probs.shape == (4, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    for a, b, c in ((0, 0, 0), (4, 7, 2), (9, 0, 9), (3, 3, 1)):
        np.testing.assert_allclose(probs[:, 100 * a + 10 * b + c],
                                   p[:, 0, a] * p[:, 1, b] * p[:, 2, c], rtol=1e-5)
    best = p.argmax(axis=2)
    np.testing.assert_array_equal(out.predicted, 100 * best[:, 0] + 10 * best[:, 1] + best[:, 2])
    np.testing.assert_array_equal(probs.argmax(axis=1), out.predicted)


def untrained_digit_classifier(image_shape=(28, 28, 1)) -> Classifier:
    """A real MNIST-shaped network with its initial weights: its outputs differ per image, which
    is all the channel bookkeeping needs."""
    return Classifier(build_network(10, image_shape), "mnist", 99.4, 12.0, "mnist-abc-arch2-seed0",
                      gate=99.0, train_images=60000)


def synthetic_stacked(n: int, gate: float = 97.0):
    x = np.random.default_rng(1).uniform(-1, 1, (n, 28, 28, 3)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 1000, n)
    return SimpleNamespace(name="stacked-mnist", checksum="f" * 64, x_test=x, y_test=y,
                           classifier_gate=gate)


def test_each_channel_goes_through_the_digit_network_in_its_own_place():
    digit = untrained_digit_classifier()
    ds = synthetic_stacked(64)
    wrapped = stacked.per_channel(digit, ds, check_gate=False)
    out = wrapped(ds.x_test)
    assert out.features.shape == (64, 384) and out.logits.shape == (64, 30)
    for c in range(3):
        alone = digit(ds.x_test[..., c:c + 1])
        np.testing.assert_allclose(out.features[:, 128 * c:128 * (c + 1)], alone.features,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out.logits[:, 10 * c:10 * (c + 1)], alone.logits,
                                   rtol=1e-5, atol=1e-6)
    # what the Reference, the runner and the report read off a classifier
    assert wrapped.num_classes == 1000 and wrapped.gate == 97.0
    assert wrapped.train_seconds == 12.0 and wrapped.train_images == 60000
    assert wrapped.weights_sha256 == digit.weights_sha256 and wrapped.notes == []
    assert wrapped.key.startswith("stacked-mnist-ffffffffffffffff-") and digit.key in wrapped.key
    assert wrapped.key != digit.key  # the Reference's cache never mixes MNIST's and these
    assert 0.0 <= wrapped.accuracy < 5.0  # an untrained network gets a triple right by chance


def test_an_untrained_network_misses_the_gate_in_one_line():
    with pytest.raises(ClassifierGateError, match=r"all three digits of .*< its gate 97\.0%"):
        stacked.per_channel(untrained_digit_classifier(), synthetic_stacked(64))


def test_a_classifier_that_is_not_for_gray_digits_is_refused():
    with pytest.raises(MetricsError, match="load the MNIST classifier"):
        stacked.per_channel(untrained_digit_classifier((28, 28, 3)), synthetic_stacked(64))


def test_samples_of_the_wrong_shape_are_refused():
    wrapped = stacked.per_channel(untrained_digit_classifier(), synthetic_stacked(64),
                                  check_gate=False)
    with pytest.raises(MetricsError, match=r"expected \(N, 28, 28, 3\)"):
        wrapped(np.zeros((4, 28, 28, 1), np.float32))


@pytest.fixture(scope="module")
def real(mnist):
    """The MNIST classifier and 5,000 stacked test images built from real MNIST."""
    from benchmarks.data import stacked as stacked_data
    from benchmarks.data.spec import to_unit_range

    digits_u8 = np.round((mnist.x_test + 1) * 127.5).astype(np.uint8)
    x, y = stacked_data.stack(digits_u8, mnist.y_test, 5000, seed=stacked_data.SEED + 1)
    ds = SimpleNamespace(name="stacked-mnist", checksum="e" * 64, x_test=to_unit_range(x),
                         y_test=y, classifier_gate=97.0)
    return load_or_train(mnist), ds


@pytest.mark.slow
def test_real_stacked_digits_are_labelled_channel_by_channel(real):
    digit, ds = real
    wrapped = stacked.per_channel(digit, ds)
    assert wrapped.accuracy >= 95.0  # measured here: 98.2 % on the 26,000-image test split
    out = wrapped(ds.x_test)
    a, b, c = (digit(ds.x_test[..., k:k + 1]).predicted for k in range(3))
    np.testing.assert_array_equal(out.predicted, 100 * a + 10 * b + c)
    assert 100 * np.mean(out.predicted == ds.y_test) == pytest.approx(wrapped.accuracy)
    probs = out.probabilities
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(axis=1), out.predicted)
    assert out.features.shape == (5000, 384)
    # the real test split spans the protocol's modes: 5,000 draws of 1,000 triples miss about
    # 1000 e^-5 = 7 of them
    assert stacked.modes_of_1000(out.predicted) > 980


@pytest.mark.slow
def test_the_real_classifier_misses_a_gate_above_its_triple_accuracy(real):
    digit, ds = real
    with pytest.raises(ClassifierGateError, match="all three digits"):
        stacked.per_channel(digit, ds, gate=99.9)


@pytest.mark.slow
def test_load_per_channel_wraps_mnists_cached_classifier(real, mnist):
    digit, ds = real
    wrapped = stacked.load_per_channel(ds, mnist)
    assert wrapped.digit.key == digit.key and wrapped.weights_sha256 == digit.weights_sha256
    assert wrapped.digit.accuracy >= 99.0  # MNIST's own gate, checked by load_or_train
    assert wrapped.accuracy == pytest.approx(stacked.per_channel(digit, ds).accuracy)
