"""Image folders whose files or links would load wrongly or dangerously: 16-bit PNGs (their
exact 8-bit values), links that lead back into the folder, and decompression bombs, each
refused in one line (exit 2) or read correctly."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from benchmarks import data
from benchmarks.data import folder_cache
from tests.clitools import assert_one_line_error, cli
from tests.test_data_folder import write_folder


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(folder_cache.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))


# --------------------------------------------------------------------------- 16-bit PNGs


def write_16bit(root, values_by_class):
    """One 16-bit grayscale PNG per array; returns {class: [uint16 arrays]}."""
    for name, arrays in values_by_class.items():
        (root / name).mkdir(parents=True)
        for i, values in enumerate(arrays):
            Image.fromarray(np.asarray(values, np.uint16)).save(root / name / f"{i}.png")


def test_16_bit_grayscale_pngs_scale_to_8_bits(tmp_path):
    # 257 * k is 8-bit k exactly (65535 = 257 * 255); in between, the nearest 8-bit value
    values = np.array([[0, 257, 514, 32896], [65535, 1000, 128, 65278]], np.uint16)
    expected = np.array([[0, 1, 2, 128], [255, 4, 0, 254]], np.uint8)  # round(v / 257)
    write_16bit(tmp_path / "train", {"a": [values], "b": [values[::-1]]})
    write_16bit(tmp_path / "test", {"a": [values], "b": [values[::-1]]})
    with Image.open(tmp_path / "train" / "a" / "0.png") as im:
        assert im.mode.startswith("I")  # Pillow's own convert("L") clips these to 0 and 255
    ds = data.load(str(tmp_path))
    assert ds.image_shape == (2, 4, 1)
    np.testing.assert_allclose((ds.x_train[0, ..., 0] + 1) * 127.5, expected, atol=1e-4)
    np.testing.assert_allclose((ds.x_test[1, ..., 0] + 1) * 127.5, expected[::-1], atol=1e-4)
    as_rgb = data.load(str(tmp_path), channels=3)  # the same values in every channel
    np.testing.assert_allclose((as_rgb.x_train[0] + 1) * 127.5,
                               np.repeat(expected[..., None], 3, axis=2), atol=1e-4)


# --------------------------------------------------------------------------- links


def test_a_link_back_into_the_folder_is_refused_in_one_line(tmp_path):
    write_folder(tmp_path / "imgs")
    os.symlink(".", tmp_path / "imgs" / "loop")
    with pytest.raises(data.DataError, match=r"class folder .*loop is a link back into the "
                                             r"image folder") as err:
        data.load(str(tmp_path / "imgs"))
    assert "\n" not in str(err.value)
    (tmp_path / "imgs" / "loop").unlink()
    os.symlink("..", tmp_path / "imgs" / "up")  # a link to the folder's parent: a loop too
    with pytest.raises(data.DataError, match=r"class folder .*up is a link back into"):
        data.load(str(tmp_path / "imgs"))
    (tmp_path / "imgs" / "up").unlink()
    os.symlink("ant", tmp_path / "imgs" / "ant2")  # another class's images, counted twice
    with pytest.raises(data.DataError, match=r"class folder .*ant2 is a link back into"):
        data.load(str(tmp_path / "imgs"))


def test_a_train_class_linked_to_the_test_split_is_refused(tmp_path):
    write_folder(tmp_path / "imgs" / "train", classes=("ant", "bee"))
    write_folder(tmp_path / "imgs" / "test", classes=("ant", "bee"), seed=1)
    os.symlink("../test/bee", tmp_path / "imgs" / "train" / "cat")
    os.symlink("../train/cat", tmp_path / "imgs" / "test" / "cat")
    with pytest.raises(data.DataError, match=r"class folder .*train/cat is a link back into"):
        data.load(str(tmp_path / "imgs"))


def test_a_link_to_images_outside_the_folder_is_a_class(tmp_path):
    write_folder(tmp_path / "elsewhere", classes=("dog",))
    write_folder(tmp_path / "imgs", classes=("ant", "bee"), seed=1)
    os.symlink(tmp_path / "elsewhere" / "dog", tmp_path / "imgs" / "dog")
    ds = data.load(str(tmp_path / "imgs"))
    assert ds.class_names == ("ant", "bee", "dog") and len(ds.x_train) + len(ds.x_test) == 15


# --------------------------------------------------------------------------- bombs


def write_bomb(path, width=20000, height=20000):
    """A valid 1-bit PNG of width x height black pixels (50 MB decoded, ~60 kB on disk),
    streamed through zlib so the test never holds the image."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    row = bytes(1 + -(-width // 8))  # filter byte 0, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_named_with_the_limit(tmp_path):
    write_folder(tmp_path / "imgs")
    bomb = tmp_path / "imgs" / "bee" / "huge.png"
    write_bomb(bomb)
    with pytest.raises(data.DataError) as err:
        data.load(str(tmp_path / "imgs"))
    message = str(err.value)
    assert f"image file {bomb} is 20000x20000 pixels" in message and "\n" not in message
    assert f"{Image.MAX_IMAGE_PIXELS:,}" in message  # the limit
    # above Pillow's limit but below twice it Pillow only warns: refused all the same
    write_bomb(bomb, width=10000, height=10000)
    with pytest.raises(data.DataError, match="is 10000x10000 pixels"):
        data.load(str(tmp_path / "imgs"))


@pytest.mark.slow
def test_a_decompression_bomb_is_one_line_in_run_and_data(tmp_path):
    write_folder(tmp_path / "imgs")
    bomb = tmp_path / "imgs" / "ant" / "huge.png"
    write_bomb(bomb)
    out = tmp_path / "out"
    proc = cli("run", "--dataset", str(tmp_path / "imgs"), "--preset", "smoke", "--models",
               "gan", "--out", str(out))
    assert_one_line_error(proc, str(bomb), "20000x20000", f"{Image.MAX_IMAGE_PIXELS:,}")
    assert not out.exists()
    proc = cli("data", str(tmp_path / "imgs"))
    assert_one_line_error(proc, str(bomb), "20000x20000", f"{Image.MAX_IMAGE_PIXELS:,}")


def test_an_image_linked_to_another_classs_image_is_refused_not_counted_twice(tmp_path):
    """A file link, not a folder link: bee/dup.png -> ../ant/img00.png (issue 29 item 9)."""
    write_folder(tmp_path / "imgs")
    link = tmp_path / "imgs" / "bee" / "dup.png"
    os.symlink("../ant/img00.png", link)
    with pytest.raises(data.DataError, match=r"image .*bee/dup.png is a link to .*ant/img00.png"
                                             r".*counted twice \(class bee and class ant\)"):
        data.load(str(tmp_path / "imgs"))
    link.unlink()
    outside = tmp_path / "elsewhere.png"  # a link out of the folder is an image like any other
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(outside)
    os.symlink(outside, link)
    ds = data.load(str(tmp_path / "imgs"))
    assert len(ds.x_train) + len(ds.x_test) == 16  # 3 classes of 5, and the linked one
