"""Command line: run | report | bench | data | list. Every parser and argparse type is here.

Bad input is one line and exit 2. This module turns arguments into checked settings and
calls the commands (``runner``, ``bench``); nothing imports it back.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import __version__, data
from benchmarks.backend import BACKENDS
from benchmarks.config import DEFAULT_MODELS, PRESETS, RunConfig, check_models, default_preset
from benchmarks.errors import UserError
from benchmarks.harness import PRECISIONS

MAX_STEPS = 10_000_000  # 640M images at batch 64: beyond any study; catches typos
MAX_EPOCHS = 10_000
MAX_SEEDS = 1_000
MAX_SAMPLES = 1_000_000


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exit status 2."""

    def error(self, message: str):
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def int_in(low: int, high: int, why: str = ""):
    """An argparse type for a whole number in [low, high]; the message says the range."""
    def parse(text: str) -> int:
        value = positive_int(text) if low >= 1 else _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:,} is outside {low:,}..{high:,}{why}")
        return value
    return parse


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def dataset_name(text: str) -> str:
    """``--dataset``: a registered name, ``folder:PATH`` or a folder path (checked to exist)."""
    try:
        data.spec(text)
    except UserError as e:  # argparse turns this into the one-line error
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def image_size(text: str) -> int:
    value = positive_int(text)
    if not 8 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{value} is outside 8..1024 pixels")
    return value


def percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value <= 100:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} must be a percentage in (0, 100]")
    return value


def csv_of(kind):
    """An argparse type for a non-empty comma-separated list of ``kind``."""
    def parse(text: str) -> list:
        try:
            values = [kind(x) for x in text.split(",") if x.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of "
                                             f"{getattr(kind, '__name__', 'values')}") from None
        if not values:
            raise argparse.ArgumentTypeError("the list is empty")
        return values
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--data-dir", metavar="DIR",
                   help=f"folder with dataset files (default: ${data.DATA_DIR_ENV})")


# --------------------------------------------------------------------------- run


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated model names, or 'all' (default: %(default)s)")
    p.add_argument("--dataset", type=dataset_name, default=None,
                   help="mnist (default; falls back to digits if absent), fashion-mnist, "
                        "digits, cifar10, or an image folder: PATH or folder:PATH")
    p.add_argument("--image-size", type=image_size, metavar="N",
                   help="image folders: resize to NxN (default: the images' own size)")
    p.add_argument("--channels", type=int, choices=(1, 3),
                   help="image folders: 1 (grayscale) or 3 (RGB) (default: as stored)")
    p.add_argument("--classifier-gate", type=percent, metavar="PCT",
                   help="test accuracy (percent) the scoring classifier must reach "
                        "(default: the dataset's own; image folders: 50 + 50/classes)")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="budget: smoke | quick (default on CPU) | standard (default on GPU)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int_in(1, MAX_STEPS), help="training steps per model "
                        "and seed")
    budget.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), help="epochs (converted to "
                        "steps)")
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
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<time>-<dataset>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="M.KEY=V",
                   help="override a model default, e.g. --set dcgan.lr=2e-4 (repeatable)")
    p.add_argument("--sweep", action="append", default=[],
                   metavar="M.KEY=V1,V2",
                   help="try each value, e.g. --sweep dcgan.lr=1e-4,2e-4 (repeatable: the "
                        "grid is the product of a model's lists, times --seeds)")
    p.add_argument("--executor", default="local",
                   help="local (default: in this process, or --workers N processes) | ray")
    p.add_argument("--workers", type=positive_int,
                   help="local: runs at once, each in its own process (one GPU each)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="ray: the cluster to join (default $RAY_ADDRESS, else a local one)")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    p.add_argument("--jit", action="store_true", help="XLA-compile the TensorFlow step")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over all visible devices")
    p.add_argument("--checkpoint-every", type=int_in(0, MAX_STEPS), metavar="STEPS",
                   help="save the model in training every STEPS steps (0: never; default: "
                        "the preset's); --resume continues from the last checkpoint")
    p.add_argument("--summary", action="store_true",
                   help="print each network's Keras summary (layers, shapes, parameters) "
                        "before training it")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="classifier/statistics cache (default $BENCHMARKS_CACHE_DIR or "
                        "~/.cache/genbench)")
    p.set_defaults(func=cmd_run)


def model_names(text: str) -> list[str]:
    """``--models``: a comma-separated list of registered names, or ``all``."""
    from models import registry

    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return registry.names()
    if not names:
        raise UserError("--models is empty; name at least one, e.g. --models dcgan,gan,ae")
    if len(set(names)) != len(names):
        raise UserError(f"--models names a model twice: {text}")
    check_models(names)
    return names


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
    )


# flags that shape a run: --resume takes them from results.json instead
RUN_DEFAULTS = {"--models": ",".join(DEFAULT_MODELS), "--dataset": None, "--preset": None,
                "--steps": None, "--epochs": None, "--batch-size": None, "--seeds": None,
                "--eval-every": None, "--eval-samples": None, "--samples": None, "--out": None,
                "--set": [], "--sweep": [], "--precision": "float32", "--jit": False,
                "--distribute": False, "--backend": None, "--checkpoint-every": None}


def _run_flags(args) -> dict:
    return {flag: getattr(args, "overrides" if flag == "--set" else
                          flag.removeprefix("--").replace("-", "_")) for flag in RUN_DEFAULTS}


def cmd_run(args) -> int:
    from benchmarks import executors, runner

    choice = executors.check(args.executor, args.workers, args.ray_address)
    if args.resume:
        ignored = [flag for flag, value in _run_flags(args).items() if value != RUN_DEFAULTS[flag]]
        if ignored:
            raise UserError(f"--resume continues a run with the settings it was started with; "
                            f"drop {', '.join(ignored)} (or start a new run with --out)")
        return runner.resume(args.resume, cache_dir=args.cache_dir, data_dir=args.data_dir,
                             summary=args.summary, executor=choice)
    return runner.run(resolve_config(args), cache_dir=args.cache_dir, epochs=args.epochs,
                      summary=args.summary, executor=choice)


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
    p.add_argument("--out", metavar="DIR",
                   help="where the combined report goes (default runs/<time>-compare)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from benchmarks.compare import compare

    print(compare(args.run_dirs, args.out))
    return 0


# --------------------------------------------------------------------------- bench


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    from benchmarks import bench
    from benchmarks.bench import DEFAULT_PEERS_DIR

    p.add_argument("--models", type=csv_of(str), default=list(DEFAULT_MODELS),
                   help=f"comma-separated model names (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--batch-sizes", type=csv_of(positive_int), default=[64, 256],
                   help="comma-separated batch sizes (default: 64,256)")
    p.add_argument("--precision", type=csv_of(str), default=["float32"],
                   help="comma-separated: float32, mixed_bfloat16 (default: float32)")
    p.add_argument("--steps", type=positive_int, default=20,
                   help="timed steps per case, after the compiling one (default: 20)")
    p.add_argument("--steps-per-call", type=positive_int, default=1,
                   help="training steps per compiled call (default: 1)")
    p.add_argument("--jit", action="store_true",
                   help="TensorFlow: compile the step with XLA (JAX always does)")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over all devices (MirroredStrategy / DataParallel)")
    p.add_argument("--image-size", type=image_size, default=bench.IMAGE_SHAPE[0], metavar="N",
                   help="random NxN images (default: %(default)s)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=bench.IMAGE_SHAPE[2],
                   help="image channels (default: %(default)s)")
    p.add_argument("--peers", action="store_true",
                   help="also time the peer step scripts and print ours/peer")
    p.add_argument("--peers-dir", default=str(DEFAULT_PEERS_DIR),
                   help="folder of peer *_step.py scripts (default: the project's own)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from benchmarks import bench

    model_names(",".join(args.models))
    for precision in args.precision:
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r}; choose from "
                            f"{', '.join(PRECISIONS)}")
    return bench.run(args)


# --------------------------------------------------------------------------- data, list


def cmd_data(args) -> int:
    from rich.console import Console
    from rich.table import Table

    wanted = [n for n in args.name if n != "list"] or data.names()
    options = {"image_size": args.image_size, "channels": args.channels}
    table = Table(title="datasets")
    for col in ("name", "available", "from", "details", "description"):
        table.add_column(col)
    for name in wanted:
        folder = data.folder_path(name) is not None
        row = data.check(name, args.data_dir, **(options if folder else {}))
        table.add_row(row.name, "[green]yes[/]" if row.available else "[red]no[/]",
                      row.source, row.detail, row.description)
    Console().print(table)
    return 0


def cmd_list(args) -> int:
    from rich.console import Console

    from models import registry

    console = Console()
    console.print("[bold]models[/] (run them all with --models all):")
    width = max(map(len, registry.names()))
    for name, line in registry.describe().items():
        console.print(f"  {name:<{width}}  {line}", highlight=False, soft_wrap=True)
    console.print("[bold]datasets[/]: " + ", ".join(data.names()))
    console.print("[bold]presets[/]: " + ", ".join(PRESETS))
    return 0


def build_parser() -> Parser:
    parser = Parser(prog="python -m benchmarks",
                    description="Train and compare generative models on MNIST-class images.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="train models, evaluate them, write a report")
    _common(run)
    add_run_arguments(run)

    report = sub.add_parser("report", help="re-render a run's report from its results.json")
    add_report_arguments(report)

    compare = sub.add_parser("compare", help="one report across runs (e.g. TensorFlow vs JAX)")
    add_compare_arguments(compare)

    bench = sub.add_parser("bench", help="time training steps (images/s), optionally vs peers")
    _common(bench)
    add_bench_arguments(bench)

    d = sub.add_parser("data", help="which datasets are available here, and from where")
    _common(d)
    d.add_argument("name", nargs="*", default=[],
                   help="dataset names or image folders (default: every named dataset)")
    d.add_argument("--image-size", type=image_size, metavar="N", help="image folders: NxN")
    d.add_argument("--channels", type=int, choices=(1, 3), help="image folders: 1 or 3")
    d.set_defaults(func=cmd_data)

    lst = sub.add_parser("list", help="list models, datasets and presets")
    _common(lst)
    lst.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
