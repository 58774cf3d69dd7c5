"""The data layer on real files, on tiny IDX files written here, and on bad input."""

from __future__ import annotations

import gzip
import shutil
import struct
import time

import numpy as np
import pytest

from benchmarks import data
from benchmarks.errors import UserError

MNIST_TRAIN_HIST = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def write_idx(path, array: np.ndarray, compress=True):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def tiny_idx_folder(folder, n_train=12, n_test=5, compress=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": np.arange(n_train) % 10,
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": np.arange(n_test) % 10,
    }
    for key, stem in data.SPLIT_FILES.items():
        write_idx(folder / (stem + (".gz" if compress else "")), arrays[key], compress)
    return arrays


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_shapes_range_and_histograms(mnist):
    assert mnist.x_train.shape == (60000, 28, 28, 1) and mnist.x_test.shape == (10000, 28, 28, 1)
    assert mnist.x_train.dtype == np.float32 and mnist.y_train.dtype == np.int64
    assert mnist.x_train.min() == -1.0 and mnist.x_train.max() == 1.0
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_HIST
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_HIST
    # the official mean pixel (33.3184 of 255) survives the scaling to [-1, 1]
    assert abs((mnist.x_train.mean() + 1) * 127.5 - 33.3184) < 1e-3
    assert mnist.num_classes == 10 and mnist.image_shape == (28, 28, 1)
    assert mnist.classifier_gate == 99.0 and mnist.gate_rule.startswith("MNIST: 99 %")


def test_real_mnist_found_in_named_subfolder(mnist_dir, tmp_path):
    (tmp_path / "mnist").symlink_to(mnist_dir.resolve(), target_is_directory=True)
    found, _ = data.locate("mnist", tmp_path)
    assert found is not None and found.source == str(tmp_path / "mnist")


def test_corrupted_copy_of_real_file_is_an_error_naming_it(mnist_dir, tmp_path):
    for f in mnist_dir.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(bad.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed: the layout is fine, the checksum is not
    bad.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataError, match="checksum mismatch in .*t10k-labels-idx1-ubyte.gz"):
        data.load("mnist", tmp_path)
    row = data.check("mnist", tmp_path)  # `data` checks a copy as `run` would: not "yes"
    assert not row.available and "checksum mismatch" in row.detail


def test_mnist_files_asked_for_as_fashion_are_named_not_called_corrupt(mnist_dir):
    # the old message said "checksum mismatch ... delete it": advice that deletes good files
    with pytest.raises(data.DataError) as err:
        data.load("fashion-mnist", mnist_dir)
    msg = str(err.value)
    assert "is the official mnist" in msg and "not fashion-mnist" in msg
    assert "--dataset mnist" in msg and "delete" not in msg and "\n" not in msg


def test_fashion_files_asked_for_as_mnist_are_named(tmp_path):
    fashion = data.locate("fashion-mnist", None, download=False)[0]
    if fashion is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    for f in data.SPLIT_FILES.values():
        (tmp_path / f"{f}.gz").symlink_to(f"{fashion.source}/{f}.gz")
    with pytest.raises(data.DataError, match="official fashion-mnist .* not mnist"):
        data.load("mnist", tmp_path)


def test_truncated_real_file_is_an_error_naming_it(mnist_dir, tmp_path):
    for f in mnist_dir.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[: 1_000_000])
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.gz"):
        data.load("mnist", tmp_path)


def test_load_mnist_is_fast_enough_to_not_matter(mnist_dir):
    # a loose guard against an accidental quadratic loader, not the speed target itself
    t0 = time.perf_counter()
    data.load("mnist", mnist_dir)
    assert time.perf_counter() - t0 < 30


# --------------------------------------------------------------------------- tiny IDX files


@pytest.mark.parametrize("compress", [True, False])
def test_tiny_idx_folder_loads_exactly(tmp_path, compress):
    arrays = tiny_idx_folder(tmp_path, compress=compress)
    ds = data.load("mnist", tmp_path)
    assert ds.x_train.shape == (12, 28, 28, 1) and ds.x_test.shape == (5, 28, 28, 1)
    expected = arrays["train_images"][..., None] / 255 * 2 - 1
    np.testing.assert_allclose(ds.x_train, expected, atol=1e-6)
    assert ds.y_test.tolist() == [0, 1, 2, 3, 4]
    assert ds.source == str(tmp_path)
    # a subset is accepted for the pipeline; its gate says it was set for the full split
    assert ds.classifier_gate == 99.0
    assert "set for the official 60,000 training images, this copy holds 12" in ds.gate_rule
    assert "--classifier-gate PCT" in ds.gate_rule


def test_tiny_fashion_folder_in_named_subfolder(tmp_path):
    tiny_idx_folder(tmp_path / "fashion-mnist")
    ds = data.load("fashion-mnist", tmp_path)
    assert ds.name == "fashion-mnist" and ds.class_names[9] == "Ankle boot"


def test_keras_npz_is_read(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "mnist.npz", x_train=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
             y_train=np.arange(4), x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2))
    # not the official archive: its checksum does not match, so it is refused
    with pytest.raises(data.DataError, match="checksum mismatch in .*mnist.npz"):
        data.load("mnist", tmp_path)


def test_bad_magic_is_an_error(tmp_path):
    tiny_idx_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04" * 10))
    with pytest.raises(data.DataError, match="labels-idx1-ubyte.gz is not an unsigned-byte IDX"):
        data.load("mnist", tmp_path)


def test_truncated_payload_is_an_error(tmp_path):
    tiny_idx_folder(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-7]))
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte.gz is truncated"):
        data.load("mnist", tmp_path)


def test_mismatched_image_and_label_counts(tmp_path):
    tiny_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(3))
    with pytest.raises(data.DataError, match="holds 12 images but .* holds 3 labels"):
        data.load("mnist", tmp_path)


# --------------------------------------------------------------------------- digits, fallback


def test_digits_is_embedded_framed_and_split():
    ds = data.load("digits")
    assert ds.x_train.shape == (1437, 28, 28, 1) and ds.x_test.shape == (360, 28, 28, 1)
    assert ds.x_train.min() == -1.0 and ds.x_train.max() <= 1.0
    # stratified: every class in both splits in the same proportion (±1 image)
    tr, te = np.bincount(ds.y_train), np.bincount(ds.y_test)
    assert np.all(np.abs(te - tr * 360 / 1437) <= 1.5)
    # framed like MNIST: ink fitted to a 20x20 box, so the outer rows and columns stay empty
    # and almost no ink lies within 2 pixels of the edge; centred on its centre of mass
    ink = ds.x_train[..., 0] + 1
    for edge in (ink[:, 0], ink[:, -1], ink[:, :, 0], ink[:, :, -1]):
        assert edge.max() < 1e-6
    border = ink.sum() - ink[:, 2:-2, 2:-2].sum()
    assert border / ink.sum() < 0.01
    ys, xs = np.indices((28, 28))
    cy = (ink * ys).sum((1, 2)) / ink.sum((1, 2))
    assert abs(cy.mean() - 13.5) < 0.5
    assert data.load("digits").checksum == ds.checksum  # fixed split


def test_fallback_to_digits_when_mnist_absent_and_not_named(tmp_path):
    ds = data.load(None, tmp_path / "empty")
    assert ds.name == "digits"
    assert "FELL BACK TO 'digits'" in ds.note and "mnist was not found" in ds.note


def test_named_mnist_absent_is_an_error_listing_places(tmp_path):
    with pytest.raises(data.DataNotFound) as err:
        data.load("mnist", tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "/usr/share/datasets/mnist" in msg
    assert "--data-dir" in msg and "download" in msg
    assert isinstance(err.value, UserError)


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown dataset 'no_such_data'; choose one of: "
                                        "cifar10, digits, fashion-mnist, grid, mnist, ring, "
                                        "stacked-mnist, or an image"):
        data.load("no_such_data")


def test_data_dir_that_does_not_exist_is_reported(tmp_path):
    with pytest.raises(data.DataNotFound, match="no such folder"):
        data.load("mnist", tmp_path / "nope")


def test_real_fashion_mnist_if_installed():
    found, _ = data.locate("fashion-mnist", None, download=False)
    if found is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    ds = found.load()
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
