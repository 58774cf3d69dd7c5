"""One experiment: train one (model, settings, seed), evaluate it over training, score the final
and the best checkpoint, draw its sample figures, and return its results.json record.

It knows the pipeline (data -> model -> harness -> metrics -> figures) and nothing of the
command line, the output folder's bookkeeping or other runs: the runner loops over these.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import export
from benchmarks.config import RunConfig
from reports import schema

EVAL_SEED = 12345  # samples for scoring come from a fixed seed, apart from training's
PROGRESSION_SEED = 777  # the fixed noise batch whose images show training progress
PROGRESSION_IMAGES = 8
GRID_IMAGES = 64
LOSS_POINTS = 500  # loss curves are stored downsampled to at most this many steps


@dataclass(frozen=True)
class Context:
    """What every experiment of one run shares."""

    cfg: RunConfig
    dataset: object  # benchmarks.data.Dataset
    reference: object  # metrics.Reference: the scoring classifier and the real statistics
    run_dir: Path
    console: object  # benchmarks.console.Console
    summary: bool = False  # print each network's Keras summary before training


def run(name: str, seed: int, ctx: Context, should_stop: Callable[[], bool],
        overrides: dict | None = None) -> dict:
    """Train and evaluate ``name`` with ``seed`` and a sweep's ``overrides`` (on top of the
    run's ``--set`` values); the record of results.json's ``runs``."""
    import metrics
    from benchmarks.harness import build, train
    from models import registry

    cfg, ds, console = ctx.cfg, ctx.dataset, ctx.console
    overrides = dict(overrides or {})
    model_cfg = dataclasses.replace(registry.get(name).Config(),
                                    **{**cfg.overrides.get(name, {}), **overrides})
    model = build(name, model_cfg, seed=seed, precision=cfg.precision,
                  distribute=cfg.distribute, image_shape=ds.image_shape)
    if ctx.summary:
        for network in model.networks.values():
            network.summary(print_fn=lambda line, *_, **__: console.info(line))
    tag = file_tag(name, overrides, seed)
    weights = ctx.run_dir / "weights"
    checkpoints = ctx.run_dir / "checkpoints" / tag
    curves, frames, best = progress_so_far(checkpoints)
    if curves["step"] or (checkpoints / "checkpoint.npz").exists():
        console.info(f"{name} seed {seed}: continuing from its last checkpoint")

    def on_eval(step: int) -> None:
        model.prepare_sampling(ds.x_train)
        frames.append((step, model.sample(PROGRESSION_IMAGES, PROGRESSION_SEED)))
        samples = model.sample(cfg.eval_samples, EVAL_SEED)
        if not np.all(np.isfinite(samples)):
            return
        scores = metrics.evaluate(samples, ctx.reference, fast=True)
        curves["step"].append(step)
        for key in ("fid", "modes_covered", "kl_classes"):
            curves[key].append(scores.get(key))
        console.eval_line(name, seed, step, scores)
        if scores["fid"] < best["fid"]:
            best.update(step=step, fid=scores["fid"])
            model.save_weights(weights / f"{tag}-best")

    def on_checkpoint(step: int) -> None:  # what the harness's checkpoint does not hold
        save_progress(checkpoints, curves, frames, best)

    progress = console.progress(f"{name} s{seed}", cfg.steps)
    with progress:
        log = train(model, ds.x_train, steps=cfg.steps, batch_size=cfg.batch_size, seed=seed,
                    on_step=progress.update, on_eval=on_eval if cfg.eval_every else None,
                    eval_every=cfg.eval_every, should_stop=should_stop, jit=cfg.jit,
                    precision=cfg.precision, distribute=cfg.distribute,
                    checkpoint_dir=checkpoints if cfg.checkpoint_every else None,
                    checkpoint_every=cfg.checkpoint_every,
                    on_checkpoint=on_checkpoint if cfg.checkpoint_every else None)
    interrupted = should_stop() and log.steps_done < cfg.steps and log.diverged_at is None
    status = ("interrupted" if interrupted else
              "diverged" if log.diverged_at is not None else "finished")
    record = schema.new_run(
        name, seed, overrides=overrides, status=status, weights_scored=model.weights_scored,
        params=model.param_counts(),
        model_config=dataclasses.asdict(model_cfg), steps_done=log.steps_done,
        diverged_at=log.diverged_at, final=None, best=None, curves=curves,
        losses=downsample_losses(log.history),
        throughput={"images_per_s": log.images_per_s, "step_ms_median": log.step_ms_median,
                    "step_ms_p90": log.step_ms_p90, "compile_s": log.compile_s,
                    "peak_memory_mb": log.peak_memory_mb, "batch_size": cfg.batch_size,
                    "backend": cfg.backend, "precision": cfg.precision},
        figures={}, weights=f"weights/{tag}")
    if interrupted:
        return record
    figures = ctx.run_dir / "figures"
    from reports import images as fig

    if log.diverged_at is None:
        if not frames or frames[-1][0] != log.steps_done:
            on_eval(log.steps_done)  # the last frame and curve point are the final weights
        model.save_weights(weights / tag)
        record["final"] = full_eval(model, ctx)
        export.add(record, "final", model, weights / tag, ctx.run_dir)  # generator.keras
        fig.sample_grid(model.sample(GRID_IMAGES, EVAL_SEED), figures / f"{tag}-final.png")
        record["figures"]["samples_final"] = f"figures/{tag}-final.png"
        console.info(f"{name} seed {seed}: final FID {record['final']['fid']:.2f}, modes "
                     f"{record['final']['modes_covered']:.0f}/{ds.num_classes}")
    else:
        console.loud(f"{name} seed {seed} diverged at step {log.diverged_at} (loss not finite)")
    if best["step"] is not None and (weights / f"{tag}-best").exists():
        if record["final"] is None or best["step"] != log.steps_done:
            model.load_weights(weights / f"{tag}-best")
            best_scores = full_eval(model, ctx)
        else:
            best_scores = record["final"]
        record["best"] = {"step": best["step"], "metrics": best_scores}
        export.add(record, "best", model, weights / f"{tag}-best", ctx.run_dir)
        fig.sample_grid(model.sample(GRID_IMAGES, EVAL_SEED), figures / f"{tag}-best.png")
        record["figures"]["samples_best"] = f"figures/{tag}-best.png"
    if frames:
        fig.progression_strip(frames, figures / f"{tag}-progression.png")
        fig.progression_gif(frames, figures / f"{tag}-progression.gif")
        record["figures"]["progression_strip"] = f"figures/{tag}-progression.png"
        record["figures"]["progression_gif"] = f"figures/{tag}-progression.gif"
    shutil.rmtree(checkpoints, ignore_errors=True)  # the run is scored: weights/ keeps it
    return record


def file_tag(name: str, overrides: dict, seed: int) -> str:
    """The run's figure and weight file names: 'dcgan-s0', or 'dcgan-lr0.0001-s0' in a sweep."""
    settings = "".join(f"-{k}{v}" for k, v in sorted(overrides.items()))
    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", f"{name}{settings}-s{seed}")


PROGRESS_FILE = "progress.json"  # beside the harness's checkpoint.npz
FRAMES_FILE = "frames.npz"


def progress_so_far(folder: Path) -> tuple[dict, list, dict]:
    """The curves, progression frames and best step a checkpointed run had reached, or a
    fresh start; an unreadable file is a fresh start for the curves (training still
    continues from the harness's checkpoint)."""
    curves = {"step": [], "fid": [], "modes_covered": [], "kl_classes": []}
    frames: list[tuple[int, np.ndarray]] = []
    best = {"step": None, "fid": math.inf}
    try:
        saved = json.loads((folder / PROGRESS_FILE).read_text())
        with np.load(folder / FRAMES_FILE) as f:
            frames = [(int(step), f[f"s{step}"]) for step in saved["frame_steps"]]
        curves, best = saved["curves"], saved["best"]
        best["fid"] = math.inf if best["fid"] is None else best["fid"]
    except (OSError, ValueError, KeyError):
        pass
    return curves, frames, best


def save_progress(folder: Path, curves: dict, frames: list, best: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, write in ((FRAMES_FILE, lambda f: np.savez(f, **{f"s{s}": a for s, a in frames})),
                        (PROGRESS_FILE, lambda f: f.write(json.dumps({
                            "curves": curves, "frame_steps": [s for s, _ in frames],
                            "best": {**best, "fid": None if math.isinf(best["fid"])
                                     else best["fid"]}}).encode()))):
        tmp = folder / f".{name}.tmp"
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, folder / name)


def full_eval(model, ctx: Context) -> dict:
    """Every metric on ``cfg.samples`` samples (and reconstructions of the test split)."""
    import metrics

    cfg, ds = ctx.cfg, ctx.dataset
    model.prepare_sampling(ds.x_train)
    samples = model.sample(cfg.samples, EVAL_SEED)
    recon = None
    if model.reconstructs:
        originals = ds.x_test[: cfg.samples]
        recon = (originals, model.reconstruct(originals))
    return metrics.evaluate(samples, ctx.reference, reconstructions=recon)


def downsample_losses(losses: dict[str, list[float]], points: int = LOSS_POINTS) -> dict:
    if not losses:
        return {"step": []}
    n = len(next(iter(losses.values())))
    idx = np.unique(np.linspace(0, n - 1, min(n, points)).astype(int)) if n else np.array([], int)
    out = {"step": (idx + 1).tolist()}
    for key, values in losses.items():
        arr = np.asarray(values, dtype=np.float64)
        out[key] = [float(arr[i]) for i in idx]
    return out
