"""One experiment: train one (model, settings, seed), evaluate it over training, score the final
and the best checkpoint, draw its sample figures, and return its results.json record.

It knows the pipeline (data -> model -> harness -> metrics -> figures) and nothing of the
command line, the output folder's bookkeeping or other runs: the runner loops over these.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import export, sampling_cost
from benchmarks.config import ON_THE_FLY, RunConfig
from benchmarks.study import model_config
from benchmarks.trial import Scored, Training, Trial, TrialSpec
from reports.files import atomic_write, atomic_write_folder, atomic_write_text

EVAL_SEED = 12345  # samples for scoring come from a fixed seed, apart from training's
PROGRESSION_SEED = 777  # the fixed noise batch whose images show training progress
PROGRESSION_IMAGES = 8
GRID_IMAGES = 64
POINTS_SHOWN = 2500  # points per scatter figure of a mixture (PacGAN's figures' count)
# the curves kept over training, per reference kind (metrics.info.Kind), and the figure the
# best weights are chosen by (lower is better for both)
CURVES = {"classifier": ("fid", "modes_covered", "kl_classes"),
          "per_channel": ("fid", "modes_covered", "kl_classes", "modes_1000", "kl_triples"),
          "mixture": ("mixture_modes", "high_quality", "reverse_kl", "log_likelihood")}
SELECTED_BY = {"classifier": "fid", "per_channel": "fid", "mixture": "reverse_kl"}
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
    parent_run: str | None = None  # the command's MLflow parent run (benchmarks/tracking.py)


def run(spec: TrialSpec, ctx: Context, should_stop: Callable[[], bool]) -> Trial:
    """Train and evaluate one trial (its sweep's settings on top of the run's ``--set``
    values); its record, built from what training, scoring and drawing return."""
    files = Files(ctx.run_dir, spec.tag)
    model = build_model(spec, ctx)
    tracker = Tracker(model, spec, ctx, files)
    try:
        trial = trained_and_scored(model, tracker, ctx, files, should_stop)
    except BaseException:
        tracker.trackers.each("close", "failed")
        raise
    tracker.trackers.finish(trial, ctx.run_dir)
    return dataclasses.replace(trial, notes=trial.notes + tuple(tracker.trackers.notes))


def trained_and_scored(model, tracker: Tracker, ctx: Context, files: Files,
                       should_stop: Callable[[], bool]) -> Trial:
    """The trial trained, then scored (final and best) and drawn unless it was stopped."""
    spec = tracker.spec
    log = train_model(model, tracker, ctx, spec.seed, should_stop)
    trained = training(model, log, tracker.curves, ctx, files)
    notes = tracker.notes
    if should_stop() and log.steps_done < ctx.cfg.steps and log.diverged_at is None:
        return Trial(spec, "interrupted", trained, notes=notes)
    final, sweep = None, None
    if log.diverged_at is None:
        final, trained, sweep = scored_final(model, log, tracker, ctx, files, trained)
    else:
        ctx.console.loud(f"{spec.model} seed {spec.seed} diverged at step {log.diverged_at} "
                         "(loss not finite)")
    best = score_best(model, log, tracker.best, final, ctx, files)
    progression = draw_progression(tracker.frames, files, ctx.dataset.mixture)
    shutil.rmtree(files.checkpoints, ignore_errors=True)  # the trial is scored: weights/ keeps it
    status = "finished" if log.diverged_at is None else "diverged"
    return Trial(spec, status, trained, final=final, best=best, progression=progression,
                 notes=notes, nfe_sweep=sweep)


def scored_final(model, log, tracker: Tracker, ctx: Context, files: Files,
                 trained: Training) -> tuple[Scored, Training, dict | None]:
    """The final weights scored and their sampling cost. What each stage computes (training's
    throughput, the final scores, the sampling cost) is kept in the trial's checkpoint folder
    (``SCORED_FILE``) until the trial is recorded: a trial resumed after a signal or a crash
    in a later stage (the best weights' scoring, say) takes it from there instead of
    computing it again, when this process trained no step (its weights are then the final
    checkpoint's, the ones scored)."""
    if not tracker.frames or tracker.frames[-1][0] != log.steps_done:
        tracker.on_eval(log.steps_done)  # the last frame and curve point are the final weights
    keeping = ctx.cfg.checkpoint_every > 0  # without a checkpoint a resume trains from step 0
    folder, step = files.checkpoints, log.steps_done
    kept = {} if tracker.trained or not keeping else scored_before(folder, step)

    def keep(**done) -> None:  # SCORED_FILE grows by each stage as it is done
        kept.update(done)
        if keeping:
            atomic_write_text(folder / SCORED_FILE,
                              json.dumps({"step": step, **kept}, default=_as_json))

    if "throughput" in kept:
        trained = dataclasses.replace(trained, throughput=kept["throughput"])
    else:
        keep(throughput=trained.throughput)
    if "final" in kept:
        ctx.console.info(f"{model.name} seed {tracker.spec.seed}: final weights scored before "
                         f"it was stopped: {final_figures(kept['final'].metrics, ctx)}")
        model.prepare_sampling(ctx.dataset.x_train)  # what full_eval did before sampling
    else:
        keep(final=score_final(model, log, tracker, ctx, files))
    if "sweep" not in kept:  # None for a one-call sampler: sampled, no NFE sweep
        trained, sweep = sampling(model, trained, ctx)
        keep(throughput=trained.throughput, sweep=sweep)
    return kept["final"], trained, kept["sweep"]


def _as_json(value):
    """json.dumps's default for what SCORED_FILE holds: a Scored, a numpy number or array."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value.tolist()


def scored_before(folder: Path, step: int) -> dict:
    """What ``scored_final`` kept for the weights at ``step``: "throughput", then "final" (a
    Scored) and "sweep" as their stages were done; {} when there is none, it is of another
    step, or it cannot be read (what it held is then computed again)."""
    try:
        kept = json.loads((folder / SCORED_FILE).read_text())
        if kept["step"] != step:
            return {}
        return {"throughput": dict(kept["throughput"]),
                **({"final": Scored(**kept["final"])} if "final" in kept else {}),
                **({"sweep": kept["sweep"]} if "sweep" in kept else {})}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def sampling(model, trained: Training, ctx: Context) -> tuple[Training, dict | None]:
    """The final weights' sampling cost: images/s and NFE into the throughput, and an
    iterative model's scores at each NFE (on ``eval_samples`` samples each)."""
    speed = sampling_cost.sampling_speed(model, ctx.cfg.batch_size)
    trained = dataclasses.replace(trained, throughput={**trained.throughput, **speed})
    if model.iterative:
        ctx.console.info(f"{model.name}: scoring the final weights at NFE "
                         f"{', '.join(map(str, sampling_cost.NFE_SWEEP))}")
    return trained, sampling_cost.nfe_sweep(model, ctx.reference, ctx.cfg.eval_samples,
                                            EVAL_SEED)


@dataclass(frozen=True)
class Files:
    """Where one trial's files go, under the run folder; ``tag`` names them
    (``TrialSpec.tag``)."""

    run_dir: Path
    tag: str

    @property
    def weights(self) -> Path:
        return self.run_dir / "weights" / self.tag

    @property
    def best_weights(self) -> Path:
        return self.run_dir / "weights" / f"{self.tag}-best"

    @property
    def checkpoints(self) -> Path:  # the harness's checkpoint and this module's progress
        return self.run_dir / "checkpoints" / self.tag

    def figure(self, kind: str) -> tuple[Path, str]:
        """A figure's path, and the same relative to the run folder (the record's)."""
        relative = f"figures/{self.tag}-{kind}"
        return self.run_dir / relative, relative


def build_model(spec: TrialSpec, ctx: Context):
    """The run's model: its Config (``study.model_config``) built with the run's precision
    and distribution, each network's summary printed if asked."""
    from benchmarks.harness import build
    from models import registry

    cfg = ctx.cfg
    model_cfg = model_config(registry.get(spec.model).Config,
                             cfg.overrides.get(spec.model, {}), spec)
    model = build(spec.model, model_cfg, seed=spec.seed, precision=cfg.precision,
                  distribute=cfg.distribute, image_shape=ctx.dataset.image_shape)
    if ctx.summary:
        for network in model.networks.values():
            network.summary(print_fn=lambda line, *_, **__: ctx.console.info(line))
    return model


class Tracker:
    """The run's listener to training: evaluates every ``eval_every`` steps, keeping the
    curves, the progression frames and the best weights, and saves them beside each
    checkpoint, so a resumed run continues them. It has a harness Callback's four methods
    without subclassing it: this module imports no keras before a run starts."""

    def __init__(self, model, spec: TrialSpec, ctx: Context, files: Files):
        from benchmarks.harness import checkpoint

        self.model, self.spec, self.ctx, self.files = model, spec, ctx, files
        label = f"{spec.model} seed {spec.seed}"
        # a damaged checkpoint's note, for results.json's notes too (Trial.notes)
        self.notes = discard_unreadable(files, ctx.console, label)
        self.kind = ctx.reference.kind
        self.key = SELECTED_BY[self.kind]
        self.curves, self.frames, self.best = progress_so_far(files.checkpoints,
                                                              CURVES[self.kind], self.key)
        held = None
        if self.curves["step"] or (files.checkpoints / checkpoint.FILE).exists():
            ctx.console.info(f"{label}: continuing from its last checkpoint")
            held = checkpoint.held(files.checkpoints)
        self.trackers = open_trackers(model, spec, ctx, self, held)
        self.trained = False  # no step trained in this process yet (scored_final)

    def on_step(self, info) -> None:
        """The progress bar shows the steps; the tracker notes that this process trained."""
        self.trained = True

    def should_stop(self) -> bool:
        return False

    def on_eval(self, step: int) -> None:
        """The fixed noise batch's frame, then the fast metrics, and the best weights."""
        model, cfg = self.model, self.ctx.cfg
        model.prepare_sampling(self.ctx.dataset.x_train)
        shown = POINTS_SHOWN if self.kind == "mixture" else PROGRESSION_IMAGES
        self.frames.append((step, model.sample(shown, PROGRESSION_SEED)))
        samples = model.sample(cfg.eval_samples, EVAL_SEED)
        if not np.all(np.isfinite(samples)):
            return
        import metrics

        scores = metrics.evaluate(samples, self.ctx.reference, fast=True)
        self.curves["step"].append(step)
        for key in CURVES[self.kind]:
            self.curves[key].append(scores.get(key))
        self.trackers.evaluation(step, {k: scores.get(k) for k in CURVES[self.kind]},
                                 self.frames[-1][1])
        self.ctx.console.eval_line(self.spec.model, self.spec.seed, step, scores)
        if scores[self.key] < self.best[self.key]:
            self.best.update({"step": step, self.key: scores[self.key]})
            atomic_write_folder(self.files.best_weights, model.save_weights)

    def on_checkpoint(self, step: int) -> None:  # what the harness's checkpoint does not hold
        save_progress(self.files.checkpoints, self.curves, self.frames, self.best)


def open_trackers(model, spec: TrialSpec, ctx: Context, tracker: Tracker,
                  held: tuple[int, dict] | None):
    """The trial's trackers (``--tracker``), given what its checkpoint holds when resumed:
    the losses to its step, and the curves and frames saved beside it."""
    from benchmarks import tracking

    cfg = ctx.cfg
    step, history = held or (0, {})
    settings = {"dataset": ctx.dataset.name, "preset": cfg.preset, "steps": cfg.steps,
                "batch_size": cfg.batch_size, "eval_every": cfg.eval_every,
                "eval_samples": cfg.eval_samples, "samples": cfg.samples,
                "backend": cfg.backend, "precision": cfg.precision,
                **{f"config.{k}": v for k, v in dataclasses.asdict(model.config).items()}}
    swept = {**cfg.overrides.get(spec.model, {}), **spec.overrides}
    hparams = {"key": spec.key, "model": spec.model, "seed": spec.seed,
               **{f"{spec.model}.{k}": v for k, v in swept.items()}}
    mixture = ctx.dataset.mixture
    opening = tracking.Opening(
        tracking.parse(cfg.tracker), ctx.run_dir, spec.tag, spec.key, settings, hparams,
        frozenset(loss_steps(cfg.steps)), lambda s, samples: tracking.picture(samples, mixture),
        ctx.parent_run)
    return tracking.Trackers(opening, ctx.console,
                             tracking.Held(step, history, tracker.curves, tracker.frames))


def discard_unreadable(files: Files, console, label: str) -> tuple[str, ...]:
    """A checkpoint that cannot be read (a crash or a full disk while it was copied) is one
    note naming it, said and returned, and the run trains again from step 0: its progress and
    best weights go with it, so a later resume does not meet it again."""
    from benchmarks.harness import checkpoint

    try:
        checkpoint.read(files.checkpoints)
    except checkpoint.Unreadable as err:
        note = f"{label}: {err}; training it again from step 0"
        console.loud(note)
        shutil.rmtree(files.checkpoints, ignore_errors=True)
        shutil.rmtree(files.best_weights, ignore_errors=True)
        return (note,)
    return ()


def train_model(model, tracker: Tracker, ctx: Context, seed: int,
                should_stop: Callable[[], bool]):
    """The harness's train() with the run's settings, a progress bar and the tracker."""
    from benchmarks.harness import LambdaCallback, train

    cfg = ctx.cfg
    with ctx.console.progress(f"{model.name} s{seed}", cfg.steps) as progress:
        listeners = [tracker, tracker.trackers,
                     LambdaCallback(on_step=progress.update, should_stop=should_stop)]
        return train(model, training_set(ctx), steps=cfg.steps, batch_size=cfg.batch_size,
                     seed=seed, callbacks=listeners, eval_every=cfg.eval_every, jit=cfg.jit,
                     steps_per_call=cfg.steps_per_call,
                     precision=cfg.precision, distribute=cfg.distribute,
                     checkpoint_dir=tracker.files.checkpoints if cfg.checkpoint_every else None,
                     checkpoint_every=cfg.checkpoint_every)


def training_set(ctx: Context):
    """What a trial trains on: the dataset's training images, or (``--draw on-the-fly``)
    the digits they are stacked from, each batch's images drawn from them afresh."""
    from benchmarks.harness.onthefly import OnTheFly

    ds = ctx.dataset
    if ctx.cfg.draw == ON_THE_FLY:
        return OnTheFly(ds.channel_dataset.x_train, ds.stack)
    return ds.x_train


def training(model, log, curves: dict, ctx: Context, files: Files) -> Training:
    """The trial's training before scoring: its settings, losses and throughput."""
    cfg = ctx.cfg
    return Training(
        weights_scored=model.weights_scored, params=model.param_counts(),
        model_config=dataclasses.asdict(model.config), steps_done=log.steps_done,
        diverged_at=log.diverged_at, curves=curves, losses=downsample_losses(log.history),
        throughput={"images_per_s": log.images_per_s, "step_ms_median": log.step_ms_median,
                    "step_ms_p90": log.step_ms_p90, "compile_s": log.compile_s,
                    "peak_memory_mb": log.peak_memory_mb, "batch_size": cfg.batch_size,
                    "backend": cfg.backend, "precision": cfg.precision},
        weights=f"weights/{files.tag}")


def score_final(model, log, tracker: Tracker, ctx: Context, files: Files) -> Scored:
    """Every metric on the final weights, which are saved and exported, and their grid."""
    atomic_write_folder(files.weights, model.save_weights)
    final = full_eval(model, ctx)
    scored = Scored(final, draw_grid(model, "final", files, ctx),
                    export.save_in(model, files.weights, ctx.run_dir))  # generator.keras
    ctx.console.info(f"{model.name} seed {tracker.spec.seed}: final "
                     f"{final_figures(final, ctx)}")
    return scored


def final_figures(final: dict, ctx: Context) -> str:
    """The final scores' line: the mixture's figures, or FID and modes (and triples)."""
    if ctx.reference.kind == "mixture":
        return (f"modes {final['mixture_modes']:.0f}/{ctx.dataset.num_classes}, high quality "
                f"{final['high_quality']:.1%}, reverse KL {final['reverse_kl']:.3f}")
    figures = (f"FID {final['fid']:.2f}, modes {final['modes_covered']:.0f}/"
               f"{ctx.dataset.num_classes}")
    if "modes_1000" in final:
        figures += f", {final['modes_1000']:.0f} of 1,000 triples, KL {final['kl_triples']:.2f}"
    return figures


def score_best(model, log, best: dict, final: Scored | None, ctx: Context,
               files: Files) -> tuple[int, Scored] | None:
    """Every metric on the best evaluation's weights, exported, and their sample grid; when
    that was the final step, the final scores and exported file (written once); None without
    a best evaluation."""
    if best["step"] is None or not files.best_weights.exists():
        return None
    if final is None or best["step"] != log.steps_done:
        model.load_weights(files.best_weights)
        scores = full_eval(model, ctx)
        exported = export.save_in(model, files.best_weights, ctx.run_dir)
    else:
        scores, exported = final.metrics, final.exported
    return best["step"], Scored(scores, draw_grid(model, "best", files, ctx), exported)


def draw_grid(model, kind: str, files: Files, ctx: Context) -> str:
    """A grid of samples; for a mixture, a scatter of samples over its components' centres.
    Its path inside the run folder."""
    from reports import images, plots

    path, relative = files.figure(f"{kind}.png")
    mixture = ctx.dataset.mixture
    if mixture is not None:
        plots.mixture_scatter(path, model.sample(POINTS_SHOWN, EVAL_SEED), mixture.centres,
                              title=f"{model.name} ({kind}): {ctx.dataset.name}")
    else:
        images.sample_grid(model.sample(GRID_IMAGES, EVAL_SEED), path)
    return relative


def draw_progression(frames: list, files: Files, mixture=None) -> dict[str, str]:
    """The frames of the fixed noise batch over training, as a strip and a GIF; for a
    mixture, one scatter panel per evaluation. Figure name -> path inside the run folder."""
    if not frames:
        return {}
    from reports import images, plots

    if mixture is not None:
        path, relative = files.figure("progression.png")
        plots.mixture_progress(path, frames, mixture.centres)
        return {"progression_strip": relative}
    drawn = {}
    for draw, kind, key in ((images.progression_strip, "progression.png", "progression_strip"),
                            (images.progression_gif, "progression.gif", "progression_gif")):
        path, relative = files.figure(kind)
        draw(frames, path)
        drawn[key] = relative
    return drawn


PROGRESS_FILE = "progress.json"  # beside the harness's checkpoint.npz
FRAMES_FILE = "frames.npz"
SCORED_FILE = "scored.json"  # the final weights' scores, until the trial is recorded


def progress_so_far(folder: Path, keys=CURVES["classifier"], selected_by: str = "fid",
                    ) -> tuple[dict, list, dict]:
    """The curves (of ``keys``), progression frames and best step (by ``selected_by``) a
    checkpointed run had reached, or a fresh start; an unreadable file is a fresh start for
    the curves (training still continues from the harness's checkpoint)."""
    curves = {"step": [], **{key: [] for key in keys}}
    frames: list[tuple[int, np.ndarray]] = []
    best = {"step": None, selected_by: math.inf}
    try:
        saved = json.loads((folder / PROGRESS_FILE).read_text())
        with np.load(folder / FRAMES_FILE) as f:
            saved_frames = [(int(step), f[f"s{step}"]) for step in saved["frame_steps"]]
        saved_curves, saved_best = saved["curves"], dict(saved["best"])
        value = saved_best[selected_by]
        saved_best[selected_by] = math.inf if value is None else value
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return curves, frames, best  # all three fresh: never one file's half of the state
    return saved_curves, saved_frames, saved_best


def save_progress(folder: Path, curves: dict, frames: list, best: dict) -> None:
    atomic_write(folder / FRAMES_FILE, lambda tmp: np.savez(tmp, **{f"s{s}": a for s, a in frames}))
    atomic_write_text(folder / PROGRESS_FILE, json.dumps({
        "curves": curves, "frame_steps": [s for s, _ in frames],
        "best": {k: None if isinstance(v, float) and math.isinf(v) else v
                 for k, v in best.items()}}))


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


def loss_steps(n: int, points: int = LOSS_POINTS) -> list[int]:
    """The steps (1-based) whose losses a trial of ``n`` steps keeps: at most ``points``,
    evenly spread, the first and the last among them (the trackers write the same)."""
    if not n:
        return []
    return (np.unique(np.linspace(0, n - 1, min(n, points)).astype(int)) + 1).tolist()


def downsample_losses(losses: dict[str, list[float]], points: int = LOSS_POINTS) -> dict:
    if not losses:
        return {"step": []}
    steps = loss_steps(len(next(iter(losses.values()))), points)
    out = {"step": steps}
    for key, values in losses.items():
        arr = np.asarray(values, dtype=np.float64)
        out[key] = [float(arr[s - 1]) for s in steps]
    return out
