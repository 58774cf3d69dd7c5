"""Command line: run | report | bench | data | list. Bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import sys

from benchmarks import __version__, data
from benchmarks.backend import BACKENDS
from benchmarks.errors import UserError


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


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive finite number")
    return value


def dataset_name(text: str) -> str:
    try:
        data.spec(text)
    except UserError as e:  # argparse turns this into the one-line error
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--data-dir", metavar="DIR",
                   help=f"folder with dataset files (default: ${data.DATA_DIR_ENV})")


def build_parser() -> Parser:
    parser = Parser(prog="python -m benchmarks",
                    description="Train and compare generative models on MNIST-class images.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    from benchmarks.runner import add_report_arguments, add_run_arguments

    run = sub.add_parser("run", help="train models, evaluate them, write a report")
    _common(run)
    add_run_arguments(run)

    report = sub.add_parser("report", help="re-render a run's report from its results.json")
    add_report_arguments(report)

    from benchmarks.bench import add_bench_arguments

    bench = sub.add_parser("bench", help="time training steps (images/s), optionally vs peers")
    _common(bench)
    add_bench_arguments(bench)

    d = sub.add_parser("data", help="which datasets are available here, and from where")
    _common(d)
    d.add_argument("name", nargs="?", default="list", help="a dataset name, or 'list' (default)")
    d.set_defaults(func=cmd_data)

    lst = sub.add_parser("list", help="list models, datasets and presets")
    _common(lst)
    lst.set_defaults(func=cmd_list)
    return parser


def cmd_data(args) -> int:
    from rich.console import Console
    from rich.table import Table

    wanted = data.names() if args.name == "list" else [data.spec(args.name).name]
    table = Table(title="datasets")
    for col in ("name", "available", "from", "description"):
        table.add_column(col)
    for name in wanted:
        found, tried = data.locate(name, args.data_dir, download=False)
        spec = data.spec(name)
        if found is not None:
            table.add_row(name, "[green]yes[/]", found.source, spec.description)
        else:
            table.add_row(name, "[red]no[/]", "tried: " + "; ".join(tried)
                          + " (download possible if online)", spec.description)
    Console().print(table)
    return 0


def cmd_list(args) -> int:
    from rich.console import Console

    console = Console()
    try:
        from models import registry

        names = registry.names()
    except ImportError:
        names = []
    console.print("[bold]models[/]: " + (", ".join(names) or "(none registered)"))
    console.print("[bold]datasets[/]: " + ", ".join(data.names()))
    try:
        from benchmarks.config import PRESETS

        console.print("[bold]presets[/]: " + ", ".join(PRESETS))
    except ImportError:
        pass
    return 0


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
