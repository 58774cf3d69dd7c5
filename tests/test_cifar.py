"""CIFAR-10's reader on small archives written here in the official format (pickled batches:
b"data" uint8 (N, 3072) as R, G, B planes, b"labels"; batches.meta with b"label_names")."""

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import pytest

from benchmarks import data
from benchmarks.data import cifar

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
         b"ship", b"truck"]


def batches(per_batch=4, n_test=3, seed=0):
    """{file name: (NHWC uint8 images, labels)} for the five train batches and the test one."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in (*cifar.TRAIN_BATCHES, "test_batch"):
        n = n_test if name == "test_batch" else per_batch
        out[name] = (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                     rng.integers(0, 10, n).tolist())
    return out


def pickled(images, labels) -> bytes:
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)  # R plane, G, B
    return pickle.dumps({b"batch_label": b"test", b"labels": labels, b"data": planes,
                         b"filenames": [b"x.png"] * len(images)})


def write_folder(folder, content) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (images, labels) in content.items():
        (folder / name).write_bytes(pickled(images, labels))
    (folder / cifar.META).write_bytes(pickle.dumps({b"label_names": NAMES,
                                                    b"num_cases_per_batch": 10000}))


def write_archive(path, content) -> None:
    staging = path.parent / "staging"
    write_folder(staging / cifar.FOLDER, content)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(staging / cifar.FOLDER, arcname=cifar.FOLDER)


def expected(content):
    x_train = np.concatenate([content[n][0] for n in cifar.TRAIN_BATCHES])
    y_train = sum((content[n][1] for n in cifar.TRAIN_BATCHES), [])
    return x_train, y_train, *content["test_batch"]


def test_archive_round_trips_exactly(tmp_path):
    content = batches()
    write_archive(tmp_path / cifar.ARCHIVE, content)
    (x_tr, y_tr, x_te, y_te, _), names = cifar.read(tmp_path / cifar.ARCHIVE)
    ex_tr, ey_tr, ex_te, ey_te = expected(content)
    assert x_tr.dtype == np.uint8 and x_tr.shape == (20, 32, 32, 3) and x_te.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(x_tr, ex_tr)
    np.testing.assert_array_equal(x_te, ex_te)
    assert y_tr.tolist() == ey_tr and y_te.tolist() == ey_te and y_tr.dtype == np.int64
    assert names[0] == "airplane" and len(names) == 10

    ds = data.load("cifar10", tmp_path)  # through the registry: [-1, 1] floats, NHWC
    assert ds.image_shape == (32, 32, 3) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train, ex_tr / 127.5 - 1, atol=1e-6)
    assert ds.y_test.tolist() == ey_te and ds.class_names[9] == "truck"
    assert ds.source == str(tmp_path / cifar.ARCHIVE) and ds.classifier_gate == 70.0


def test_extracted_folder_in_keras_cache_layout(tmp_path, monkeypatch):
    content = batches(seed=1)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    # where keras.datasets.cifar10 extracts its download
    write_folder(tmp_path / "datasets" / "cifar-10-batches-py-target" / cifar.FOLDER, content)
    found, _ = data.locate("cifar10", tmp_path / "empty-nonexistent", download=False)
    assert found is not None and found.source.endswith("cifar-10-batches-py-target/"
                                                       "cifar-10-batches-py")
    ds = found.load()
    np.testing.assert_array_equal(ds.y_train, expected(content)[1])


def test_official_size_batch_must_match_its_checksum(tmp_path):
    content = batches()
    # a batch of the official 10,000 images that is not the official one: corrupt, refused
    content["data_batch_3"] = (np.zeros((10000, 32, 32, 3), np.uint8), [0] * 10000)
    write_folder(tmp_path / cifar.FOLDER, content)
    with pytest.raises(data.DataError, match="checksum mismatch in .*data_batch_3: its "
                                             "contents are not the official CIFAR-10 batch"):
        data.load("cifar10", tmp_path)
    row = data.check("cifar10", tmp_path)
    assert not row.available and "checksum mismatch" in row.detail


def test_pickle_that_would_run_code_is_refused(tmp_path):
    content = batches()
    write_folder(tmp_path / cifar.FOLDER, content)
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / cifar.FOLDER / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}))
    with pytest.raises(data.DataError, match="test_batch is not a readable CIFAR batch"):
        data.load("cifar10", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("damage, message", [
    ("missing", "lacks test_batch"),
    ("labels", "holds 3 images but its labels do not match"),
    ("shape", "data_batch_2 is not a CIFAR-10 batch"),
    ("truncated", "corrupt or truncated data file"),
])
def test_bad_copies_are_one_line_naming_the_file(tmp_path, damage, message):
    content = batches()
    if damage == "labels":
        content["test_batch"] = (content["test_batch"][0], [0, 1, 10])  # 10 is no class
    write_archive(tmp_path / cifar.ARCHIVE, content)
    raw = (tmp_path / cifar.ARCHIVE).read_bytes()
    if damage == "truncated":
        (tmp_path / cifar.ARCHIVE).write_bytes(raw[: len(raw) // 2])
    if damage in ("missing", "shape"):  # the extracted folder instead of the archive
        (tmp_path / cifar.ARCHIVE).unlink()
        write_folder(tmp_path / cifar.FOLDER, content)
    if damage == "missing":
        (tmp_path / cifar.FOLDER / "test_batch").unlink()
    if damage == "shape":
        (tmp_path / cifar.FOLDER / "data_batch_2").write_bytes(
            pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(data.DataError, match=message) as err:
        data.load("cifar10", tmp_path)
    assert "\n" not in str(err.value)


def test_absent_cifar_lists_places_and_the_download_skip(tmp_path):
    with pytest.raises(data.DataNotFound) as err:
        data.load("cifar10", tmp_path)
    assert str(tmp_path / "cifar10") in str(err.value)
    assert "download (skipped" in str(err.value)
