"""Figures for the report. Sample images are tiled with Pillow (pixel-exact, nearest
neighbour); plots are drawn with Matplotlib's Agg canvas, never pyplot, so no GUI backend
or global figure state is involved. Every function writes its file atomically and returns
its path; the plot functions return None (and write nothing) when the record holds nothing
to plot.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from reports import records

SCALE = 2  # each sample pixel becomes SCALE x SCALE: 28 px digits are too small on screen
PAD = 2  # pixels between tiles
PAD_VALUE = 96  # mid-dark grey: separates tiles without competing with white strokes
MAX_LOSS_POINTS = 400  # loss curves are smoothed, then drawn at most this many points
DPI = 110

Frames = list[tuple[int, np.ndarray]]


def _atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write via a temp file in the same folder, then os.replace: readers never see half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _as_gray(images: np.ndarray) -> np.ndarray:
    """(N,H,W) or (N,H,W,1) in [-1, 1] -> (N,H,W) uint8."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images shaped (N,H,W,1) or (N,H,W), got {images.shape}")
    images = np.nan_to_num(images, nan=-1.0, posinf=1.0, neginf=-1.0)
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def grid_array(images: np.ndarray, ncols: int = 8, scale: int = SCALE, pad: int = PAD):
    """Tile images into one uint8 array; empty cells of the last row stay PAD_VALUE."""
    gray = _as_gray(images)
    n, h, w = gray.shape
    if n == 0:
        raise ValueError("no images to tile")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    th, tw = h * scale, w * scale
    out = np.full((nrows * th + (nrows + 1) * pad, ncols * tw + (ncols + 1) * pad), PAD_VALUE,
                  dtype=np.uint8)
    for i, img in enumerate(gray):
        r, c = divmod(i, ncols)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        out[y:y + th, x:x + tw] = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
    return out


def sample_grid(images: np.ndarray, path: str | Path, ncols: int = 8) -> Path:
    """A grayscale grid of samples, no axes. Size: ncols*(W*SCALE) + (ncols+1)*PAD wide."""
    img = Image.fromarray(grid_array(images, ncols), mode="L")
    return _atomic(path, lambda p: img.save(p, format="PNG"))


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _labelled(grid: np.ndarray, text: str, band: int = 22) -> Image.Image:
    """The grid with a caption band above it."""
    img = Image.new("L", (grid.shape[1], grid.shape[0] + band), color=255)
    img.paste(Image.fromarray(grid, mode="L"), (0, band))
    ImageDraw.Draw(img).text((PAD + 2, 3), text, fill=0, font=_font(band - 7))
    return img


def progression_strip(frames: Frames, path: str | Path) -> Path:
    """One row per checkpoint (the same fixed-noise batch each time), labelled with its step."""
    if not frames:
        raise ValueError("no frames: pass [(step, images), ...]")
    rows = [grid_array(images, ncols=len(images)) for _, images in frames]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=PAD_VALUE)
            for r in rows]
    strip = np.concatenate(rows, axis=0)
    centres = np.cumsum([r.shape[0] for r in rows]) - np.array([r.shape[0] for r in rows]) / 2
    margin = 80  # pixels left of the strip for the step labels
    fig = Figure(figsize=((strip.shape[1] + margin) / DPI, strip.shape[0] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((margin / (strip.shape[1] + margin), 0, 1 - margin /
                       (strip.shape[1] + margin), 1))
    ax.imshow(strip, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="equal")
    ax.set_xticks([])
    ax.set_yticks(centres, [f"step {step:,}" for step, _ in frames], fontsize=9)
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return _atomic(path, lambda p: fig.savefig(p, format="png", dpi=DPI, facecolor="white"))


def progression_gif(frames: Frames, path: str | Path, duration_ms: int = 300,
                    ncols: int = 8) -> Path:
    """An animated GIF, one frame per checkpoint, each captioned with its step.

    The last frame is held four times as long so the final state can be read.
    """
    if not frames:
        raise ValueError("no frames: pass [(step, images), ...]")
    images = [_labelled(grid_array(batch, ncols), f"step {step:,}") for step, batch in frames]
    size = (max(i.width for i in images), max(i.height for i in images))
    images = [i if i.size == size else _pad_to(i, size) for i in images]
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 4]

    def write(p: Path) -> None:
        images[0].save(p, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0, disposal=1)

    return _atomic(path, write)


def _pad_to(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    out = Image.new("L", size, color=255)
    out.paste(img, (0, 0))
    return out


# ---- plots from the record -------------------------------------------------------------

def _colors(results: dict) -> dict[str, str]:
    palette = [f"C{i}" for i in range(10)]
    return {name: palette[i % 10] for i, name in enumerate(records.models(results))}


def _finite(values) -> np.ndarray:
    return np.array([v if isinstance(v, (int, float)) else np.nan for v in values], dtype=float)


def _band(series: list[tuple[np.ndarray, np.ndarray]]):
    """Seeds' (steps, values) on the union of their steps -> (grid, mean, std, n per point).

    A seed contributes only inside its own step range (a diverged seed stops early).
    """
    grid = np.unique(np.concatenate([s for s, _ in series]))
    stack = np.full((len(series), len(grid)), np.nan)
    for i, (steps, values) in enumerate(series):
        ok = np.isfinite(values)
        if ok.sum() == 0:
            continue
        inside = (grid >= steps[ok][0]) & (grid <= steps[ok][-1])
        stack[i, inside] = np.interp(grid[inside], steps[ok], values[ok])
    count = np.isfinite(stack).sum(axis=0)
    with warnings.catch_warnings():  # columns no seed covers: 'mean of empty slice'
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0, ddof=1) if len(series) > 1 else np.zeros(len(grid))
    return grid, mean, np.where(count > 1, std, 0.0), count


def _plot_band(ax, series, color, label, marker=None):
    grid, mean, std, count = _band(series)
    ax.plot(grid, mean, color=color, label=label, lw=1.6, marker=marker, ms=4)
    if len(series) > 1:
        ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2, lw=0)


def _curve_series(runs: list[dict], key: str):
    out = []
    for run in runs:
        curves = run.get("curves") or {}
        steps, values = curves.get("step") or [], curves.get(key) or []
        if steps and len(values) == len(steps) and np.isfinite(_finite(values)).any():
            out.append((np.asarray(steps, dtype=float), _finite(values)))
    return out


def _floor_line(ax, results: dict, key: str):
    value = (results.get("floor") or {}).get(key)
    if isinstance(value, (int, float)) and math.isfinite(value):
        ax.axhline(value, color="black", ls="--", lw=1, label="real data (floor)")


def _save(fig: Figure, path: str | Path) -> Path:
    fig.tight_layout()
    return _atomic(path, lambda p: fig.savefig(p, format="png", dpi=DPI, facecolor="white"))


def _new_figure(ncols: int, nrows: int = 1, w: float = 4.6, h: float = 3.2):
    fig = Figure(figsize=(w * ncols, h * nrows), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _curve_plot(results: dict, path, keys: list[str], title_suffix: str = "") -> Path | None:
    keys = [k for k in keys if records.has_curve(results, k)]
    if not keys:
        return None
    colors = _colors(results)
    markers = "osD^v<>ph*"  # evaluations are sparse: mark them, and tell overlapping lines apart
    fig, axes = _new_figure(len(keys))
    for ax, key in zip(axes[0], keys, strict=True):
        for i, (name, runs) in enumerate(records.runs_by_model(results).items()):
            series = _curve_series(runs, key)
            if series:
                n = len(series)
                _plot_band(ax, series, colors[name], f"{name} ({n} seed{'s' * (n > 1)})",
                           marker=markers[i % len(markers)])
        _floor_line(ax, results, key)
        arrow = {"lower": " (lower is better)", "higher": " (higher is better)"}.get(
            records.direction(results, key), "")
        ax.set_title(records.label(results, key) + arrow + title_suffix, fontsize=10)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        if key == "fid" and _positive(ax):
            ax.set_yscale("log")
        k = records.num_classes(results)
        if key == "modes_covered" and k:
            ax.set_ylim(0, k + 0.5)  # collapse reads against the full range of classes
        ax.legend(fontsize=8)
    return _save(fig, path)


def _positive(ax) -> bool:
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [np.array([])])
    ys = ys[np.isfinite(ys)]
    return ys.size > 0 and (ys > 0).all() and ys.max() / ys.min() > 20


def fid_curves(results: dict, path: str | Path) -> Path | None:
    """FID over training per model (mean over seeds, ±1 std band), floor dashed."""
    return _curve_plot(results, path, ["fid"])


def mode_curves(results: dict, path: str | Path) -> Path | None:
    """Modes covered and KL to the class prior over training, one panel each."""
    return _curve_plot(results, path, ["modes_covered", "kl_classes"])


def class_histograms(results: dict, path: str | Path) -> Path | None:
    """One panel per model: share of samples per class (mean ± std over seeds) vs real data."""
    hists = records.histograms(results)
    if not hists:
        return None
    names = [n for n in records.models(results) if n in hists]
    k = records.num_classes(results) or len(next(iter(hists.values()))[0])
    class_names = results.get("dataset", {}).get("class_names") or [str(i) for i in range(k)]
    floor = (results.get("floor") or {}).get(records.HISTOGRAM_KEY)
    colors = _colors(results)
    ncols = min(3, len(names))
    fig, axes = _new_figure(ncols, math.ceil(len(names) / ncols), w=4.2, h=2.8)
    top = max(max(max(h) for h in hs) for hs in hists.values())
    top = max(top, max(floor) if floor else 0, 1.0 / k) * 1.15
    for ax, name in zip(axes.flat, names, strict=False):
        arr = np.array([h[:k] for h in hists[name] if len(h) >= k], dtype=float)
        mean = arr.mean(axis=0)
        std = arr.std(axis=0, ddof=1) if len(arr) > 1 else None
        x = np.arange(k)
        ax.bar(x, mean, yerr=std, color=colors[name], alpha=0.85, capsize=2,
               label=f"{name} ({len(arr)} seed{'s' * (len(arr) > 1)})")
        if floor:
            ax.scatter(x, floor[:k], marker="_", s=220, color="black", zorder=3,
                       label="real data")
        ax.axhline(1.0 / k, color="grey", lw=0.8, ls=":")
        covered = records.aggregate(results).get(name, {}).get("modes_covered")
        title = name if covered is None else f"{name}: {covered.mean:.3g}/{k} modes covered"
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, class_names, fontsize=8)
        ax.set_ylim(0, top)
        ax.set_ylabel("share of samples", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    return _save(fig, path)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average that skips non-finite values (a NaN loss does not smear)."""
    ok = np.isfinite(values)
    filled = np.where(ok, values, 0.0)
    kernel = np.ones(window)
    total = np.convolve(filled, kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _loss_series(run: dict, name: str):
    losses = run.get("losses") or {}
    steps = np.asarray(losses.get("step") or [], dtype=float)
    values = _finite(losses.get(name) or [])
    if steps.size == 0 or values.size != steps.size:
        return None
    smoothed = _smooth(values, max(1, steps.size // 50))
    idx = np.unique(np.linspace(0, steps.size - 1, min(steps.size, MAX_LOSS_POINTS)).astype(int))
    return steps[idx], smoothed[idx]


def loss_curves(results: dict, path: str | Path) -> Path | None:
    """One panel per model, one line per loss (smoothed, mean over seeds with a band)."""
    if not records.has_losses(results):
        return None
    grouped = {n: rs for n, rs in records.runs_by_model(results).items()
               if any((r.get("losses") or {}).get("step") for r in rs)}
    ncols = min(3, len(grouped))
    fig, axes = _new_figure(ncols, math.ceil(len(grouped) / ncols), w=4.4, h=3.0)
    for ax, (name, runs) in zip(axes.flat, grouped.items(), strict=False):
        loss_names: list[str] = []
        for run in runs:
            loss_names += [k for k in (run.get("losses") or {}) if k != "step"
                           and k not in loss_names]
        for i, loss in enumerate(loss_names):
            series = [s for s in (_loss_series(r, loss) for r in runs) if s is not None]
            if series:
                _plot_band(ax, series, f"C{i}", loss)
        for run in runs:
            if run.get("diverged_at") is not None:
                ax.axvline(run["diverged_at"], color="red", ls=":", lw=1)
        ax.set_title(f"{name} losses ({len(runs)} seed{'s' * (len(runs) > 1)}, smoothed)",
                     fontsize=10)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(grouped):]:
        ax.set_visible(False)
    return _save(fig, path)


# name of each record figure in run_dir/figures -> the function that draws it
RECORD_FIGURES: dict[str, Callable[[dict, str | Path], Path | None]] = {
    "class_histograms.png": class_histograms,
    "mode_curves.png": mode_curves,
    "fid_curves.png": fid_curves,
    "losses.png": loss_curves,
}
