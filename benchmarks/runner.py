"""``run``: models x seeds -> train, evaluate over training, write results.json and the report.

Everything the user can get wrong (model names, numbers, overrides, the output folder, the
dataset) is checked before any training starts. Each finished (model, seed) is written to
results.json at once (atomically), so Ctrl-C or a crash loses only the one in progress.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks import data
from benchmarks.config import PRESETS, RunConfig, default_preset
from benchmarks.errors import UserError
from benchmarks.overrides import parse_overrides
from benchmarks.results import environment, write_json_atomic

SCHEMA_VERSION = 1
EVAL_SEED = 12345  # samples for scoring come from a fixed seed, apart from training's
PROGRESSION_SEED = 777  # the fixed noise batch whose images show training progress
PROGRESSION_IMAGES = 8
GRID_IMAGES = 64
AE_SAMPLER_FIT_IMAGES = 10000  # training images whose latents fit the AE's sampler mid-run


# --------------------------------------------------------------------------- arguments


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    from benchmarks.cli import dataset_name, positive_int

    p.add_argument("--models", default="dcgan,gan,ae", help="comma-separated model names")
    p.add_argument("--dataset", type=dataset_name, default=None,
                   help="mnist (default; falls back to digits if absent), fashion-mnist, digits")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="budget: smoke | quick (default on CPU) | standard (default on GPU)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, help="training steps per model and seed")
    budget.add_argument("--epochs", type=positive_int, help="epochs (converted to steps)")
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--seeds", type=positive_int, help="seeds per model (mean ± std)")
    p.add_argument("--eval-every", type=int, metavar="STEPS",
                   help="steps between cheap evaluations during training (0: only at the end)")
    p.add_argument("--eval-samples", type=positive_int, help="samples per cheap evaluation")
    p.add_argument("--samples", type=positive_int, help="samples for the final evaluation")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<time>-<dataset>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="M.KEY=V",
                   help="override a model default, e.g. --set dcgan.lr=2e-4 (repeatable)")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    p.add_argument("--jit", action="store_true", help="XLA-compile the TensorFlow step")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over all visible devices")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="classifier/statistics cache (default $BENCHMARKS_CACHE_DIR or "
                        "~/.cache/genbench)")
    p.set_defaults(func=cmd_run)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run folder holding results.json")
    p.set_defaults(func=cmd_report)


def _model_classes(names: list[str]) -> dict[str, type]:
    from models import registry

    classes = {}
    for name in names:
        try:
            classes[name] = registry.get(name)
        except (KeyError, ValueError) as e:
            raise UserError(str(e.args[0] if e.args else e)) from None
    return classes


def resolve_config(args) -> RunConfig:
    """Every check that can fail on user input, before any data or training."""
    import keras

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if not names:
        raise UserError("--models is empty; name at least one, e.g. --models dcgan,gan,ae")
    if len(set(names)) != len(names):
        raise UserError(f"--models names a model twice: {args.models}")
    classes = _model_classes(names)
    overrides = parse_overrides(args.overrides, {n: c.Config for n, c in classes.items()})
    if args.eval_every is not None and args.eval_every < 0:
        raise UserError(f"--eval-every {args.eval_every} must be 0 or more")
    preset_name = args.preset or default_preset()
    preset = PRESETS[preset_name]
    return RunConfig(
        models=tuple(names), dataset=args.dataset, data_dir=args.data_dir,
        backend=keras.backend.backend(), preset=preset_name,
        steps=args.steps or preset.steps, batch_size=args.batch_size or preset.batch_size,
        seeds=args.seeds or preset.seeds,
        eval_every=preset.eval_every if args.eval_every is None else args.eval_every,
        eval_samples=args.eval_samples or preset.eval_samples,
        samples=args.samples or preset.samples, out=args.out, overrides=overrides,
        precision=args.precision, jit=args.jit, distribute=args.distribute,
    )


def prepare_out(out: str | None, dataset: str) -> Path:
    folder = Path(out) if out else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{dataset}"
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        (folder / "weights").mkdir(exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to output folder {folder} ({e.strerror}); "
                        "choose another with --out DIR") from None
    return folder


# --------------------------------------------------------------------------- the run


class Interrupt:
    """First Ctrl-C: finish cleanly after the current step. Second: stop at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._old)


def cmd_run(args) -> int:
    from benchmarks.console import Console

    if args.resume:
        run_dir, results = _load_for_resume(args.resume)
        fields = {f.name for f in dataclasses.fields(RunConfig)}
        stored = {k: v for k, v in results["config"].items() if k in fields}
        cfg = RunConfig(**{**stored, "models": tuple(stored["models"])})
        _model_classes(list(cfg.models))
    else:
        cfg = resolve_config(args)
        run_dir = None
    console = Console()
    ds = data.load(cfg.dataset, cfg.data_dir)
    if ds.note:
        console.loud(ds.note)
    console.info(f"dataset {ds.name} from {ds.source}: {len(ds.x_train):,} train / "
                 f"{len(ds.x_test):,} test images")
    steps = cfg.steps
    if getattr(args, "epochs", None):
        steps = math.ceil(args.epochs * len(ds.x_train) / cfg.batch_size)
        cfg = dataclasses.replace(cfg, steps=steps)
    if run_dir is None:
        run_dir = prepare_out(cfg.out, ds.name)
        results = new_results(cfg, ds)
    results["command"] = results.get("command") or _command_line()
    results_path = run_dir / "results.json"
    write_json_atomic(results_path, results)

    import metrics

    console.info("scoring space: loading or training the dataset classifier ...")
    try:
        reference = metrics.build_reference(ds, cache_dir=getattr(args, "cache_dir", None),
                                            n=min(cfg.samples, len(ds.x_test)))
    except metrics.MetricsError as e:
        raise UserError(str(e)) from None
    # fractions in results.json (metrics keeps percent): 0.9944, not 99.44
    results["classifier"] = {"test_accuracy": reference.classifier_accuracy / 100,
                             "gate": reference.classifier_gate / 100,
                             "train_seconds": reference.classifier_train_seconds}
    results["metrics"] = {k: {"label": m.label, "description": m.description,
                              "direction": m.direction} for k, m in metrics.METRICS.items()}
    if not results.get("floor"):
        results["floor"] = metrics.real_floor(reference, n=min(cfg.samples, len(ds.x_train)))
    write_json_atomic(results_path, results)

    done = {(r["model"], r["seed"]) for r in results["runs"] if r["status"] != "interrupted"}
    results["runs"] = [r for r in results["runs"] if (r["model"], r["seed"]) in done]
    status = "complete"
    with Interrupt() as interrupt:
        try:
            for name in cfg.models:
                for seed in range(cfg.seeds):
                    if (name, seed) in done:
                        console.info(f"{name} seed {seed}: already finished, skipped (resume)")
                        continue
                    record = run_one(name, seed, cfg, ds, reference, run_dir, console,
                                     lambda: interrupt.requested)
                    results["runs"].append(record)
                    write_json_atomic(results_path, results)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            status = "interrupted"
            results["notes"].append(f"interrupted by the user at {datetime.now():%H:%M:%S}; "
                                    f"resume with: python -m benchmarks run --resume {run_dir}")
    results["status"] = status
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    write_json_atomic(results_path, results)
    report = render(run_dir)
    console.summary(results, report)
    return 130 if status == "interrupted" else 0


def run_one(name, seed, cfg: RunConfig, ds, reference, run_dir: Path, console, should_stop):
    import metrics
    from benchmarks.harness import build, train
    from models import registry

    model_cfg = dataclasses.replace(registry.get(name).Config(), **cfg.overrides.get(name, {}))
    model = build(name, model_cfg, seed=seed, precision=cfg.precision,
                  distribute=cfg.distribute, image_shape=ds.image_shape)
    tag = f"{name}-s{seed}"
    weights = run_dir / "weights"
    curves = {"step": [], "fid": [], "modes_covered": [], "kl_classes": []}
    frames: list[tuple[int, np.ndarray]] = []
    best = {"step": None, "fid": math.inf}
    fit_images = ds.x_train[:AE_SAMPLER_FIT_IMAGES]

    def on_eval(step: int) -> None:
        model.prepare_sampling(fit_images)
        frames.append((step, model.sample(PROGRESSION_IMAGES, PROGRESSION_SEED)))
        samples = model.sample(cfg.eval_samples, EVAL_SEED)
        if not np.all(np.isfinite(samples)):
            return
        scores = metrics.evaluate(samples, reference, fast=True)
        curves["step"].append(step)
        for key in ("fid", "modes_covered", "kl_classes"):
            curves[key].append(scores.get(key))
        console.eval_line(name, seed, step, scores)
        if scores["fid"] < best["fid"]:
            best.update(step=step, fid=scores["fid"])
            model.save_weights(weights / f"{tag}-best")

    progress = console.progress(f"{name} s{seed}", cfg.steps)
    with progress:
        log = train(model, ds.x_train, steps=cfg.steps, batch_size=cfg.batch_size, seed=seed,
                    on_step=progress.update, on_eval=on_eval if cfg.eval_every else None,
                    eval_every=cfg.eval_every, should_stop=should_stop, jit=cfg.jit,
                    precision=cfg.precision, distribute=cfg.distribute)
    interrupted = should_stop() and log.steps_done < cfg.steps and log.diverged_at is None
    record = {
        "model": name, "seed": seed,
        "status": "interrupted" if interrupted else
                  "diverged" if log.diverged_at is not None else "finished",
        "params": model.param_counts(), "model_config": dataclasses.asdict(model_cfg),
        "steps_done": log.steps_done, "diverged_at": log.diverged_at,
        "final": None, "best": None, "curves": curves,
        "losses": _downsample_losses(log.history),
        "throughput": {"images_per_s": log.images_per_s, "step_ms_median": log.step_ms_median,
                       "step_ms_p90": log.step_ms_p90, "compile_s": log.compile_s,
                       "peak_memory_mb": log.peak_memory_mb, "batch_size": cfg.batch_size,
                       "backend": cfg.backend, "precision": cfg.precision},
        "figures": {}, "weights": f"weights/{tag}",
    }
    if interrupted:
        return record
    figures = run_dir / "figures"
    from reports import figures as fig

    if log.diverged_at is None:
        if not frames or frames[-1][0] != log.steps_done:
            on_eval(log.steps_done)  # the last frame and curve point are the final weights
        model.save_weights(weights / tag)
        record["final"] = _full_eval(model, ds, reference, cfg)
        fig.sample_grid(model.sample(GRID_IMAGES, EVAL_SEED), figures / f"{tag}-final.png")
        record["figures"]["samples_final"] = f"figures/{tag}-final.png"
        console.info(f"{name} seed {seed}: final FID {record['final']['fid']:.2f}, modes "
                     f"{record['final']['modes_covered']:.0f}/{ds.num_classes}")
    else:
        console.loud(f"{name} seed {seed} diverged at step {log.diverged_at} (loss not finite)")
    if best["step"] is not None and (weights / f"{tag}-best").exists():
        if record["final"] is None or best["step"] != log.steps_done:
            model.load_weights(weights / f"{tag}-best")
            best_scores = _full_eval(model, ds, reference, cfg)
        else:
            best_scores = record["final"]
        record["best"] = {"step": best["step"], "metrics": best_scores}
        fig.sample_grid(model.sample(GRID_IMAGES, EVAL_SEED), figures / f"{tag}-best.png")
        record["figures"]["samples_best"] = f"figures/{tag}-best.png"
    if frames:
        fig.progression_strip(frames, figures / f"{tag}-progression.png")
        fig.progression_gif(frames, figures / f"{tag}-progression.gif")
        record["figures"]["progression_strip"] = f"figures/{tag}-progression.png"
        record["figures"]["progression_gif"] = f"figures/{tag}-progression.gif"
    return record


def _full_eval(model, ds, reference, cfg: RunConfig) -> dict:
    import metrics

    model.prepare_sampling(ds.x_train)
    samples = model.sample(cfg.samples, EVAL_SEED)
    recon = None
    if model.reconstructs:
        originals = ds.x_test[: cfg.samples]
        recon = (originals, model.reconstruct(originals))
    return metrics.evaluate(samples, reference, reconstructions=recon)


def _downsample_losses(losses: dict[str, list[float]], points: int = 500) -> dict:
    if not losses:
        return {"step": []}
    n = len(next(iter(losses.values())))
    idx = np.unique(np.linspace(0, n - 1, min(n, points)).astype(int)) if n else np.array([], int)
    out = {"step": (idx + 1).tolist()}
    for key, values in losses.items():
        arr = np.asarray(values, dtype=np.float64)
        out[key] = [float(arr[i]) for i in idx]
    return out


def new_results(cfg: RunConfig, ds) -> dict:
    return {
        "schema_version": SCHEMA_VERSION, "status": "running",
        "started": datetime.now().isoformat(timespec="seconds"), "finished": None,
        "command": _command_line(),
        "config": {**dataclasses.asdict(cfg), "dataset": ds.name,
                   "dataset_requested": cfg.dataset or data.DEFAULT_DATASET,
                   "preset_about": PRESETS[cfg.preset].about},
        "environment": environment(cfg.backend),
        "dataset": {"name": ds.name, "source": ds.source, "note": ds.note,
                    "train_size": int(len(ds.x_train)), "test_size": int(len(ds.x_test)),
                    "class_names": list(ds.class_names)},
        "classifier": {}, "metrics": {}, "floor": {}, "runs": [],
        "notes": [],  # the fallback note is dataset.note
    }


def _command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def _load_for_resume(path: str) -> tuple[Path, dict]:
    from reports import records

    run_dir = Path(path)
    try:
        results = records.load(run_dir / "results.json")
    except (OSError, ValueError) as e:
        raise UserError(f"cannot resume {run_dir}: {e}") from None
    prepare_out(str(run_dir), results["dataset"]["name"])
    results["notes"].append(f"resumed at {datetime.now():%Y-%m-%d %H:%M:%S}")
    return run_dir, results


def render(run_dir: Path) -> Path:
    from reports import render_run

    return render_run(run_dir)


def cmd_report(args) -> int:
    from reports import records

    run_dir = Path(args.run_dir)
    try:
        path = render(run_dir)
    except (OSError, ValueError, records.RecordError) as e:
        raise UserError(f"cannot render {run_dir}: {e}") from None
    print(path)
    return 0


