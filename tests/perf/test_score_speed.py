"""What ``score`` costs on MNIST: wall time split into loading, classifier features, FID/KID,
the k-NN figures and the rest, with peak memory, at N samples; and the k-NN figures
(precision, recall, density, coverage) against ``prdc`` (Naeem et al.'s reference code) on the
same features, time and memory, each in its own process.

    # cheap: every test once at 2,000 samples (what CI runs)
    pytest tests/perf/test_score_speed.py --benchmark-only
    # the full measurement (docs/scoring.md's figures): ~5 min on 2 cores
    GENBENCH_SCORE_SIZES=10000,50000 GENBENCH_PRDC_SIZES=10000,20000,50000 \\
        pytest tests/perf/test_score_speed.py --benchmark-only -s
    # or the same as two tables, without pytest (features computed once, at the largest N)
    python -m tests.perf.test_score_speed 10000,50000 10000,20000,50000

Each size runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own;
sample images are real MNIST training images (the first N) saved as a uint8 .npz, read as
``score`` reads SAMPLES. prdc holds every pairwise distance matrix (N x N float32 plus an
N x N int64 argpartition): at 50k samples that is ~30 GB, so it runs only where
``prdc_bytes`` fits in half the memory available (the sizes it skipped are printed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZES = [int(s) for s in os.environ.get("GENBENCH_SCORE_SIZES", "2000").split(",")]
PRDC_SIZES = [int(s) for s in os.environ.get("GENBENCH_PRDC_SIZES", "2000").split(",")]
K = 5  # prdc takes one k for all four figures; ours is run with the same k for both pairs


def _child(*args: str, timeout: int = 1800) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.perf.test_score_speed", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stages(n: int, features_out: str | None = None) -> dict:
    """One process: ``score``'s work on n samples, stage by stage, then end to end."""
    import time

    import numpy as np

    import metrics
    from benchmarks import data, samples, scoring, space
    from metrics import diversity, fid, kid, mode_collapse

    ds = data.load("mnist")
    if n > len(ds.x_train):
        raise SystemExit(f"MNIST has {len(ds.x_train):,} training images; n={n:,} is more")
    reference = space.build(ds, n)  # cached: the same entry a run of n uses
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.npz"
        np.savez(path, arr_0=np.round((ds.x_train[:n] + 1) * 127.5).astype(np.uint8))
        del ds
        rss = {"before": _maxrss_mb()}
        t = {}
        start = time.perf_counter()
        images = samples.read(path, reference.image_shape).images  # as `score` reads it
        t["loading"] = time.perf_counter() - start
    rss["loading"] = _maxrss_mb()
    start = time.perf_counter()
    out = reference.classifier(images)
    t["features"] = time.perf_counter() - start
    rss["features"] = _maxrss_mb()
    start = time.perf_counter()
    fid.frechet_distance(*fid.statistics(out.features), reference.mu, reference.sigma)
    fid.frechet_distance(*fid.statistics(out.logits), reference.logits_mu,
                         reference.logits_sigma)
    fid.fid_interval(out.features, reference.mu, reference.sigma, seed=reference.seed)
    t["fid"] = time.perf_counter() - start
    start = time.perf_counter()
    kid.kid(out.features, reference.real_features, seed=reference.seed)
    t["kid"] = time.perf_counter() - start
    rss["fid_kid"] = _maxrss_mb()
    start = time.perf_counter()
    diversity.manifold_scores(reference.real_features, out.features,
                              real_radii=reference.real_radii)
    diversity.nearest_distances(out.features, reference.train_features)  # memorization
    diversity.mean_pairwise_distance(out.features, seed=reference.seed)
    t["knn"] = time.perf_counter() - start
    rss["knn"] = _maxrss_mb()
    start = time.perf_counter()
    shares = mode_collapse.class_histogram(out.predicted, reference.num_classes)
    mode_collapse.kl_divergence(shares, reference.class_prior)
    mode_collapse.cell_counts(reference.ndb_centers, images)  # NDB's pixel-space cells
    t["other"] = time.perf_counter() - start
    if features_out:
        np.savez(features_out, real=reference.real_features, fake=out.features)
    start = time.perf_counter()
    figures = scoring.figures(images, reference)  # what `score` runs, end to end
    t["evaluate_total"] = time.perf_counter() - start
    start = time.perf_counter()
    metrics.evaluate(images, reference, fast=True)  # what training runs at each evaluation
    t["evaluate_fast"] = time.perf_counter() - start
    rss["end"] = _maxrss_mb()
    return {"n": n, "real": len(reference.real_features), "seconds": t, "maxrss_mb": rss,
            "fid": figures["fid"]}


def prdc_bytes(n_real: int, n_fake: int) -> int:
    """prdc's largest live arrays: each set's N x N float32 distances with their N x N int64
    argpartition (one set at a time), then the real x fake distances and their comparisons."""
    return max(12 * n_real**2, 12 * n_fake**2, 6 * n_real * n_fake)


def knn(impl: str, features: str, n: int | None = None) -> dict:
    """One process: the four k-NN figures by ``impl`` ("ours" or "prdc") on saved features
    (their first ``n`` samples: the features of MNIST's first n images)."""
    import contextlib
    import io
    import time
    import tracemalloc

    import numpy as np

    from metrics import diversity  # both children import the same modules (keras included)

    with np.load(features) as f:
        real, fake = f["real"], f["fake"][:n]
    base = _maxrss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    if impl == "ours":
        values = diversity.manifold_scores(real, fake, k_pr=K, k_dc=K)
    else:
        import prdc

        with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
            values = prdc.compute_prdc(real, fake, nearest_k=K)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"impl": impl, "n": len(fake), "real": len(real), "seconds": seconds,
            "traced_peak_mb": peak / 2**20, "rss_growth_mb": _maxrss_mb() - base,
            "values": {k: float(v) for k, v in values.items()}}


def _available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def compare_knn(n: int, features: str | None = None) -> dict:
    """Ours and prdc on the features of n samples (computed here unless ``features`` holds
    those of at least n), each in its own process; prdc only where it fits."""
    with tempfile.TemporaryDirectory() as tmp:
        if features is None:
            features = str(Path(tmp) / "features.npz")
            _child("stages", str(n), features)
        ours = _child("knn", "ours", features, str(n))
        need = prdc_bytes(ours["real"], n)
        if need > _available_bytes() / 2:
            return {"n": n, "ours": ours, "prdc": None,
                    "skipped": f"prdc needs ~{need / 2**30:.0f} GiB at {n:,} samples, more "
                               f"than half the {_available_bytes() / 2**30:.0f} GiB available"}
        return {"n": n, "ours": ours, "prdc": _child("knn", "prdc", features, str(n))}


@pytest.fixture(autouse=True)
def _real_mnist(mnist):
    """Skipped, naming where it looked, without real MNIST (conftest's fixture)."""


@pytest.fixture(scope="module")
def features_dir(tmp_path_factory) -> Path:
    """Where test_score_stages leaves the features of a size test_knn_against_prdc also runs,
    so the k-NN comparison does not score the same samples a second time."""
    return tmp_path_factory.mktemp("score-features")


@pytest.mark.parametrize("n", SIZES)
def test_score_stages(benchmark, n, features_dir):
    keep = [str(features_dir / f"{n}.npz")] if n in PRDC_SIZES else []
    result = benchmark.pedantic(_child, args=("stages", str(n), *keep), rounds=1, iterations=1)
    t = result["seconds"]
    benchmark.extra_info.update(result)
    # the stages are evaluate's own work: together they account for the end-to-end time
    parts = t["features"] + t["fid"] + t["kid"] + t["knn"] + t["other"]
    # (loosely: on a shared machine the two passes see different loads)
    assert parts == pytest.approx(t["evaluate_total"], rel=0.75)
    print(f"\nscore n={n:,}: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items())
          + f"; peak RSS {result['maxrss_mb']['end']:,.0f} MB")


@pytest.mark.parametrize("n", PRDC_SIZES)
def test_knn_against_prdc(benchmark, n, features_dir):
    saved = features_dir / f"{n}.npz"  # test_score_stages's, where it ran at this size
    result = benchmark.pedantic(compare_knn, args=(n, str(saved) if saved.is_file() else None),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    ours = result["ours"]
    if result["prdc"] is None:
        pytest.skip(result["skipped"])
    theirs = result["prdc"]
    # the same figures: prdc's precision/recall count a point on a ball's edge as outside,
    # ours inside (Kynkaanniemi et al.'s code); real features have no exact ties
    for key, value in theirs["values"].items():
        assert ours["values"][key] == pytest.approx(value, abs=2 / n), key
    print(f"\nk-NN n={n:,}: ours {ours['seconds']:.1f} s {ours['traced_peak_mb']:,.0f} MB, prdc "
          f"{theirs['seconds']:.1f} s {theirs['traced_peak_mb']:,.0f} MB: ours/prdc time "
          f"{ours['seconds'] / theirs['seconds']:.2f}, memory "
          f"{ours['traced_peak_mb'] / theirs['traced_peak_mb']:.3f}")


def _table(sizes: list[int], prdc_sizes: list[int]) -> None:
    print("| N | loading s | features s | FID s | KID s | k-NN s | other s | evaluate s | "
          "peak RSS MB | fast evaluate s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    largest = max([*sizes, *prdc_sizes])
    with tempfile.TemporaryDirectory() as tmp:
        features = str(Path(tmp) / "features.npz")
        for n in sorted(set(sizes) | {largest}):
            r = _child("stages", str(n), *([features] if n == largest else []))
            if n not in sizes:
                continue
            t = r["seconds"]
            print(f"| {n:,} | {t['loading']:.2f} | {t['features']:.1f} | {t['fid']:.1f} | "
                  f"{t['kid']:.1f} | {t['knn']:.1f} | {t['other']:.1f} | "
                  f"{t['evaluate_total']:.1f} | {r['maxrss_mb']['end']:,.0f} | "
                  f"{t['evaluate_fast']:.2f} |", flush=True)
        print("\n| N | ours s | prdc s | ours/prdc time | ours MB | prdc MB | ours/prdc memory |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in prdc_sizes:
            r = compare_knn(n, features)
            o, p = r["ours"], r["prdc"]
            if p is None:
                print(f"| {n:,} | {o['seconds']:.1f} | — | — | {o['traced_peak_mb']:,.0f} | — "
                      f"| — | ({r['skipped']})", flush=True)
                continue
            print(f"| {n:,} | {o['seconds']:.1f} | {p['seconds']:.1f} | "
                  f"{o['seconds'] / p['seconds']:.2f} | {o['traced_peak_mb']:,.0f} | "
                  f"{p['traced_peak_mb']:,.0f} | "
                  f"{o['traced_peak_mb'] / p['traced_peak_mb']:.3f} |", flush=True)
            print(f"  values ours {o['values']}\n         prdc {p['values']}", flush=True)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "stages":
        print(json.dumps(stages(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)))
    elif command == "knn":
        print(json.dumps(knn(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        sizes = [int(s) for s in (command or "10000,50000").split(",")]
        prdc_sizes = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2
                                       else "10000,20000,50000").split(",")]
        _table(sizes, prdc_sizes)
