"""``score``: its arguments, and the command that scores SAMPLES made elsewhere."""

from __future__ import annotations

import argparse
import json

from benchmarks.cli.types import (
    MAX_SAMPLES,
    dataset_name,
    image_size,
    int_in,
    out_dir,
    percent,
    value_range,
)


def add_score_arguments(p: argparse.ArgumentParser) -> None:
    from metrics import MIN_SAMPLES

    p.add_argument("samples", nargs="+", metavar="SAMPLES",
                   help="a .npz (arr_0) or .npy of N x H x W [x C] images, a folder of PNG/JPEG "
                        "images (recursive), or a .keras generator; each is a row")
    p.add_argument("--dataset", type=dataset_name, required=True,
                   help="what to score against: mnist, fashion-mnist, digits, cifar10, or an "
                        "image folder (PATH or folder:PATH)")
    p.add_argument("--name", dest="names", action="append", default=[], metavar="LABEL",
                   help="the row's name (letters, digits, - _ . #); once: every SAMPLES is a "
                        "seed of that row; once per SAMPLES: SAMPLES sharing a name are seeds "
                        "of one row (default: each SAMPLES its own row, named after its file)")
    p.add_argument("--range", dest="value_range", type=value_range, metavar="LOW,HIGH",
                   help="samples' value range: -1,1 | 0,1 | 0,255 | 0,65535 (16 bits; needed "
                        "unless uint8, or floats in [-1, 1] with some below 0; generators: "
                        "default -1,1)")
    p.add_argument("--samples", dest="n", type=int_in(MIN_SAMPLES, MAX_SAMPLES,
                   f" (metrics need at least {MIN_SAMPLES})"), metavar="N",
                   help="images per SAMPLES: a .keras generator draws N (default 10,000); "
                        "files and folders: their first N (default: all)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0,
                   help="the noise seed of a .keras generator (default: %(default)s)")
    p.add_argument("--image-size", type=image_size, metavar="N",
                   help="resize samples to NxN (an image-folder dataset is loaded at NxN too, "
                        "as run does); without it another size is an error")
    p.add_argument("--channels", type=int, choices=(1, 3),
                   help="convert samples to 1 or 3 channels (an image-folder dataset too); "
                        "without it another channel count is an error")
    p.add_argument("--classifier-gate", type=percent, metavar="PCT",
                   help="test accuracy (percent) the scoring classifier must reach")
    p.add_argument("--out", type=out_dir, metavar="DIR",
                   help="output folder (default runs/<time>-score-<dataset>)")
    p.add_argument("--json", action="store_true",
                   help="print the figures as one JSON object on stdout (progress on stderr)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="classifier/statistics cache (default $BENCHMARKS_CACHE_DIR or "
                        "~/.cache/genbench)")
    from benchmarks import tracking
    from benchmarks.cli.run import tracker_argument

    tracker_argument(p)
    p.set_defaults(func=cmd_score, tracker=tracking.DEFAULT)


def cmd_score(args) -> int:
    import keras

    from benchmarks import scoring
    from benchmarks.console import Console
    from benchmarks.samples import Options

    console = Console(stderr=args.json)
    options = Options(value_range=args.value_range, n=args.n, seed=args.seed,
                      image_size=args.image_size, channels=args.channels)
    report, results, status = scoring.run_score(
        args.samples, options, dataset=args.dataset, names=args.names, out=args.out,
        data_dir=args.data_dir, cache_dir=args.cache_dir,
        classifier_gate=args.classifier_gate, console=console,
        backend=keras.backend.backend(), tracker=args.tracker)
    if args.json:
        print(json.dumps(scoring.json_summary(results, report.parent), allow_nan=False))
    else:
        console.summary(results, report)
    return status
