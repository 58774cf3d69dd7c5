"""Command line: run | score | report | compare | bench | data | list | check-model. Every
parser and argparse type lives in this package (``types``; ``run`` for run/report/compare;
``score``; ``check`` for check-model; ``commands`` for the rest).

Bad input is one line and exit 2. The package turns arguments into checked settings and
calls the commands (``runner``, ``scoring``, ``bench``, ``compare``); nothing imports it back.
"""

from __future__ import annotations

import argparse
import re
import sys

from benchmarks import __version__
from benchmarks.cli.check import add_check_arguments
from benchmarks.cli.commands import (
    add_bench_arguments,
    cmd_data,
    cmd_list,
    common_arguments,
    plugin_argument,
)
from benchmarks.cli.run import add_compare_arguments, add_report_arguments, add_run_arguments
from benchmarks.cli.score import add_score_arguments
from benchmarks.cli.types import image_size
from benchmarks.errors import NoSpace, UserError


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "-1,1" (score --range) is a value, as "-1" and "-0.5" are, not an unknown flag
        self._negative_number_matcher = re.compile(r"^-\d[\d.,]*$|^-\.\d+$")

    def error(self, message: str):
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def build_parser() -> Parser:
    parser = Parser(prog="python -m benchmarks",
                    description="Train and compare generative models on MNIST-class images.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="train models, evaluate them, write a report")
    common_arguments(run)
    add_run_arguments(run)

    score = sub.add_parser("score", help="score images made elsewhere (.npz, .npy, a folder, "
                           "a .keras generator) with every metric a run gets")
    common_arguments(score)
    add_score_arguments(score)

    report = sub.add_parser("report", help="re-render a run's report from its results.json")
    add_report_arguments(report)

    compare = sub.add_parser("compare", help="one report across runs (e.g. TensorFlow vs JAX)")
    add_compare_arguments(compare)

    bench = sub.add_parser("bench", help="time training steps (images/s), optionally vs peers")
    common_arguments(bench)
    add_bench_arguments(bench)

    d = sub.add_parser("data", help="which datasets are available here, and from where")
    common_arguments(d)
    d.add_argument("name", nargs="*", default=[],
                   help="dataset names or image folders (default: every named dataset)")
    d.add_argument("--image-size", type=image_size, metavar="N", help="image folders: NxN")
    d.add_argument("--channels", type=int, choices=(1, 3), help="image folders: 1 or 3")
    d.set_defaults(func=cmd_data)

    lst = sub.add_parser("list", help="list models, datasets and presets")
    common_arguments(lst)
    plugin_argument(lst)
    lst.set_defaults(func=cmd_list)

    check = sub.add_parser("check-model", help="the model contract's checks on one model, "
                           "e.g. your plugin's")
    common_arguments(check)
    plugin_argument(check)
    add_check_arguments(check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if hasattr(args, "plugin"):
            from benchmarks import plugins

            args.plugin = list(plugins.load(args.plugin))
        return int(args.func(args))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NoSpace as e:
        print(f"error: {e}", file=sys.stderr)
        return NoSpace.EXIT_STATUS
