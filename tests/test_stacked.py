"""Stacked MNIST's construction: seeded, each channel one source digit, labels the triple, test
digits kept out of training. On synthetic digits whose pixels name their index, and on real
MNIST from the data-dir setting (skipped, naming the places tried, without it)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.data import idx, stacked
from benchmarks.data.locate import data_dir_setting, idx_locator


def synthetic(n: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 digits whose first pixels spell their index and ``split``, so a stacked
    channel says which source image it is; labels cycle 0..9 shuffled."""
    images = np.zeros((n, 28, 28, 1), np.uint8)
    i = np.arange(n)
    images[:, 0, 0, 0], images[:, 0, 1, 0], images[:, 0, 2, 0] = i % 256, i // 256, split
    labels = np.random.default_rng(split).permutation(np.arange(n) % 10)
    return images, labels.astype(np.uint8)


def source_index(channel: np.ndarray) -> np.ndarray:
    return channel[:, 0, 0].astype(np.int64) + 256 * channel[:, 0, 1].astype(np.int64)


def test_each_channel_is_its_source_digit_and_the_label_is_the_triple():
    images, labels = synthetic(500, split=0)
    x, y = stacked.stack(images, labels, 2000, seed=3)
    assert x.shape == (2000, 28, 28, 3) and x.dtype == np.uint8
    assert y.shape == (2000,) and y.dtype == np.int64
    src = [source_index(x[..., c]) for c in range(3)]
    for c in range(3):  # the whole channel, not only the pixels that name it
        np.testing.assert_array_equal(x[..., c], images[src[c], :, :, 0])
    d1, d2, d3 = (labels[s].astype(np.int64) for s in src)
    np.testing.assert_array_equal(y, 100 * d1 + 10 * d2 + d3)
    # the three channels are drawn independently: they rarely share a source image
    assert np.mean(src[0] == src[1]) < 0.01
    # uniform with replacement over all 500 sources: each used, some more than once
    assert len(np.unique(np.concatenate(src))) == 500


def test_same_seed_same_arrays_other_seed_other_arrays():
    images, labels = synthetic(300, split=0)
    x1, y1 = stacked.stack(images, labels, 400, seed=7)
    x2, y2 = stacked.stack(images, labels, 400, seed=7)
    x3, y3 = stacked.stack(images, labels, 400, seed=8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3) and not np.array_equal(y1, y3)


def test_training_triples_hold_only_training_digits_and_test_only_test():
    (x_tr, y_tr), (x_te, y_te) = synthetic(600, split=0), synthetic(100, split=1)
    out = stacked.stacked_arrays((x_tr, y_tr, x_te, y_te, "abc"), train_size=900, test_size=300)
    sx_tr, sy_tr, sx_te, sy_te, checksum = out
    assert sx_tr.shape == (900, 28, 28, 3) and sx_te.shape == (300, 28, 28, 3)
    assert (sx_tr[:, 0, 2, :] == 0).all() and (sx_te[:, 0, 2, :] == 1).all()
    assert source_index(sx_te[..., 0]).max() < 100
    assert checksum == stacked.checksum("abc", train_size=900, test_size=300)


def test_checksum_names_the_mnist_copy_the_seed_and_the_sizes():
    base = stacked.checksum("abc")
    others = {stacked.checksum("abd"), stacked.checksum("abc", seed=1),
              stacked.checksum("abc", train_size=1000), stacked.checksum("abc", test_size=1000)}
    assert base == stacked.checksum("abc") and base not in others and len(others) == 4


@pytest.mark.parametrize("images, labels, problem", [
    (np.zeros((5, 28, 28, 3), np.uint8), np.zeros(5), "(N, H, W, 1)"),
    (np.zeros((5, 28, 28, 1), np.float32), np.zeros(5), "uint8"),
    (np.zeros((5, 28, 28, 1), np.uint8), np.zeros(4), "one label per image"),
])
def test_bad_sources_are_refused_in_one_line(images, labels, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        stacked.stack(images, labels, 10, seed=0)


def test_class_names_are_the_triples():
    assert len(stacked.CLASS_NAMES) == 1000
    assert stacked.CLASS_NAMES[0] == "000" and stacked.CLASS_NAMES[472] == "472"


@pytest.fixture(scope="module")
def mnist_arrays():
    """Real MNIST's uint8 arrays, found where the registry looks, never downloaded."""
    found, tried = idx_locator("mnist", "mnist.npz", idx.MNIST_NPZ_SHA256,
                               lambda arrays, source: arrays)(data_dir_setting(None))
    if found is None or found.source == "download":
        pytest.skip(f"real MNIST not found without downloading (tried: {'; '.join(tried)}); "
                    "set BENCHMARKS_DATA_DIR to its folder")
    return found.load()


def test_real_stacked_mnist_is_the_papers_size_and_holds_out_test_digits(mnist_arrays):
    x_tr, y_tr, x_te, y_te, mnist_checksum = mnist_arrays
    sx_tr, sy_tr, sx_te, sy_te, checksum = stacked.stacked_arrays(mnist_arrays)
    assert sx_tr.shape == (128000, 28, 28, 3) and sx_te.shape == (26000, 28, 28, 3)
    assert sx_tr.dtype == sx_te.dtype == np.uint8
    assert sy_tr.dtype == sy_te.dtype == np.int64
    assert checksum == stacked.checksum(mnist_checksum) != mnist_checksum
    # every channel is an MNIST digit of its own split (no image is in both: checked by bytes)
    train_index = {img.tobytes(): i for i, img in enumerate(x_tr)}
    test_index = {img.tobytes(): i for i, img in enumerate(x_te)}
    splits = ((sx_tr[:3000], sy_tr[:3000], train_index, test_index, y_tr),
              (sx_te[:3000], sy_te[:3000], test_index, train_index, y_te))
    for sx, sy, own, other, labels in splits:
        digits = []
        for c in range(3):
            keys = [np.ascontiguousarray(img[..., c:c + 1]).tobytes() for img in sx]
            assert not any(k in other for k in keys)
            digits.append(labels[[own[k] for k in keys]].astype(np.int64))
        np.testing.assert_array_equal(sy, 100 * digits[0] + 10 * digits[1] + digits[2])
    # 26,000 draws of 1,000 equally likely triples: each present (missed with p = e^-26)
    assert len(np.unique(sy_te)) == 1000 and len(np.unique(sy_tr)) == 1000
