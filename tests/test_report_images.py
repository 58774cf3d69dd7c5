"""Sample images drawn during a run: grids, the progression strip and the GIF, in grayscale
for one channel and RGB for three.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from reports import images


def test_sample_grid_pixel_size(tmp_path):
    batch = np.linspace(-1, 1, 10 * 28 * 28).reshape(10, 28, 28, 1)
    path = images.sample_grid(batch, tmp_path / "g.png", ncols=4)
    with Image.open(path) as img:
        s, p = images.SCALE, images.PAD
        assert img.mode == "L"
        assert img.size == (4 * 28 * s + 5 * p, 3 * 28 * s + 4 * p)  # 10 images -> 3 rows
        px = np.asarray(img)
    assert px[p, p] == 0  # -1 -> black
    last = (p + 2 * (28 * s + p) + 28 * s - 1, p + 1 * (28 * s + p) + 28 * s - 1)  # image 9
    assert px[last] == 255  # +1 -> white
    assert px[-1, -1] == images.PAD_VALUE  # two empty cells in the last row


def test_progression_gif_frames(tmp_path):
    rng = np.random.default_rng(2)
    frames = [(step, rng.uniform(-1, 1, (8, 28, 28, 1))) for step in (0, 500, 1000, 1500)]
    path = images.progression_gif(frames, tmp_path / "p.gif", duration_ms=200)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
        assert gif.size[0] == 8 * 28 * images.SCALE + 9 * images.PAD
        assert gif.info["duration"] == 200
        gif.seek(3)
        assert gif.info["duration"] == 800  # the last frame is held


def test_progression_strip_one_row_per_step(tmp_path):
    rng = np.random.default_rng(3)
    frames = [(step, rng.uniform(-1, 1, (8, 28, 28, 1))) for step in (500, 1000, 1500)]
    path = images.progression_strip(frames, tmp_path / "s.png")
    with Image.open(path) as img:
        row = 28 * images.SCALE + 2 * images.PAD
        assert img.format == "PNG" and img.mode == "L" and img.size[1] == 3 * row
        assert img.size[0] == images.LABEL_WIDTH + 8 * 28 * images.SCALE + 9 * images.PAD
        px = np.asarray(img)
    label = px[:, :images.LABEL_WIDTH]
    assert (label[:, :10] == 255).all()  # a white margin: labels are right-aligned ...
    assert [label[i * row:(i + 1) * row].min() < 128 for i in range(3)] == [True] * 3  # ... dark
    # the second row's first tile is the second frame's first image, pixel for pixel
    y, x = row + images.PAD, images.LABEL_WIDTH + images.PAD
    want = np.round((np.clip(frames[1][1][0, ..., 0], -1, 1) + 1) * 127.5)
    assert (px[y:y + 28 * images.SCALE:images.SCALE, x:x + 28 * images.SCALE:images.SCALE]
            == want).all()




def _rgb_batch() -> np.ndarray:
    """Four 5x6 RGB images: pure red, green, blue, and a per-pixel ramp in each channel."""
    batch = -np.ones((4, 5, 6, 3))
    for i in range(3):
        batch[i, ..., i] = 1.0
    batch[3] = np.linspace(-1, 1, 5 * 6 * 3).reshape(5, 6, 3)
    return batch


def test_sample_grid_rgb_keeps_colours(tmp_path):
    batch = _rgb_batch()
    path = images.sample_grid(batch, tmp_path / "rgb.png", ncols=2)
    s, p = images.SCALE, images.PAD
    with Image.open(path) as img:
        assert img.mode == "RGB"
        assert img.size == (2 * 6 * s + 3 * p, 2 * 5 * s + 3 * p)
        px = np.asarray(img)
    expected = np.round((batch + 1) * 127.5).astype(np.uint8)
    for i in range(4):
        r, c = divmod(i, 2)
        y, x = p + r * (5 * s + p), p + c * (6 * s + p)
        tile = px[y:y + 5 * s, x:x + 6 * s]
        assert (tile[::s, ::s] == expected[i]).all() and (tile[1::s, 1::s] == expected[i]).all()
    assert tuple(px[p, p]) == (255, 0, 0) and tuple(px[p, p + 6 * s + p]) == (0, 255, 0)
    assert tuple(px[0, 0]) == (images.PAD_VALUE,) * 3


def test_progression_rgb_strip_and_gif(tmp_path):
    frames = [(step, _rgb_batch()) for step in (10, 20)]
    with Image.open(images.progression_strip(frames, tmp_path / "s.png")) as img:
        assert img.mode == "RGB"
        px = np.asarray(img)
    x = images.LABEL_WIDTH + images.PAD
    assert tuple(px[images.PAD, x]) == (255, 0, 0)  # first tile of the first row: red
    with Image.open(images.progression_gif(frames, tmp_path / "p.gif", ncols=4)) as gif:
        assert gif.n_frames == 2
        frame = np.asarray(gif.convert("RGB"))
    y, x = images.CAPTION + images.PAD, images.PAD + 6 * images.SCALE + images.PAD
    assert tuple(frame[y, x]) == (0, 255, 0)  # the second tile: green survives the palette


@pytest.mark.parametrize("shape", [(2, 5, 5, 2), (2, 5), (0, 5, 5, 1)])
def test_sample_grid_refuses_other_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=r"images shaped|no images"):
        images.sample_grid(np.zeros(shape), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_images_are_written_0644_without_temp_files(tmp_path):
    old = os.umask(0o077)
    try:
        path = images.sample_grid(np.zeros((2, 4, 4, 1)), tmp_path / "g.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]
