"""Plots of the record for the report: FID and mode curves over training, class histograms,
loss curves. Drawn with Matplotlib's Agg canvas, never pyplot, so no GUI backend or global
figure state is involved. Each function writes its PNG atomically and returns its path, or
returns None (and writes nothing) when the record holds nothing to plot. The 2-D mixture
scatters take arrays instead of the record (samples and mode centres) and always draw, or raise
ValueError for points that are not (n, 2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from reports import records
from reports.files import atomic_write

MAX_LOSS_POINTS = 400  # loss curves are smoothed, then drawn at most this many points
DPI = 110

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
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=DPI, facecolor="white"))


def _new_figure(ncols: int, nrows: int = 1, w: float = 4.6, h: float = 3.2):
    fig = Figure(figsize=(w * ncols, h * nrows), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _curve_plot(results: dict, path, keys: list[str]) -> Path | None:
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
        ax.set_title(records.label(results, key) + arrow, fontsize=10)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        if key == "fid" and _positive(ax):
            ax.set_yscale("log")
        k = records.num_classes(results)
        if records.is_count(results, key) and k:
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
    """The mode-collapse figures kept over training (modes covered and KL to the class
    prior; a mixture's modes, high-quality share and reverse KL), one panel each."""
    return _curve_plot(results, path, records.section_keys(results, "mode_collapse"))


MAX_CLASSES_DRAWN = 30  # as the report's tables: not Stacked MNIST's 1,000 triples


def class_histograms(results: dict, path: str | Path) -> Path | None:
    """One panel per model: share of samples per class (mean ± std over seeds) vs real data."""
    hists = records.histograms(results)
    if not hists or (records.num_classes(results) or 0) > MAX_CLASSES_DRAWN:
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


def sensitivity(results: dict, path: str | Path) -> Path | None:
    """Per swept model and setting: the primary metric against the setting's value, every
    seed a point, the mean over seeds a line (log scale for values spread over 10x or more)."""
    from reports.blocks import primary

    swept = results.get("config", {}).get("sweep") or {}
    key = primary(results, records.aggregate(results))
    panels = [(m, k) for m, lists in swept.items() for k, vs in lists.items()
              if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vs)]
    if key is None or not panels:
        return None
    fig, axes = _new_figure(len(panels))
    drew = False
    for ax, (model, setting) in zip(axes.flat, panels, strict=False):
        points = [(float(r["overrides"][setting]), float(r["final"][key]))
                  for r in results.get("runs", [])
                  if r["model"] == model and setting in (r.get("overrides") or {})
                  and records.scored(r) and isinstance(r["final"].get(key), (int, float))
                  and math.isfinite(r["final"][key])]
        if not points:
            continue
        drew = True
        x, y = np.array(points).T
        ax.scatter(x, y, color="C0", alpha=0.7, label="seed")
        xs = np.unique(x)
        ax.plot(xs, [y[x == v].mean() for v in xs], color="C0", lw=1, label="mean")
        if xs.min() > 0 and xs.max() / xs.min() >= 10:
            ax.set_xscale("log")
        ax.set_title(f"{model}: {records.label(results, key)} vs {setting}", fontsize=10)
        ax.set_xlabel(setting)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path) if drew else None


def nfe_curves(results: dict, path: str | Path) -> Path | None:
    """The iterative models' final weights at each NFE: FID, recall and the first mode count
    (records.sweep_keys), one panel each, NFE on a log axis, mean over seeds with a
    ±1 std band; the real data's floor dashed."""
    sweeps = records.nfe_sweeps(results)
    keys = [k for k in records.sweep_keys(results) if any(k in s for s in sweeps.values())]
    if not keys:
        return None
    colors, floor = _colors(results), results.get("floor") or {}
    fig, axes = _new_figure(len(keys), 1, w=4.2, h=3.2)
    for ax, key in zip(axes.flat, keys, strict=False):
        for name, by_key in sweeps.items():
            points = by_key.get(key) or {}
            nfe = np.array(sorted(points), dtype=float)
            mean = np.array([points[n].mean for n in sorted(points)])
            std = np.array([points[n].std or 0.0 for n in sorted(points)])
            ax.plot(nfe, mean, color=colors.get(name, "C0"), marker="o", ms=4, lw=1.6,
                    label=name)
            ax.fill_between(nfe, mean - std, mean + std, color=colors.get(name, "C0"),
                            alpha=0.15, lw=0)
        if isinstance(floor.get(key), (int, float)):
            ax.axhline(floor[key], color="gray", ls="--", lw=1, label="real data")
        ax.set_xscale("log", base=2)
        ticks = sorted({n for by_key in sweeps.values() for n in by_key.get(key) or {}})
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.set_xlabel("network evaluations per image (NFE)")
        ax.set_title(records.short_label(results, key))
        ax.legend(fontsize=8)
    return _save(fig, path)


# name of each record figure in run_dir/figures -> the function that draws it
RECORD_FIGURES: dict[str, Callable[[dict, str | Path], Path | None]] = {
    "class_histograms.png": class_histograms,
    "mode_curves.png": mode_curves,
    "fid_curves.png": fid_curves,
    "losses.png": loss_curves,
    "sensitivity.png": sensitivity,
    "nfe_curves.png": nfe_curves,
}


# ---- 2-D mixtures: samples over the modes, as VEEGAN's and PacGAN's Figure 2 --------------

MIXTURE_MARGIN = 1.5  # axes reach 1.5 x the farthest centre: the ring +-1.5, the grid +-6
MIXTURE_PANEL = 4.0  # inches, square: one scatter
PROGRESS_PANEL = 2.4  # inches, square: each step of the over-training row


def _plane(array, name: str) -> np.ndarray:
    x = np.asarray(array, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"{name} must be shaped (n >= 1, 2) points in the plane; got "
                         f"{x.shape}")
    return x


def mixture_limits(centres) -> tuple[float, float]:
    """Symmetric axis limits, MIXTURE_MARGIN times the farthest centre coordinate."""
    reach = float(np.abs(_plane(centres, "centres")).max())
    reach = MIXTURE_MARGIN * (reach if reach > 0 else 1.0)
    return -reach, reach


def _mixture_panel(ax, points, centres, limits, radius, title, small: bool):
    low, high = limits
    inside = np.isfinite(points).all(axis=1) & (points >= low).all(axis=1) \
        & (points <= high).all(axis=1)
    # the centres under the samples: a covered mode hides its cross, a missed one shows it
    ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=12 if small else 25, c="red",
               linewidths=0.8 if small else 1.0, zorder=1)
    ax.scatter(points[inside, 0], points[inside, 1], s=1.5 if small else 3, c="black",
               alpha=0.25, linewidths=0, zorder=2)
    if radius:
        for c in centres:
            ax.add_patch(Circle(tuple(c), radius, fill=False, color="red", lw=0.6, alpha=0.7))
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6 if small else 8)
    if title:
        ax.set_title(title, fontsize=8 if small else 10)
    off = int((~inside).sum())
    if off:  # a diverged or far-off generator is not silently an empty panel
        ax.text(0.02, 0.02, f"{off} of {len(points)} off the axes", transform=ax.transAxes,
                fontsize=6 if small else 8, color="C3")


def mixture_scatter(path: str | Path, points, centres, *, title: str | None = None,
                    limits: tuple[float, float] | None = None,
                    radius: float | None = None) -> Path:
    """Samples (n, 2) as small translucent black dots over the mode centres (K, 2) as red
    crosses (a mode no sample reaches shows its cross), equal aspect, square axes ``limits``
    (default ``mixture_limits(centres)``); ``radius`` draws a circle of it round each centre
    (3 sigma: where a sample is high quality). Points off the axes or not finite are counted
    in the corner, not drawn."""
    points, centres = _plane(points, "points"), _plane(centres, "centres")
    fig = Figure(figsize=(MIXTURE_PANEL, MIXTURE_PANEL), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    _mixture_panel(ax, points, centres, limits or mixture_limits(centres), radius, title,
                   small=False)
    return _save(fig, path)


def mixture_progress(path: str | Path, frames, centres, *, title: str | None = None,
                     limits: tuple[float, float] | None = None,
                     radius: float | None = None) -> Path:
    """Samples over training: one row of square panels, one per (step, points (n, 2)) in
    ``frames``, titled by step, all on the same axes as ``mixture_scatter``."""
    centres = _plane(centres, "centres")
    frames = [(step, _plane(points, f"points of step {step}")) for step, points in frames]
    if not frames:
        raise ValueError("mixture_progress needs at least one (step, points) frame")
    limits = limits or mixture_limits(centres)
    fig = Figure(figsize=(PROGRESS_PANEL * len(frames), PROGRESS_PANEL + 0.3 * bool(title)),
                 dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(frames), squeeze=False)[0]
    for ax, (step, points) in zip(axes, frames, strict=True):
        _mixture_panel(ax, points, centres, limits, radius, f"step {step}", small=True)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
