"""``python -m benchmarks bench``: training throughput per model, backend, precision and batch.

The backend is fixed per process (``--backend``, chosen before keras is imported), so a run
measures the current one. ``--peers`` also runs the peer step scripts (``*_step.py``: the
seeds' tutorial step, a PyTorch port) in subprocesses in the same run and prints ours/peer.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.backend import device_description
from benchmarks.errors import UserError

# the project's own baselines: the seeds' Keras tutorial step and a PyTorch port of it
DEFAULT_PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEER_SAYS_WIDTH = 60  # a peer's failure reason is one short line under the table
# random images of MNIST's shape unless --image-size/--channels say otherwise (the peers'
# step scripts are MNIST-shaped, so ours/peer compares like with like)
IMAGE_SHAPE = (28, 28, 1)
PEER_RATE = re.compile(r"images_per_s=([0-9.]+)")
# peer scripts read their own flag names and ignore the rest, so each gets all spellings
PEER_FLAGS = {"mixed": ["--mixed", "--amp"], "jit": ["--jit", "--compile"]}


def measure_step(model_name: str, backend: str, batch: int, precision: str, steps: int, *,
                 jit: bool = False, steps_per_call: int = 1, distribute: bool = False,
                 seed: int = 0, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> dict:
    """Times ``steps`` training steps (after the compiling call) on random images in [-1, 1]
    (a step's speed does not depend on the pixels). The backend must be the current one."""
    import keras

    from benchmarks.harness import build, train

    if backend != keras.backend.backend():
        raise UserError(f"this process runs keras on {keras.backend.backend()!r}; the backend "
                        f"is fixed per process, run again with --backend {backend}")
    images = np.random.default_rng(seed).uniform(-1, 1, (max(4 * batch, 1024), *image_shape))
    model = build(model_name, seed=seed, precision=precision, distribute=distribute,
                  image_shape=image_shape)
    log = train(model, images.astype(np.float32), steps=steps + steps_per_call,
                batch_size=batch, seed=seed, jit=jit, precision=precision,
                steps_per_call=steps_per_call, distribute=distribute)
    return {"model": model_name, "backend": backend, "device": device_description(), "batch": batch,
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
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        return math.nan, _shorten(reason)
    return float(found[-1]), "ok"


def _shorten(text: str) -> str:
    text = text.removeprefix("ModuleNotFoundError: ").removeprefix("ImportError: ")
    return text if len(text) <= PEER_SAYS_WIDTH else text[: PEER_SAYS_WIDTH - 1] + "…"


def run(args) -> int:
    """The bench command on checked arguments (``cli.cmd_bench`` checks them)."""
    import keras
    from rich.console import Console
    from rich.table import Table

    backend, console = keras.backend.backend(), Console()
    table = Table(title=f"training throughput: {backend} on {device_description()}, "
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
                                 distribute=args.distribute,
                                 image_shape=(args.image_size, args.image_size, args.channels))
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


def peer_rows(folder: Path, args, backend: str, ours: dict) -> tuple[list[dict], dict]:
    """Each peer script's images/s beside ours (dcgan) per precision and batch size, and the
    reason of each peer that could not run (tried once: it would fail the same every time)."""
    rows, failed = [], {}
    for script in sorted(folder.glob("*_step.py")):
        peer = script.name.removesuffix("_step.py")
        for precision in args.precision:
            for batch in args.batch_sizes:
                if peer in failed:
                    continue
                rate, said = run_peer(script, backend, batch, precision, args.steps, args.jit)
                if not rate > 0:
                    failed[peer] = said
                    continue
                mine = ours.get(("dcgan", precision, batch), math.nan)
                rows.append({"peer": peer, "precision": precision, "batch": batch,
                             "peer_images_per_s": rate, "ours_images_per_s": mine,
                             "ratio": mine / rate})
    return rows, failed


def print_peers(console, args, backend: str, ours: dict) -> None:
    from rich.table import Table

    folder = Path(args.peers_dir)
    if not any(folder.glob("*_step.py")):
        console.print(f"[yellow]no peer *_step.py scripts in {folder}[/]")
        return
    rows, failed = peer_rows(folder, args, backend, ours)
    table = Table(title="ours (dcgan) / peer step, same run")
    for col in ("peer", "precision", "batch", "peer img/s", "ours img/s", "ours/peer"):
        table.add_column(col, justify="left" if col in ("peer", "precision") else "right")
    for r in rows:
        table.add_row(r["peer"], r["precision"], str(r["batch"]),
                      f"{r['peer_images_per_s']:.0f}", f"{r['ours_images_per_s']:.0f}",
                      f"{r['ratio']:.2f}")
    if rows:
        console.print(table)
    for peer, reason in failed.items():
        console.print(f"peer {peer}: {reason}")
