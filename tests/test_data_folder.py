"""Image folders: exact pixels and labels from PNGs written here, the split, sizes and channels,
the decode cache (and a damaged one), the gate rule, and every bad input as one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from benchmarks import data
from benchmarks.data import folder, folder_cache
from benchmarks.errors import UserError
from tests.clitools import assert_one_line_error, cli


def write_folder(root, classes=("ant", "bee", "cat"), per_class=5, size=(6, 4), mode="RGB",
                 seed=0, ext=".png"):
    """PNG (or JPEG) files of random pixels; returns {class: [uint8 array per file]}."""
    rng = np.random.default_rng(seed)
    written = {}
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        written[c] = []
        for i in range(per_class):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / c / f"img{i:02d}{ext}")
            written[c].append(pixels)
    return written


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(folder_cache.CACHE_ENV, str(path))
    return path


def test_train_test_folders_load_exactly(tmp_path):
    train = write_folder(tmp_path / "imgs" / "train", per_class=3)
    test = write_folder(tmp_path / "imgs" / "test", per_class=2, seed=1)
    ds = data.load(str(tmp_path / "imgs"))
    assert ds.class_names == ("ant", "bee", "cat") and ds.num_classes == 3
    assert ds.image_shape == (4, 6, 3) and ds.x_train.dtype == np.float32
    assert ds.y_train.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and ds.y_test.tolist() == [0, 0,
                                                                                           1, 1,
                                                                                           2, 2]
    expected = np.stack([a for c in ("ant", "bee", "cat") for a in train[c]])
    np.testing.assert_allclose(ds.x_train, expected / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(ds.x_test[-1], test["cat"][-1] / 127.5 - 1, atol=1e-6)
    assert ds.name == "folder-imgs" and "its own train/ and test/" in ds.source
    assert ds.request == "folder:" + str((tmp_path / "imgs").resolve())


def test_hold_out_is_stratified_seeded_and_disjoint(tmp_path, tmp_path_factory):
    write_folder(tmp_path, classes=("a", "b"), per_class=10)
    ds = data.load(f"folder:{tmp_path}")
    # 20 % of each class, at least one: 2 of 10 per class
    assert np.bincount(ds.y_test).tolist() == [2, 2] and np.bincount(ds.y_train).tolist() == [8, 8]
    every = np.concatenate([ds.x_train, ds.x_test]).reshape(20, -1)
    assert len(np.unique(every, axis=0)) == 20  # no image in both splits
    assert "hold-out of 20% of each class (seed 0)" in ds.source
    again = data.load(f"folder:{tmp_path}", cache_dir=tmp_path_factory.mktemp("other-cache"))
    np.testing.assert_array_equal(again.x_test, ds.x_test)  # same seed, same split


def test_grayscale_as_stored_and_channel_conversions(tmp_path):
    gray = write_folder(tmp_path / "g", mode="L", per_class=2)
    ds = data.load(str(tmp_path / "g"))
    assert ds.image_shape == (4, 6, 1)
    as_rgb = data.load(str(tmp_path / "g"), channels=3)
    assert as_rgb.image_shape == (4, 6, 3)
    np.testing.assert_array_equal(as_rgb.x_train[..., 0], as_rgb.x_train[..., 2])
    rgb = write_folder(tmp_path / "c" / "train", per_class=2)
    write_folder(tmp_path / "c" / "test", per_class=1)
    as_gray = data.load(str(tmp_path / "c"), channels=1)
    # ITU-R 601-2 luma, as Pillow documents for convert("L"): L = R*299/1000 + G*587/1000 + ...
    r, g, b = (rgb["ant"][0][0, 0, k].astype(int) for k in range(3))
    luma = (r * 299 + g * 587 + b * 114 + 500) // 1000
    assert abs((as_gray.x_train[0, 0, 0, 0] + 1) * 127.5 - luma) <= 1
    assert gray["ant"][0].shape == (4, 6)


def test_mixed_sizes_need_image_size_then_resize(tmp_path):
    write_folder(tmp_path, classes=("a",), per_class=2, size=(6, 4))
    write_folder(tmp_path, classes=("b",), per_class=2, size=(9, 9), seed=3)
    with pytest.raises(data.DataError, match=r"images differ in size .*is 6x4, .*is 9x9.*"
                                             r"--image-size N"):
        data.load(str(tmp_path))
    ds = data.load(str(tmp_path), image_size=16)
    assert ds.image_shape == (16, 16, 3) and len(ds.x_train) + len(ds.x_test) == 4


def test_jpeg_files_are_read(tmp_path):
    write_folder(tmp_path, per_class=2, ext=".jpg")
    ds = data.load(str(tmp_path))
    assert ds.image_shape == (4, 6, 3) and len(ds.y_train) + len(ds.y_test) == 6


def test_gate_rule_default_and_override(tmp_path):
    write_folder(tmp_path, per_class=2)
    ds = data.load(str(tmp_path))
    # chance 33.3 %, plus half of the remaining 66.7 %: 66.7 %
    assert ds.classifier_gate == pytest.approx(100 / 3 + 0.5 * (100 - 100 / 3))
    assert "chance + half the distance to 100 % = 66.7 % for 3 classes" == ds.gate_rule
    ds = data.load(str(tmp_path), classifier_gate=40)
    assert ds.classifier_gate == 40.0 and ds.gate_rule.startswith("--classifier-gate 40 %")
    assert data.chance_gate(10) == 55.0 and data.chance_gate(2) == 75.0


def test_second_load_uses_the_cache_without_decoding(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs")
    first = data.load(str(tmp_path / "imgs"))

    def no_decode(*args):
        raise AssertionError("decoded again despite a valid cache entry")

    monkeypatch.setattr(folder, "decode", no_decode)
    second = data.load(str(tmp_path / "imgs"))
    np.testing.assert_array_equal(second.x_train, first.x_train)
    assert second.checksum == first.checksum
    # a changed file changes the key: decoded again
    img = tmp_path / "imgs" / "bee" / "img00.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(img)
    os.utime(img, ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        data.load(str(tmp_path / "imgs"))


@pytest.mark.parametrize("damage", ["garble", "truncate", "forged"])
def test_damaged_cache_file_is_treated_as_missing(tmp_path, cache, damage):
    write_folder(tmp_path / "imgs")
    first = data.load(str(tmp_path / "imgs"))
    (entry,) = (cache / "folders").glob("*.npz")
    raw = bytearray(entry.read_bytes())
    if damage == "garble":
        mid = len(raw) // 2
        raw[mid:mid + 64] = bytes(64)
        entry.write_bytes(bytes(raw))
    elif damage == "truncate":
        entry.write_bytes(bytes(raw[: len(raw) // 3]))
    else:  # a readable file whose arrays were changed but whose stored digest was not
        with np.load(entry) as f:
            fields = {k: f[k] for k in f.files}
        fields["x_train"] = 255 - fields["x_train"]
        np.savez(entry.with_suffix(""), **fields)
    assert folder_cache.read(entry) is None
    again = data.load(str(tmp_path / "imgs"))
    np.testing.assert_array_equal(again.x_train, first.x_train)
    assert folder_cache.read(entry) is not None  # replaced by a good entry


# --------------------------------------------------------------------------- bad input


def test_bad_folders_are_one_line_each(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope", "does not exist")
    (tmp_path / "a-file.png").write_bytes(b"x")
    cases["file"] = (tmp_path / "a-file.png", "is not a folder")
    (tmp_path / "empty").mkdir()
    cases["empty"] = (tmp_path / "empty", "holds no PNG/JPEG images")
    write_folder(tmp_path / "one", classes=("only",))
    cases["one"] = (tmp_path / "one", r"holds one class \(only\)")
    write_folder(tmp_path / "holey")
    (tmp_path / "holey" / "dog").mkdir()
    cases["holey"] = (tmp_path / "holey", "class folder .*dog holds no PNG/JPEG")
    write_folder(tmp_path / "single", per_class=1)
    cases["single"] = (tmp_path / "single", "holds one image; the hold-out needs")
    write_folder(tmp_path / "split" / "train")
    write_folder(tmp_path / "split" / "test", classes=("ant", "bee"))
    cases["split"] = (tmp_path / "split", "hold different classes .*in one only: cat")
    for path, message in cases.values():
        with pytest.raises(data.DataError, match=message) as err:
            data.load(f"folder:{path}")
        assert "\n" not in str(err.value)


def test_corrupt_image_is_named(tmp_path):
    write_folder(tmp_path)
    bad = tmp_path / "bee" / "img03.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(data.DataError, match=f"corrupt image file {bad}"):
        data.load(str(tmp_path))
    # a valid header with its pixel data cut off: found when decoding, still named
    write_folder(tmp_path / "cut", size=(64, 64))
    cut = tmp_path / "cut" / "cat" / "img01.png"
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(data.DataError, match=f"corrupt image file {cut}"):
        data.load(str(tmp_path / "cut"))


def test_size_and_channel_flags_are_refused_for_named_datasets():
    with pytest.raises(UserError, match="--image-size and --channels apply to"):
        data.load("digits", image_size=32)


def test_data_command_checks_a_folder_it_is_pointed_at(tmp_path):
    write_folder(tmp_path / "good", per_class=42, size=(8, 8))  # the smallest that runs
    row = data.check(str(tmp_path / "good"))
    assert row.available and row.detail.startswith("102 train / 24 test, 8x8x3, 3 classes")
    # a folder run would refuse is the same one-line error, not a row
    write_folder(tmp_path / "bad")
    (tmp_path / "bad" / "ant" / "img00.png").write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="corrupt image file"):
        data.check(str(tmp_path / "bad"))


@pytest.mark.slow
def test_cli_refuses_bad_folders_before_training(tmp_path):
    write_folder(tmp_path / "one", classes=("only",))
    out = tmp_path / "out"
    proc = cli("run", "--dataset", str(tmp_path / "one"), "--preset", "smoke", "--models", "gan",
               "--out", str(out))
    assert_one_line_error(proc, "holds one class (only)")
    assert not out.exists()  # refused before the run folder was made
    proc = cli("run", "--dataset", f"folder:{tmp_path}/nope", "--models", "gan")
    assert_one_line_error(proc, "does not exist")
    proc = cli("run", "--dataset", "digits", "--classifier-gate", "0", "--models", "gan")
    assert_one_line_error(proc, "must be a percentage in (0, 100]")
    proc = cli("run", "--dataset", "digits", "--channels", "2", "--models", "gan")
    assert_one_line_error(proc, "--channels")
