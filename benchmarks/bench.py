"""``python -m benchmarks bench``: training throughput per model, backend, precision and batch.

The backend is fixed per process (``--backend``, chosen before keras is imported), so a run
measures the current one. ``--peers`` also runs the peer step scripts (``*_step.py``: the
seeds' tutorial step, a PyTorch port) in subprocesses in the same run and prints ours/peer.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEERS_DIR = ROOT.parent / "shared" / "peers"  # next to the checkout, as the team keeps it
PEER_RATE = re.compile(r"images_per_s=([0-9.]+)")
# peer scripts read their own flag names and ignore the rest, so each gets all spellings
PEER_FLAGS = {"mixed": ["--mixed", "--amp"], "jit": ["--jit", "--compile"]}


def _csv(kind):
    def parse(text: str) -> list:
        try:
            values = [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of "
                                             f"{kind.__name__}") from None
        if not values:
            raise argparse.ArgumentTypeError("the list is empty")
        return values
    return parse


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", type=_csv(str), default=["dcgan", "gan", "ae"],
                   help="comma-separated model names (default: dcgan,gan,ae)")
    p.add_argument("--batch-sizes", type=_csv(int), default=[64, 256],
                   help="comma-separated batch sizes (default: 64,256)")
    p.add_argument("--precision", type=_csv(str), default=["float32"],
                   help="comma-separated: float32, mixed_bfloat16 (default: float32)")
    p.add_argument("--steps", type=int, default=20,
                   help="timed steps per case, after the compiling one (default: 20)")
    p.add_argument("--steps-per-call", type=int, default=1,
                   help="training steps per compiled call (default: 1)")
    p.add_argument("--jit", action="store_true",
                   help="TensorFlow: compile the step with XLA (JAX always does)")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel over all devices (MirroredStrategy / DataParallel)")
    p.add_argument("--peers", action="store_true",
                   help="also time the peer step scripts and print ours/peer")
    p.add_argument("--peers-dir", default=str(DEFAULT_PEERS_DIR),
                   help=f"folder of peer *_step.py scripts (default: {DEFAULT_PEERS_DIR})")
    p.set_defaults(func=cmd_bench)


def device_name() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return f"{len(devices)}x {devices[0].device_kind}"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)}x GPU" if gpus else f"CPU ({os.cpu_count()} cores)"


def measure_step(model_name: str, backend: str, batch: int, precision: str, steps: int, *,
                 jit: bool = False, steps_per_call: int = 1, distribute: bool = False,
                 seed: int = 0) -> dict:
    """Times ``steps`` training steps (after the compiling call) on random images in [-1, 1]
    (a step's speed does not depend on the pixels). The backend must be the current one."""
    import keras

    from benchmarks.harness import build, train

    if backend != keras.backend.backend():
        raise UserError(f"this process runs keras on {keras.backend.backend()!r}; the backend "
                        f"is fixed per process, run again with --backend {backend}")
    images = np.random.default_rng(seed).uniform(-1, 1, (max(4 * batch, 1024), 28, 28, 1))
    model = build(model_name, seed=seed, precision=precision, distribute=distribute)
    log = train(model, images.astype(np.float32), steps=steps + steps_per_call,
                batch_size=batch, seed=seed, jit=jit, precision=precision,
                steps_per_call=steps_per_call, distribute=distribute)
    return {"model": model_name, "backend": backend, "device": device_name(), "batch": batch,
            "precision": precision, "jit": jit, "steps_per_call": steps_per_call,
            "replicas": log.replicas, "steps": steps, "images_per_s": log.images_per_s,
            "step_ms": log.step_ms_median, "step_ms_p90": log.step_ms_p90,
            "compile_s": log.compile_s, "peak_memory_mb": log.peak_memory_mb,
            "diverged_at": log.diverged_at}


def run_peer(script: Path, backend: str, batch: int, precision: str, steps: int,
             jit: bool) -> tuple[float, str]:
    """images/s a peer script prints, or nan and the reason it gave none."""
    argv = [sys.executable, str(script), str(steps), str(batch)]
    argv += PEER_FLAGS["mixed"] if precision.startswith("mixed") else []
    argv += PEER_FLAGS["jit"] if jit else []
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600)
    except subprocess.TimeoutExpired:
        return math.nan, "timed out"
    found = PEER_RATE.findall(proc.stdout)
    if proc.returncode != 0 or not found:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return math.nan, lines[-1][:120] if lines else f"exit status {proc.returncode}"
    return float(found[-1]), "ok"


def cmd_bench(args) -> int:
    import keras
    from rich.console import Console
    from rich.table import Table

    from benchmarks.harness import PRECISIONS
    from models import registry

    for name in args.models:
        try:
            registry.get(name)
        except KeyError as e:
            raise UserError(str(e)) from None
    for precision in args.precision:
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r}; choose from "
                            f"{', '.join(PRECISIONS)}")
    if args.steps < 1 or args.steps_per_call < 1 or min(args.batch_sizes) < 1:
        raise UserError("--steps, --steps-per-call and batch sizes must be at least 1")
    backend, console = keras.backend.backend(), Console()
    table = Table(title=f"training throughput: {backend} on {device_name()}, "
                        f"{args.steps} timed steps")
    for col in ("model", "precision", "batch", "images/s", "ms/step", "p90 ms", "compile s",
                "replicas"):
        table.add_column(col, justify="left" if col in ("model", "precision") else "right")
    ours: dict[tuple[str, str, int], float] = {}
    for name in args.models:
        for precision in args.precision:
            for batch in args.batch_sizes:
                started = time.perf_counter()
                r = measure_step(name, backend, batch, precision, args.steps, jit=args.jit,
                                 steps_per_call=args.steps_per_call,
                                 distribute=args.distribute)
                ours[name, precision, batch] = r["images_per_s"]
                table.add_row(name, precision, str(batch), f"{r['images_per_s']:.0f}",
                              f"{r['step_ms']:.1f}", f"{r['step_ms_p90']:.1f}",
                              f"{r['compile_s']:.1f}", str(r["replicas"]))
                console.print(f"  {name} {precision} batch {batch}: "
                              f"{r['images_per_s']:.0f} images/s "
                              f"({time.perf_counter() - started:.0f} s)", style="dim")
    console.print(table)
    if args.peers:
        print_peers(console, args, backend, ours)
    return 0


def print_peers(console, args, backend: str, ours: dict) -> None:
    from rich.table import Table

    folder = Path(args.peers_dir)
    scripts = sorted(folder.glob("*_step.py"))
    if not scripts:
        console.print(f"[yellow]no peer *_step.py scripts in {folder}[/]")
        return
    table = Table(title="ours (dcgan through the harness) / peer step scripts, same run")
    for col in ("peer", "precision", "batch", "peer images/s", "ours images/s", "ours/peer",
                "peer says"):
        table.add_column(col, justify="right" if "/" in col or col == "batch" else "left")
    for script in scripts:
        for precision in args.precision:
            for batch in args.batch_sizes:
                rate, said = run_peer(script, backend, batch, precision, args.steps, args.jit)
                mine = ours.get(("dcgan", precision, batch), math.nan)
                ratio = mine / rate if rate > 0 else math.nan
                table.add_row(script.name, precision, str(batch), f"{rate:.0f}",
                              f"{mine:.0f}", f"{ratio:.2f}", said)
    console.print(table)
