"""``run``, ``report`` and ``compare``: their arguments, and the checked settings they become."""

from __future__ import annotations

import argparse
import sys

from benchmarks import tracking
from benchmarks.cli.types import (
    MAX_EPOCHS,
    MAX_SAMPLES,
    MAX_SEEDS,
    MAX_STEPS,
    dataset_name,
    image_size,
    int_in,
    model_names,
    out_dir,
    percent,
    positive_int,
    tracker_names,
)
from benchmarks.config import DEFAULT_MODELS, DRAWS, PRESETS, RunConfig, default_preset
from benchmarks.errors import UserError

# --------------------------------------------------------------------------- run


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    from benchmarks.cli.commands import plugin_argument

    plugin_argument(p)
    p.add_argument("--models",
                   help="comma-separated model names, or 'all' (default: %(default)s)")
    p.add_argument("--dataset", type=dataset_name, default=None,
                   help="mnist (default; falls back to digits if absent), fashion-mnist, "
                        "digits, cifar10, or an image folder: PATH or folder:PATH")
    p.add_argument("--image-size", type=image_size, metavar="N",
                   help="image folders: resize to NxN (default: the images' own size)")
    p.add_argument("--channels", type=int, choices=(1, 3),
                   help="image folders: 1 (grayscale) or 3 (RGB) (default: as stored)")
    p.add_argument("--draw", choices=DRAWS,
                   help="how training images are drawn: fixed (the dataset's training split) "
                        "or on-the-fly (Stacked MNIST: each image three MNIST training digits "
                        "drawn afresh every batch, as PacGAN's Table 3 code draws them) "
                        "(default: the preset's; fixed but for pacgan-table3*)")
    p.add_argument("--classifier-gate", type=percent, metavar="PCT",
                   help="test accuracy (percent) the scoring classifier must reach "
                        "(default: the dataset's own; image folders: 50 + 50/classes)")
    _add_budget(p)
    _add_study(p)
    _add_machine(p)
    p.add_argument("--cache-dir", metavar="DIR",
                   help="classifier/statistics cache (default $BENCHMARKS_CACHE_DIR or "
                        "~/.cache/genbench)")
    _defaults_from_table(p)
    p.set_defaults(func=cmd_run)


def _add_budget(p: argparse.ArgumentParser) -> None:
    """How long each run trains and how many samples score it."""
    p.add_argument("--preset", choices=list(PRESETS),
                   help="budget: smoke | quick (default on CPU) | standard (default on GPU)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int_in(1, MAX_STEPS), help="training steps per model "
                        "and seed")
    budget.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), help="epochs (converted to "
                        "steps; a packed step reads pack images per batch element)")
    p.add_argument("--batch-size", type=positive_int, help="images per step (at most the "
                   "training set)")
    p.add_argument("--seeds", type=int_in(1, MAX_SEEDS), help="seeds per model (mean ± std)")
    p.add_argument("--eval-every", type=int_in(0, MAX_STEPS), metavar="STEPS",
                   help="steps between cheap evaluations during training (0: only at the end)")
    from metrics import MIN_SAMPLES

    samples = int_in(MIN_SAMPLES, MAX_SAMPLES, " (metrics need at least "
                     f"{MIN_SAMPLES}; 10,000 is the convention)")
    p.add_argument("--eval-samples", type=samples, help="samples per cheap evaluation")
    p.add_argument("--samples", type=samples, help="samples for the final evaluation")


def _add_study(p: argparse.ArgumentParser) -> None:
    """Where the run goes, what it varies, and where its runs execute."""
    p.add_argument("--out", type=out_dir, metavar="DIR",
                   help="output folder (default runs/<time>-<dataset>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    p.add_argument("--set", dest="overrides", action="append", metavar="M.KEY=V",
                   help="override a model default, e.g. --set dcgan.lr=2e-4 (repeatable)")
    p.add_argument("--sweep", action="append", metavar="M.KEY=V1,V2",
                   help="try each value, e.g. --sweep dcgan.lr=1e-4,2e-4 (repeatable: the "
                        "grid is the product of a model's lists, times --seeds)")
    p.add_argument("--executor", default="local",
                   help="local (default: in this process, or --workers N processes) | ray")
    p.add_argument("--workers", type=positive_int,
                   help="local: runs at once, each in its own process (one GPU each)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="ray: the cluster to join (default $RAY_ADDRESS, else a local one)")


def _add_machine(p: argparse.ArgumentParser) -> None:
    """How each step runs on this machine, and what the run keeps and prints."""
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"))
    p.add_argument("--jit", action="store_true", help="XLA-compile the TensorFlow step")
    p.add_argument("--steps-per-call", type=int_in(1, MAX_STEPS), metavar="K",
                   help="training steps per compiled call (default: the preset's; more cuts "
                        "the per-call overhead that bounds small networks)")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over all visible devices")
    p.add_argument("--checkpoint-every", type=int_in(0, MAX_STEPS), metavar="STEPS",
                   help="save the model in training every STEPS steps (0: never; default: "
                        "the preset's); --resume continues from the last checkpoint")
    p.add_argument("--summary", action="store_true",
                   help="print each network's Keras summary (layers, shapes, parameters) "
                        "before training it")
    tracker_argument(p)


def tracker_argument(p: argparse.ArgumentParser) -> None:
    """``--tracker``, for run and score (docs/tracking.md)."""
    p.add_argument("--tracker", type=tracker_names, metavar="NAMES",
                   help="where progress is written as it trains: tensorboard (default; "
                        "RUN_FOLDER/tensorboard/), mlflow (pip install genbench[mlflow]), "
                        "tensorboard,mlflow, or none")


def resolve_config(args) -> RunConfig:
    """Every check that can fail on user input, before any data or training."""
    import keras

    from benchmarks.overrides import parse_overrides
    from benchmarks.study import parse_sweeps
    from models import registry

    names = model_names(args.models)
    classes = {n: registry.get(n).Config for n in names}
    overrides = parse_overrides(args.overrides, classes)
    sweep = parse_sweeps(args.sweep, args.overrides, classes)
    preset_name = args.preset or default_preset()
    preset = PRESETS[preset_name]
    # the preset's model settings (a paper's), beneath --set
    overrides = {m: {**preset.settings.get(m, {}), **overrides.get(m, {})} for m in names
                 if preset.settings.get(m) or overrides.get(m)}
    return RunConfig(
        models=tuple(names), dataset=args.dataset, data_dir=args.data_dir,
        backend=keras.backend.backend(), preset=preset_name,
        steps=args.steps or preset.steps, batch_size=args.batch_size or preset.batch_size,
        seeds=args.seeds or preset.seeds,
        eval_every=preset.eval_every if args.eval_every is None else args.eval_every,
        eval_samples=args.eval_samples or preset.eval_samples,
        samples=args.samples or preset.samples, out=args.out, overrides=overrides, sweep=sweep,
        precision=args.precision, jit=args.jit, distribute=args.distribute,
        checkpoint_every=(preset.checkpoint_every if args.checkpoint_every is None
                          else args.checkpoint_every),
        image_size=args.image_size, channels=args.channels, classifier_gate=args.classifier_gate,
        plugins=tuple(args.plugin),
        steps_per_call=args.steps_per_call or preset.steps_per_call, tracker=args.tracker,
        draw=args.draw or preset.draw,
    )


# flags that shape a run, with their defaults: the one table argparse reads them from
# (``_defaults_from_table``) and --resume compares with (it takes these from results.json,
# so a value given with it would be ignored). --image-size and --channels are among them (the
# finished runs trained on images of that shape). tests/test_run_checks.py fails when a run
# flag is in neither this table nor NOT_SHAPING.
RUN_DEFAULTS = {"--models": ",".join(DEFAULT_MODELS), "--dataset": None, "--preset": None,
                "--steps": None, "--epochs": None, "--batch-size": None, "--seeds": None,
                "--eval-every": None, "--eval-samples": None, "--samples": None, "--out": None,
                "--set": [], "--sweep": [], "--precision": "float32", "--jit": False,
                "--distribute": False, "--backend": None, "--checkpoint-every": None,
                "--image-size": None, "--channels": None,
                "--plugin": [], "--steps-per-call": None, "--tracker": tracking.DEFAULT,
                "--draw": None}
# run flags that do not shape it, so --resume takes them: where and how it executes, what it
# prints, where files are found; --classifier-gate accepts or refuses the same cached
# classifier, and lowering it is how a run stopped by a gate miss is finished (runner.resume)
NOT_SHAPING = ("--help", "--resume", "--executor", "--workers", "--ray-address", "--cache-dir",
               "--summary", "--data-dir", "--classifier-gate")
DESTS = {"--set": "overrides"}  # a flag whose argparse dest is not its name


def dest(flag: str) -> str:
    return DESTS.get(flag) or flag.removeprefix("--").replace("-", "_")


def _defaults_from_table(p: argparse.ArgumentParser) -> None:
    """Every run-shaping flag's default, from RUN_DEFAULTS (its one place)."""
    p.set_defaults(**{dest(flag): value for flag, value in RUN_DEFAULTS.items()})


def _run_flags(args) -> dict:
    return {flag: getattr(args, dest(flag)) for flag in RUN_DEFAULTS}


def cmd_run(args) -> int:
    from benchmarks import executors, runner

    choice = executors.check(args.executor, args.workers, args.ray_address)
    if args.resume:
        ignored = [flag for flag, value in _run_flags(args).items() if value != RUN_DEFAULTS[flag]]
        if ignored:
            raise UserError(f"--resume continues a run with the settings it was started with; "
                            f"drop {', '.join(ignored)} (or start a new run with --out)")
        return runner.resume(args.resume, cache_dir=args.cache_dir, data_dir=args.data_dir,
                             summary=args.summary, executor=choice,
                             classifier_gate=args.classifier_gate)
    cfg = resolve_config(args)
    if cfg.jit and cfg.backend != "tensorflow":
        print(f"note: --jit applies to TensorFlow; on {cfg.backend} every step is compiled "
              "with XLA already", file=sys.stderr)
    return runner.run(cfg, cache_dir=args.cache_dir, epochs=args.epochs, summary=args.summary,
                      executor=choice)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run folder holding results.json")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from benchmarks import runner

    print(runner.rerender(args.run_dir))
    return 0


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="two or more run folders on the same dataset and classifier")
    p.add_argument("--out", type=out_dir, metavar="DIR",
                   help="where the combined report goes (default runs/<time>-compare)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from benchmarks.compare import compare

    print(compare(args.run_dirs, args.out))
    return 0
