"""Sample images drawn during a run: grids, a progression strip and an animated GIF.

Tiled with Pillow, pixel-exact (nearest neighbour). Any channel count a dataset has: images
shaped (N, H, W) or (N, H, W, 1) give grayscale files, (N, H, W, 3) give RGB. Every function
writes its file atomically and returns its path.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from reports.files import atomic_write

SCALE = 2  # each sample pixel becomes SCALE x SCALE: 28 px digits are too small on screen
PAD = 2  # pixels between tiles
PAD_VALUE = 96  # mid-dark grey: separates tiles without competing with white strokes
LABEL_WIDTH = 80  # pixels left of the progression strip for its step labels
CAPTION = 22  # pixels above each GIF frame for its step

Frames = list[tuple[int, np.ndarray]]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] -> uint8: (N, H, W) for one channel, (N, H, W, 3) for three."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 and not (images.ndim == 4 and images.shape[-1] == 3):
        raise ValueError("expected images shaped (N,H,W), (N,H,W,1) or (N,H,W,3), got "
                         f"{images.shape}")
    images = np.nan_to_num(images, nan=-1.0, posinf=1.0, neginf=-1.0)
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def grid_array(images: np.ndarray, ncols: int = 8, scale: int = SCALE, pad: int = PAD):
    """Tile images into one uint8 array, (rows, cols) or (rows, cols, 3); empty cells of the
    last row stay PAD_VALUE."""
    pixels = to_uint8(images)
    n, h, w = pixels.shape[:3]
    if n == 0:
        raise ValueError("no images to tile")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    th, tw = h * scale, w * scale
    out = np.full((nrows * th + (nrows + 1) * pad, ncols * tw + (ncols + 1) * pad,
                   *pixels.shape[3:]), PAD_VALUE, dtype=np.uint8)
    for i, img in enumerate(pixels):
        r, c = divmod(i, ncols)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        out[y:y + th, x:x + tw] = img.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def _save(img: Image.Image, path: str | Path, **options) -> Path:
    return atomic_write(path, lambda p: img.save(p, **options))


def sample_grid(images: np.ndarray, path: str | Path, ncols: int = 8) -> Path:
    """A grid of samples, no axes. Size: ncols*(W*SCALE) + (ncols+1)*PAD wide."""
    return _save(Image.fromarray(grid_array(images, ncols)), path, format="PNG")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _on_white(img: Image.Image, size: tuple[int, int], at: tuple[int, int]) -> Image.Image:
    """img pasted at `at` on a white canvas of `size`, in img's mode (L or RGB)."""
    canvas = Image.new(img.mode, size, "white")
    canvas.paste(img, at)
    return canvas


def progression_strip(frames: Frames, path: str | Path) -> Path:
    """One row per checkpoint (the same fixed-noise batch each time), its step on the left."""
    if not frames:
        raise ValueError("no frames: pass [(step, images), ...]")
    rows = [Image.fromarray(grid_array(images, ncols=len(images))) for _, images in frames]
    width = max(r.width for r in rows)
    strip = Image.new(rows[0].mode, (LABEL_WIDTH + width, sum(r.height for r in rows)), "white")
    draw, font, y = ImageDraw.Draw(strip), _font(12), 0
    for (step, _), row in zip(frames, rows, strict=True):
        strip.paste(row, (LABEL_WIDTH, y))
        text = f"step {step:,}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        # right-aligned, centred on the row (anchors need FreeType; this works without it)
        draw.text((LABEL_WIDTH - 6 - (right - left), y + (row.height - top - bottom) // 2),
                  text, fill="black", font=font)
        y += row.height
    return _save(strip, path, format="PNG")


def progression_gif(frames: Frames, path: str | Path, duration_ms: int = 300,
                    ncols: int = 8) -> Path:
    """An animated GIF, one frame per checkpoint, each captioned with its step.

    The last frame is held four times as long so the final state can be read.
    """
    if not frames:
        raise ValueError("no frames: pass [(step, images), ...]")
    grids = [Image.fromarray(grid_array(batch, ncols)) for _, batch in frames]
    size = (max(g.width for g in grids), max(g.height for g in grids) + CAPTION)
    images = []
    for (step, _), grid in zip(frames, grids, strict=True):
        img = _on_white(grid, size, (0, CAPTION))
        ImageDraw.Draw(img).text((PAD + 2, 3), f"step {step:,}", fill="black",
                                 font=_font(CAPTION - 7))
        images.append(img)
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 4]
    return _save(images[0], path, format="GIF", save_all=True, append_images=images[1:],
                 duration=durations, loop=0, disposal=1)
