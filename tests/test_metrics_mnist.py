"""The metrics on real MNIST: real images score near the floor, degenerate sets far from it.

Needs real MNIST (the ``mnist`` fixture; skipped without it). The classifier trains once per
machine (about 2 minutes on 2 CPU cores) into $BENCHMARKS_CACHE_DIR; one Reference serves the
whole module.
"""

import numpy as np
import pytest

import metrics
from metrics import mode_collapse

# one worker runs the module under pytest-xdist (make test): a module fixture is built by every
# worker that runs one of its tests, and these (MNIST's reference and three evaluations at
# 10,000) took 20 s of CPU on each
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mnist-figures")]


@pytest.fixture(scope="module")
def reference(mnist):
    return metrics.build_reference(mnist)


@pytest.fixture(scope="module")
def figures(mnist, reference):
    # every "1" in the training split (6,742: no digit has 10,000 training images)
    one_digit = mnist.x_train[mnist.y_train == 1]
    noise = np.random.default_rng(0).uniform(-1, 1, (10000, 28, 28, 1)).astype(np.float32)
    return {
        "real": metrics.real_floor(reference, n=10000),
        "one_digit": metrics.evaluate(one_digit, reference),
        "noise": metrics.evaluate(noise, reference),
    }


def test_classifier_passes_its_gate(reference):
    assert reference.classifier_gate == 99.0
    assert reference.classifier_accuracy >= 99.0


@pytest.mark.parametrize("key", ["fid", "fid_logits", "kid"])
def test_real_floor_is_ten_times_below_degenerate_sets(figures, key):
    # no order is assumed between one digit and noise: each must be far above the floor
    floor = figures["real"][key]
    assert 10 * floor < figures["one_digit"][key]
    assert 10 * floor < figures["noise"][key]


def test_modes_and_class_kl(figures):
    assert figures["real"]["modes_covered"] == 10
    assert figures["one_digit"]["modes_covered"] == 1
    assert figures["real"]["kl_classes"] < 0.01
    assert figures["one_digit"]["kl_classes"] > 1.5  # ln(1 / 0.1135) = 2.18 for pure "1"s


def test_single_digit_loses_recall_and_coverage(figures):
    real, one = figures["real"], figures["one_digit"]
    assert real["recall"] > 0.8 and real["coverage"] > 0.8
    assert one["recall"] < 0.3 * real["recall"]
    assert one["coverage"] < 0.3 * real["coverage"]
    assert one["pairwise_distance_ratio"] < 0.5 < real["pairwise_distance_ratio"]


def test_real_images_look_real_and_noise_does_not(figures):
    real, noise = figures["real"], figures["noise"]
    assert real["precision"] > 0.8 and noise["precision"] < 0.05
    assert real["density"] == pytest.approx(1.0, abs=0.2)
    assert real["classifier_score"] > 9.0 and noise["classifier_score"] < 2.0
    # held-out training images are as far from the memorization set as test images: ~5 %
    assert 0.01 < real["memorization"] < 0.15
    assert noise["memorization"] == 0.0


def test_ndb_of_two_halves_of_the_training_set_flags_few_cells(mnist, reference):
    order = np.random.default_rng(1).permutation(len(mnist.x_train))
    half_a, half_b = mnist.x_train[order[:30000]], mnist.x_train[order[30000:]]
    counts_a = mode_collapse.cell_counts(reference.ndb_centers, half_a)
    counts_b = mode_collapse.cell_counts(reference.ndb_centers, half_b)
    _, ndb_over_k = mode_collapse.ndb(counts_a, counts_b)
    assert ndb_over_k <= 0.1  # the z-test at 5 % flags ~5 cells of 100 by chance


def test_ndb_flags_collapsed_and_noise_samples(figures):
    assert figures["real"]["ndb"] < figures["one_digit"]["ndb"]
    assert figures["one_digit"]["ndb"] > 0.5 and figures["noise"]["ndb"] > 0.5
    assert figures["real"]["ndb_js"] < 0.1 * figures["one_digit"]["ndb_js"]


def test_second_build_comes_from_the_cache(mnist, reference):
    again = metrics.build_reference(mnist)
    assert again.classifier_train_seconds == 0.0
    np.testing.assert_array_equal(again.sigma, reference.sigma)


def test_a_full_size_dataset_keeps_the_published_settings(reference):
    # 10,000 real test images: NDB's 100 cells, k = 3 and 5, a full-rank FID covariance
    assert reference.ndb_cells == 100 and len(reference.real_features) == 10000
    assert (reference.k_precision_recall, reference.k_density_coverage) == (3, 5)
    assert reference.caveats(samples=10000) == []
    assert reference.caveats(samples=100) == [  # the samples alone: FID's note only
        "FID: 100 samples are no more than the 128 feature dimensions, so their covariance is "
        "singular (rank below the dimension); FID is still computed, but it is biased upward "
        "at this count and compares only with FID at the same counts"]
