"""``python -m benchmarks bench``: training throughput per model, backend, precision and batch.

The backend is fixed per process (``--backend``, chosen before keras is imported), so a run
measures the current one. ``--peers`` also runs the peer step scripts (``*_step.py``: the
Keras tutorial recipe's step, a PyTorch port) in subprocesses in the same run and prints ours/peer.
"""

from __future__ import annotations

import json
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

# the project's own baselines: the Keras tutorial recipe's step and a PyTorch port of it
DEFAULT_PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEER_SAYS_WIDTH = 60  # a peer's failure reason is one short line under the table
# random images of MNIST's shape unless --image-size/--channels say otherwise (the peers'
# step scripts are MNIST-shaped, so ours/peer compares like with like)
IMAGE_SHAPE = (28, 28, 1)
PEER_RATE = re.compile(r"images_per_s=([0-9.]+)")
# peer scripts read their own flag names and ignore the rest, so each gets all spellings
PEER_FLAGS = {"mixed": ["--mixed", "--amp"], "jit": ["--jit", "--compile"]}
PEER_MODEL = "dcgan"  # the peers are its step (the tutorial recipe's)
# repeats of each case with --peers: timed once each, minutes apart, ours/peer moved by up to
# 6 % between runs of the same code on a shared 2-core machine; back-to-back pairs do not
PEER_REPEATS = 3


def measure_step(model_name: str, backend: str, batch: int, precision: str, steps: int, *,
                 jit: bool = False, steps_per_call: int = 1, distribute: bool = False,
                 seed: int = 0, image_shape: tuple[int, ...] = IMAGE_SHAPE,
                 config: dict | None = None) -> dict:
    """Times ``steps`` training steps (after the compiling call) on random images in [-1, 1]
    (a step's speed does not depend on the pixels; ``image_shape`` (D,) is D-dimensional
    points), the model built with ``config``'s settings (``--set``). Also counts the step's
    floating-point operations as the backend compiles it (``step_flops``). The backend must be
    the current one."""
    import keras

    import models
    from benchmarks.harness import build, train

    if backend != keras.backend.backend():
        raise UserError(f"this process runs keras on {keras.backend.backend()!r}; the backend "
                        f"is fixed per process, run again with --backend {backend}")
    settings = models.get(model_name).Config(**config) if config else None
    model = build(model_name, settings, seed=seed, precision=precision, distribute=distribute,
                  image_shape=image_shape)
    images = np.random.default_rng(seed).uniform(
        -1, 1, (max(4 * batch * model.samples_per_example, 1024), *image_shape))
    images = images.astype(np.float32)
    log = train(model, images, steps=steps + steps_per_call,
                batch_size=batch, seed=seed, jit=jit, precision=precision,
                steps_per_call=steps_per_call, distribute=distribute)
    flops = step_flops(model, images, batch, jit) if not distribute else math.nan
    return {"model": model_name, "backend": backend, "device": device_description(), "batch": batch,
            "precision": precision, "jit": jit, "steps_per_call": steps_per_call,
            "config": config or {}, "replicas": log.replicas, "steps": steps,
            "images_per_s": log.images_per_s, "step_ms": log.step_ms_median,
            "step_ms_p90": log.step_ms_p90, "compile_s": log.compile_s,
            "peak_memory_mb": log.peak_memory_mb, "diverged_at": log.diverged_at,
            "step_gflop": flops / 1e9,
            "gflop_per_s": flops / 1e9 / (log.step_ms_median / 1e3)}


def step_flops(model, images: np.ndarray, batch: int, jit: bool) -> float:
    """Floating-point operations in one training step of ``model`` as the current backend
    compiles it, counted by the backend's own tool (``Engine.step_flops``: TensorFlow's
    profiler on the step's graph, XLA's cost analysis on JAX's compiled step)."""
    from benchmarks.harness.loop import BatchOrder, engine_module

    engine = engine_module().Engine(model, images, batch_size=batch, jit=jit, steps_per_call=1)
    order = BatchOrder(len(images), batch, seed=0, rows=engine.batches,
                       samples_per_example=model.samples_per_example)
    return engine.step_flops(engine.put_block(order.next_block()))


CASE_LINE = "bench-case "  # how a case process hands back its figures


def _child_env(backend: str) -> dict[str, str]:
    """A case or peer process's environment: this one's, on ``backend``, TF logs quiet."""
    return {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _last_line(proc: subprocess.CompletedProcess) -> str:
    """Why a child process gave no figures: the last line it wrote."""
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def measure_in_process(model_name: str, backend: str, batch: int, precision: str, steps: int,
                       plugins: tuple[str, ...] = (), **options) -> dict:
    """``measure_step`` in a fresh Python process, as every peer script is measured: a
    long-lived process that has built and timed earlier cases is not the state a training run
    starts from, and timing ours there and the peers fresh measured ours 4-17 % slower than
    the same step timed beside the peer in one process."""
    case = {"model_name": model_name, "backend": backend, "batch": batch,
            "precision": precision, "steps": steps, **options, "plugins": list(plugins)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", json.dumps(case)],
                          capture_output=True, text=True, env=_child_env(backend))
    for line in proc.stdout.splitlines():
        if line.startswith(CASE_LINE):
            return json.loads(line.removeprefix(CASE_LINE))
    raise RuntimeError(f"bench case {model_name} {precision} batch {batch} failed: "
                       + _last_line(proc))


def run_peer(script: Path, backend: str, batch: int, precision: str, steps: int,
             jit: bool) -> tuple[float, str]:
    """images/s a peer script prints, or nan and the reason it gave none."""
    argv = [sys.executable, str(script), str(steps), str(batch)]
    argv += PEER_FLAGS["mixed"] if precision.startswith("mixed") else []
    argv += PEER_FLAGS["jit"] if jit else []
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=_child_env(backend),
                              timeout=3600)
    except subprocess.TimeoutExpired:
        return math.nan, "timed out"
    found = PEER_RATE.findall(proc.stdout)
    if proc.returncode != 0 or not found:
        return math.nan, _shorten(_last_line(proc))
    return float(found[-1]), "ok"


def _shorten(text: str) -> str:
    text = text.removeprefix("ModuleNotFoundError: ").removeprefix("ImportError: ")
    return text if len(text) <= PEER_SAYS_WIDTH else text[: PEER_SAYS_WIDTH - 1] + "…"


def run(args) -> int:
    """The bench command on checked arguments (``cli.cmd_bench`` checks them).

    Each case is timed ``repeats`` times. With ``--peers`` every repeat of a dcgan case is
    followed at once by each peer's script at the same precision and batch size, so ours and
    the peer see the same machine state, and ours/peer is the median of those paired ratios:
    two blocks timed minutes apart differ by several percent on a shared machine."""
    import keras

    from benchmarks.console import rich_console

    backend, console = keras.backend.backend(), rich_console()
    repeats = args.repeats or (PEER_REPEATS if args.peers else 1)
    scripts = peer_scripts(Path(args.peers_dir)) if args.peers else []
    table = throughput_table(backend, args.steps, repeats)
    pairs: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    failed: dict[str, str] = {}
    for name in args.models:
        for precision in args.precision:
            for batch in args.batch_sizes:
                started, results = time.perf_counter(), []
                for _ in range(repeats):
                    r = measure_in_process(name, backend, batch, precision, args.steps,
                                           jit=args.jit, steps_per_call=args.steps_per_call,
                                           distribute=args.distribute, plugins=args.plugin,
                                           image_shape=data_shape(args),
                                           config=args.settings.get(name, {}))
                    results.append(r)
                    if name != PEER_MODEL:
                        continue
                    for script in scripts:
                        peer = peer_name(script)
                        if peer in failed:
                            continue
                        rate, said = run_peer(script, backend, batch, precision, args.steps,
                                              args.jit)
                        if rate > 0:
                            pairs.setdefault((peer, precision, batch), []).append(
                                (r["images_per_s"], rate))
                        else:
                            failed[peer] = said  # tried once: it would fail the same again
                r = median_case(results)
                table.add_row(case_label(name, args.settings.get(name, {})), precision,
                              str(batch), f"{r['images_per_s']:.0f}",
                              f"{r['step_ms']:.1f}", f"{r['step_ms_p90']:.1f}",
                              f"{r['compile_s']:.1f}", f"{r['step_gflop']:.3g}",
                              f"{r['gflop_per_s']:.3g}", str(r["replicas"]))
                console.print(f"  {name} {precision} batch {batch}: "
                              f"{r['images_per_s']:.0f} images/s"
                              + (f", median of {repeats}" if repeats > 1 else "")
                              + f" ({time.perf_counter() - started:.0f} s)", style="dim")
    console.print(table)
    if args.peers:
        print_peers(console, scripts, args.peers_dir, pairs, failed)
    return 0


def throughput_table(backend: str, steps: int, repeats: int):
    """bench's table, its columns and title, with no rows yet."""
    from rich.table import Table

    table = Table(title=f"training throughput: {backend} on {device_description()}, "
                        f"{steps} timed steps" + (f", median of {repeats}" if repeats > 1
                                                  else ""))
    for col in ("model", "precision", "batch", "images/s", "ms/step", "p90 ms", "compile s",
                "GFLOP/step", "GFLOP/s", "replicas"):
        table.add_column(col, justify="left" if col in ("model", "precision") else "right")
    return table


def case_label(name: str, settings: dict) -> str:
    """A case's model as the table names it: with its --set values, as a run's rows do."""
    return name + (f"[{','.join(f'{k}={v}' for k, v in settings.items())}]" if settings else "")


def data_shape(args) -> tuple[int, ...]:
    """What a case trains on: ``--points D`` D-dimensional points, else NxNxC images."""
    if args.points:
        return (args.points,)
    return (args.image_size, args.image_size, args.channels)


def median_case(results: list[dict]) -> dict:
    """One case's repeats as one: the median of each timing."""
    out = dict(results[0])
    for key in ("images_per_s", "step_ms", "step_ms_p90", "compile_s", "gflop_per_s"):
        out[key] = float(np.median([r[key] for r in results]))
    return out


def peer_scripts(folder: Path) -> list[Path]:
    return sorted(folder.glob("*_step.py"))


def peer_name(script: Path) -> str:
    return script.name.removesuffix("_step.py")


def peer_row(peer: str, precision: str, batch: int, pairs: list[tuple[float, float]]) -> dict:
    """One peer's figures from its (ours, peer) images/s pairs, each pair timed back to back:
    medians of each side, and ours/peer as the median of the paired ratios with their range."""
    ours, theirs = np.array(pairs, dtype=float).T
    ratios = ours / theirs
    return {"peer": peer, "precision": precision, "batch": batch, "repeats": len(pairs),
            "peer_images_per_s": float(np.median(theirs)),
            "ours_images_per_s": float(np.median(ours)), "ratio": float(np.median(ratios)),
            "ratio_low": float(ratios.min()), "ratio_high": float(ratios.max())}


def print_peers(console, scripts: list[Path], folder: str, pairs: dict,
                failed: dict[str, str]) -> None:
    from rich.table import Table

    if not scripts:
        console.print(f"[yellow]no peer *_step.py scripts in {folder}[/]")
        return
    rows = [peer_row(peer, precision, batch, timed)
            for (peer, precision, batch), timed in pairs.items()]
    table = Table(title="ours (dcgan) / peer step, each repeat back to back")
    for col in ("peer", "precision", "batch", "peer img/s", "ours img/s", "ours/peer",
                "range"):
        table.add_column(col, justify="left" if col in ("peer", "precision") else "right")
    for r in rows:
        table.add_row(r["peer"], r["precision"], str(r["batch"]),
                      f"{r['peer_images_per_s']:.0f}", f"{r['ours_images_per_s']:.0f}",
                      f"{r['ratio']:.2f}", f"{r['ratio_low']:.2f}–{r['ratio_high']:.2f}")
    if rows:
        console.print(table)
    for peer, reason in failed.items():
        console.print(f"peer {peer}: {reason}")


if __name__ == "__main__":  # one case, in its own process (``measure_in_process``)
    from benchmarks import plugins

    options = json.loads(sys.argv[1])
    options["image_shape"] = tuple(options["image_shape"])
    plugins.load(options.pop("plugins", ()))  # bench's --plugin files, as the driver loaded
    print(CASE_LINE + json.dumps(measure_step(**options)), flush=True)
