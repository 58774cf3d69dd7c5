"""``bench``, ``data`` and ``list``: their arguments and what they print."""

from __future__ import annotations

import argparse

from benchmarks import data
from benchmarks.backend import BACKENDS
from benchmarks.cli.types import csv_of, image_size, model_names, positive_int
from benchmarks.config import DEFAULT_MODELS, PRESETS
from benchmarks.errors import UserError
from benchmarks.harness import PRECISIONS


def common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--data-dir", metavar="DIR",
                   help=f"folder with dataset files (default: ${data.DATA_DIR_ENV})")


def plugin_argument(p: argparse.ArgumentParser) -> None:
    """--plugin FILE: a model of the user's, loaded (after installed entry points) before the
    command reads --models; ``cli.main`` loads them."""
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a .py file registering models with @register (repeatable)")


# --------------------------------------------------------------------------- bench


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    from benchmarks import bench
    from benchmarks.bench import DEFAULT_PEERS_DIR

    plugin_argument(p)
    p.add_argument("--models", type=csv_of(str), default=list(DEFAULT_MODELS),
                   help=f"comma-separated model names (default: {','.join(DEFAULT_MODELS)})")
    p.add_argument("--batch-sizes", type=csv_of(positive_int), default=[64, 256],
                   help="comma-separated batch sizes (default: 64,256)")
    p.add_argument("--precision", type=csv_of(str), default=["float32"],
                   help="comma-separated: float32, mixed_bfloat16 (default: float32)")
    p.add_argument("--steps", type=positive_int, default=20,
                   help="timed steps per case, after the compiling one (default: 20)")
    p.add_argument("--repeats", type=positive_int, default=None,
                   help="times each case is measured, median shown (default: 1; "
                        f"{bench.PEER_REPEATS} with --peers, each back to back with the peers)")
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
    p.add_argument("--points", type=positive_int, default=0, metavar="D",
                   help="random D-dimensional points instead of images (the 2-D mixtures' "
                        "networks: --points 2)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="M.KEY=V",
                   help="a model setting, as run's --set, e.g. --set metz.pack=2 (repeatable)")
    p.add_argument("--peers", action="store_true",
                   help="also time the peer step scripts and print ours/peer")
    p.add_argument("--peers-dir", default=str(DEFAULT_PEERS_DIR),
                   help="folder of peer *_step.py scripts (default: the project's own)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from benchmarks import bench
    from benchmarks.overrides import parse_overrides
    from models import registry

    model_names(",".join(args.models))
    args.settings = parse_overrides(args.overrides, {name: registry.get(name).Config
                                                     for name in args.models})
    for precision in args.precision:
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r}; choose from "
                            f"{', '.join(PRECISIONS)}")
    if args.peers and bench.PEER_MODEL not in args.models:
        raise UserError(f"--peers compares the peers' step with {bench.PEER_MODEL}'s: add "
                        f"{bench.PEER_MODEL} to --models")
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
    from rich.markup import escape

    from models import plugins, registry

    console = Console()
    console.print("[bold]models[/] (run them all with --models all):")
    width = max(map(len, registry.names()))
    for name, line in registry.describe().items():
        where = plugins.origin(name)  # a plugin's model says where it came from
        console.print(escape(f"  {name:<{width}}  {line}" + (f" (from {where})" if where else "")),
                      highlight=False, soft_wrap=True)
    console.print("[bold]datasets[/]: " + ", ".join(data.names()))
    console.print("[bold]presets[/]: " + ", ".join(PRESETS))
    return 0
