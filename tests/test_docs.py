"""The manual tells the truth: every command in README.md and docs/*.md that a fresh clone can
run is run here, and the metrics page is the table ``evaluate`` runs.

Each page's fenced ``bash``/``console`` blocks run in order, in a folder of their own (so a
page's later commands read what its earlier ones made, as a reader's shell would): ``python -m
benchmarks ...`` through ``tests.clitools.cli``, ``cat > FILE <<'EOF'`` writes the file, and
``python - <<'EOF'`` runs the script. ``run`` commands train at the smoke budget (their preset
kept, its budget replaced by smoke's, seeds 1), relative paths point into the page's folder,
real data is hidden (digits stands in, as the docs say it does) and one classifier cache serves
every page. A ``run`` identical to one already made (but for ``--out``) is a copy of it: the
command ran once. What a fresh clone cannot run is listed in NOT_RUN with the reason; a
command that is neither run nor listed fails the test, and so does a stale NOT_RUN entry.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.config import PRESETS
from metrics import docs as metrics_docs
from tests.clitools import ROOT, cli

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NOT_RUN = {
    "make bench": "the quick preset, 10 to 30 minutes; its smoke form (run --preset smoke) is "
                  "run from docs/report.md, and README's output is a real quick run",
    "make test": "CI's own command (.ci/run)",
    "make docs": "CI runs it after make test (.ci/run); this file checks the metrics page",
    "export BENCHMARKS_DATA_DIR=/path/to/folder": "a user's own folder of MNIST files",
    "python -m benchmarks score my_samples.npz --dataset mnist --out runs/mine":
        "a user's own samples; docs/scoring.md makes some and scores them, and is run",
    "ray start --head --port 6379": "starts a Ray cluster's head node",
    "ray start --address HEAD_IP:6379": "joins a Ray cluster at a user's address",
    "python -m benchmarks run --executor ray --ray-address HEAD_IP:6379 --seeds 5 --sweep ... "
    "--cache-dir /shared/genbench-cache --out /shared/runs/study1":
        "a Ray cluster's address and shared storage; Ray runs are tests/test_executors.py's",
    "python -m benchmarks run --dataset ring --models gan --preset pacgan-2d --sweep "
    "gan.pack=1,2": "at the smoke budget it is the mixture line above (the same PacGAN 2-D "
                    "settings), which is run",
    "python -m benchmarks run --models dcgan,ae,vae,flow,ddpm --preset quick --seeds 3 "
    "--workers 2 --tracker none": "fifteen quick-preset runs, 2 h 45 min on 2 cores; each model "
                                  "trains end to end in tests/test_contract.py",
    "python -m benchmarks run --dataset stacked-mnist --models flow,ddpm --preset quick --seeds 1 "
    "--samples 26000 --workers 2":
        "two quick-preset runs on Stacked MNIST, 1 h 25 min on 2 cores; flow and ddpm train end "
        "to end in tests/test_contract.py, Stacked MNIST is tests/test_stacked.py's",
    "python -m benchmarks run --dataset stacked-mnist --models dcgan --preset quick --seeds 3 "
    "--sweep dcgan.pack=1,2 --samples 26000":
        "needs real MNIST and its classifier (minutes to train); Stacked MNIST is "
        "tests/test_stacked.py's and tests/test_mode_benchmarks.py's",
    "python -m benchmarks run --dataset stacked-mnist --models dcgan_tf --preset pacgan-stacked "
    "--sweep dcgan_tf.pack=1,2": "as the line above, with the paper's 8.8M-weight networks at a "
                                 "GPU's budget",
    "python -m benchmarks run --dataset stacked-mnist --models dcgan_tf --preset "
    "pacgan-stacked-cpu --sweep dcgan_tf.pack=1,2": "as the line above, at one epoch (about "
                                                    "2 h 20 min of CPU)",
    "python -m benchmarks run --dataset stacked-mnist --models dcgan_tf --preset pacgan-stacked "
    "--epochs 3 --seeds 1 --eval-every 2000 --out runs/table2-pack1": "an hour of CPU with the "
                                                                      "paper's networks",
    "python -m benchmarks run --dataset stacked-mnist --models dcgan_tf --preset pacgan-stacked "
    "--steps 2000 --seeds 1 --eval-every 1000 --set dcgan_tf.pack=2 --out runs/table2-pack2":
        "28 minutes of CPU with the paper's networks",
    "python -m benchmarks compare runs/table2-pack1 runs/table2-pack2": "compares the two runs "
                                                                         "above; compare is "
                                                                         "tests/test_compare.py's",
    "python -m benchmarks run --dataset stacked-mnist --models metz --preset pacgan-table3 "
    "--sweep metz.pack=1,2,3,4": "as the line above; drawing on the fly is "
                                 "tests/test_onthefly.py's",
    "python -m benchmarks run --dataset stacked-mnist --models metz --preset pacgan-table3-cpu "
    "--sweep metz.pack=1,2 --workers 2": "as the line above (1 h 29 min of CPU for its six "
                                         "runs)",
    "python -m benchmarks run --dataset stacked-mnist --models metz --preset pacgan-table3-cpu "
    "--steps 8000 --set metz.d_filters=4 --sweep metz.pack=1,2 --seeds 16 --workers 2":
        "as the line above (3 h 20 min for its 32 runs)",
    "python -m benchmarks run --dataset stacked-mnist --models metz --preset pacgan-table3-cpu "
    "--steps 4000 --set metz.d_filters=4 --sweep metz.pack=1,2 --seeds 12 --workers 2":
        "as the line above (1 h 28 min for its 24 runs)",
    "python -m benchmarks run --dataset ring --models gan --preset mixture --steps 40000 "
    "--seeds 5 --sweep gan.pack=1,2 --workers 2 --backend jax": "the mixture line above at "
    "40,000 steps, on JAX in two workers (57 min to 1 h for its ten runs)",
    "python -m benchmarks run --dataset grid --models gan --preset mixture --steps 40000 "
    "--seeds 5 --sweep gan.pack=1,2 --workers 2 --backend jax": "the line above on the grid "
    "(57 min for its ten runs)",
    "python -m benchmarks bench --models dcgan --batch-sizes 64,256,1024 --precision "
    "float32,mixed_bfloat16 --peers": "18 timed cases, each in a fresh process with its peers: "
                                      "minutes; the one-case bench above is run",
    "pytest tests/perf --benchmark-only -s": "make test (so CI) runs every benchmark once, "
                                             "untimed",
    "CUDA_VISIBLE_DEVICES=0,1,2,3 python -m benchmarks run --backend jax --distribute "
    "--batch-size 256": "four GPUs",
    "python -m benchmarks bench --backend jax --distribute --batch-sizes 1024,4096":
        "several GPUs",
    "tensorboard --logdir runs/": "a server that runs until stopped; tests/test_tracking.py "
                                  "starts one on a run's folder and reads its HTTP data API",
    "mlflow ui --backend-store-uri sqlite:///runs/mlflow.db":
        "a server that runs until stopped; tests/test_tracking.py reads the store it shows "
        "with MlflowClient",
}

BUDGET = ("--steps", "--epochs", "--batch-size", "--seeds", "--eval-every", "--eval-samples",
          "--samples", "--checkpoint-every")
SMOKE = PRESETS["smoke"]
SMOKE_BUDGET = ["--steps", str(SMOKE.steps), "--batch-size", str(SMOKE.batch_size), "--seeds",
                "1", "--eval-every", str(SMOKE.eval_every), "--eval-samples",
                str(SMOKE.eval_samples), "--samples", str(SMOKE.samples)]
FILES = (".py", ".npz", ".npy", ".keras")
BLOCK = re.compile(r"^```(?:bash|console)\n(.*?)^```", re.M | re.S)
HEREDOC = re.compile(r"^(.*?)\s*<<'EOF'$")


@dataclass
class Command:
    line: str  # the command as a reader types it, comments and continuations removed
    heredoc: str | None = None  # what <<'EOF' ... EOF feeds it


def commands(text: str) -> list[Command]:
    """The commands of a page's bash/console blocks, in order."""
    found = []
    for block in BLOCK.findall(text):
        lines = iter(block.replace("\\\n", " ").splitlines())
        for raw in lines:
            line = " ".join(shlex.split(raw, comments=True))
            if not line:
                continue
            heredoc = HEREDOC.match(raw.strip())
            if heredoc:
                body = []
                for more in lines:
                    if more == "EOF":
                        break
                    body.append(more)
                found.append(Command(heredoc.group(1), "\n".join(body) + "\n"))
            else:
                found.append(Command(line))
    return found


def _local(token: str, folder: Path) -> str:
    """A relative path a reader types (a folder, a file they made) points into the page's
    folder; any other token is left as it is."""
    path = token.split("=", 1)[-1] if token.startswith("--") else token
    if token.startswith("-") or path.startswith("/") or not (
            "/" in path or path.endswith(FILES)):
        return token
    return token.replace(path, str(folder / path))


def _smoke(args: list[str]) -> list[str]:
    """``run`` at the smoke budget: the preset (and its model settings) kept, its budget and
    any budget flag replaced by smoke's, one seed. ``--resume`` keeps the run's own."""
    if args[0] != "run" or "--resume" in args:
        return args
    kept, skip = [], False
    for token in args:
        if skip:
            skip = False
        elif token in BUDGET:
            skip = True
        else:
            kept.append(token)
    return kept + SMOKE_BUDGET


def _out(args: list[str], folder: Path) -> tuple[list[str], Path | None]:
    """The folder a command writes, in the page's folder: a ``run``, ``score`` or ``compare``
    without ``--out`` would write ``runs/<time>-...`` into the repository."""
    if "--out" in args:
        return args, Path(args[args.index("--out") + 1])
    if args[0] in ("run", "score", "compare") and "--resume" not in args:
        out = folder / "runs" / f"{args[0]}-{len(list(folder.glob('runs/*')))}"
        return [*args, "--out", str(out)], out
    return args, None


@pytest.fixture(scope="session")
def runs_made() -> dict:
    """(a run's arguments but --out) -> the folder it wrote, for identical runs on two pages."""
    return {}


def _cli(cmd: Command, folder: Path, cache: Path, runs_made: dict) -> None:
    args, out = _out(_smoke([_local(t, folder) for t in shlex.split(cmd.line)[3:]]), folder)
    key = tuple(a for a in args if a != str(out))
    if args[0] == "run" and key in runs_made:
        shutil.copytree(runs_made[key], out)
        return
    env = {"BENCHMARKS_DATA_DIR": None, "BENCHMARKS_CACHE_DIR": str(cache)}
    proc = cli(*args, env=env, timeout=600)
    assert proc.returncode == 0, f"{cmd.line}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    written = out or (Path(args[args.index("--resume") + 1]) if "--resume" in args else None)
    if args[0] in ("run", "score", "compare") and written is not None:
        for promised in ("results.json", "report.md"):
            assert (written / promised).is_file(), f"{cmd.line}: no {promised} in {written}"
    if args[0] == "report":
        assert (Path(args[1]) / "report.md").is_file()
    if args[0] == "run" and "--resume" not in args:
        runs_made[key] = out


def _shell(cmd: Command, folder: Path) -> None:
    """``cat > FILE <<'EOF'`` writes FILE; ``python - <<'EOF'`` runs the script there."""
    words = shlex.split(cmd.line)
    if words[:2] == ["cat", ">"]:
        (folder / words[2]).write_text(cmd.heredoc)
        return
    assert words == ["python", "-"], f"neither run nor listed in NOT_RUN: {cmd.line}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-"], input=cmd.heredoc, cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd.line}\n{cmd.heredoc}\n{proc.stderr[-3000:]}"


def _runnable(page: Path) -> list[Command]:
    return [c for c in commands(page.read_text()) if c.line not in NOT_RUN]


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _runnable(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_pages_commands_run(page, tmp_path, classifier_cache, runs_made):
    for cmd in _runnable(page):
        if cmd.line.startswith("python -m benchmarks ") and cmd.heredoc is None:
            _cli(cmd, tmp_path, classifier_cache, runs_made)
        else:
            _shell(cmd, tmp_path)


def test_what_is_not_run_is_in_the_docs_with_a_reason():
    everything = {c.line for page in PAGES for c in commands(page.read_text())}
    stale = [line for line in NOT_RUN if line not in everything]
    assert not stale, f"NOT_RUN names commands the docs no longer hold: {stale}"
    assert all(reason.strip() for reason in NOT_RUN.values())


def test_the_commands_are_found_as_a_reader_types_them():
    text = ("```bash\npython -m benchmarks run --models gan \\\n    --seeds 2   # two\n"
            "cat > f.py <<'EOF'\nx = 1\nEOF\n```\n```python\nignored()\n```\n")
    found = commands(text)
    assert [c.line for c in found] == ["python -m benchmarks run --models gan --seeds 2",
                                       "cat > f.py"]
    assert found[1].heredoc == "x = 1\n"
    assert _smoke(["run", "--preset", "mixture", "--seeds", "5"]) == [
        "run", "--preset", "mixture", *SMOKE_BUDGET]
    assert _local("runs/x", Path("/t")) == "/t/runs/x"
    assert _local("my.npz", Path("/t")) == "/t/my.npz"
    assert _local("gan.pack=1,2", Path("/t")) == "gan.pack=1,2"


def test_the_metrics_page_is_the_metric_table():
    page = ROOT / metrics_docs.PAGE
    text = page.read_text(encoding="utf-8")
    assert metrics_docs.page(text) == text, (
        f"{metrics_docs.PAGE} is stale against metrics/info.py: run `make docs` "
        "(or python -m metrics.docs) and commit it")
    for key, info in metrics_docs.METRICS.items():
        assert f"| {info.label} | `{key}` |" in text
