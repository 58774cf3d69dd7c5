"""``check-model``: the model contract's checks (``benchmarks/contract.py``) on one model, a
line per check, exit status 1 naming the check that failed."""

from __future__ import annotations

import argparse
import time

from benchmarks.cli.types import dataset_name
from benchmarks.errors import UserError

IMAGES = 256  # real training images the checks train and fit on: seconds, not minutes


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="*", metavar="NAME",
                   help="registered models to check (default: every model the --plugin "
                        "files define)")
    p.add_argument("--dataset", type=dataset_name, default="digits",
                   help="whose images (and shape) the checks use (default: %(default)s)")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    from benchmarks import contract, data
    from benchmarks.config import check_models
    from models import plugins

    names = list(args.name) or [m for f in args.plugin for m in plugins.defined_in(f)]
    if not names:
        raise UserError("name the model to check, e.g. 'check-model dcgan', or pass the "
                        "--plugin FILE that defines it")
    check_models(names)
    ds = data.load(args.dataset, args.data_dir)
    images = ds.x_train[:IMAGES]
    shape = "x".join(map(str, ds.image_shape))
    failed = []
    for name in names:
        print(f"check-model {name}: {len(images)} {ds.name} images of {shape}", flush=True)
        started = time.perf_counter()
        outcomes = contract.run(name, images, on_outcome=_print)
        last = outcomes[-1]
        if last.passed and len(outcomes) == len(contract.CHECKS):
            print(f"{name}: all {len(outcomes)} checks passed in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        else:
            failed.append(name)
            print(f"{name}: failed the '{last.check}' check: {last.detail}", flush=True)
    return 1 if failed else 0


def _print(outcome) -> None:
    mark = "ok  " if outcome.passed else "FAIL"
    print(f"  {mark} {outcome.check:<12} {outcome.detail} ({outcome.seconds:.1f} s)", flush=True)
