"""What the terminal shows while training: whole figures at any width, plain lines in logs."""

from __future__ import annotations

import io

import pytest
from rich.console import Console as RichConsole

from benchmarks.console import Console, _Bar
from benchmarks.executors import WorkerConsole
from benchmarks.harness import StepInfo
from tests.conftest import V1_DIGITS

LOSSES = {"generator": 0.653, "discriminator": 1.357, "d_real": 0.542, "d_fake": 0.522}


def _render(width: int) -> str:
    console = RichConsole(width=width, force_terminal=True, file=io.StringIO(),
                          color_system=None)
    bar = _Bar(console, "dcgan s0", 3000)
    bar.update(StepInfo(85, 3000, LOSSES, 318.0, 10.0))
    out = RichConsole(width=width, file=io.StringIO(), color_system=None, record=True)
    out.print(bar._progress.get_renderable())
    return out.export_text()


def test_a_90_column_bar_keeps_step_speed_and_eta_whole():
    line = _render(90).strip()
    assert len(line) <= 90
    assert "85/3000" in line and "318 img/s" in line and "eta" in line
    assert "…" not in line  # nothing cut: losses that do not fit are left out
    assert "gene 0.653" in line  # the first phase loss still fits


def test_a_wide_terminal_shows_every_loss():
    line = _render(160).strip()
    for text in ("gene 0.653", "disc 1.357", "d_re 0.542", "d_fa 0.522"):
        assert text in line


def test_a_log_that_is_not_a_terminal_gets_plain_lines_now_and_then():
    buffer = io.StringIO()
    console = RichConsole(width=80, file=buffer, force_terminal=False)
    bar = _Bar(console, "ae s0", 100)
    with bar:
        for step in range(1, 101):
            bar.update(StepInfo(step, 100, {"autoencoder": 0.1}, 500.0, step * 0.01))
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("ae s0 step 1/100  500 img/s  eta 0:00:00")
    assert lines[-1].startswith("ae s0 step 100/100")
    assert 10 <= len(lines) <= 12  # about one line per tenth, not one per step
    assert all("━" not in line for line in lines)


def _summary(width: int) -> list[str]:

    from reports import schema

    results = schema.load(V1_DIGITS / "results.json")
    console = Console()
    console.rich = RichConsole(width=width, file=io.StringIO(), record=True, color_system=None)
    console.summary(results, "report.md")
    return console.rich.export_text().splitlines()


def test_the_summary_shows_the_report_columns_that_fit_the_terminal():
    narrow, wide = _summary(80), _summary(200)
    assert all(len(line) <= 80 for line in narrow)
    assert all("…" not in line for line in narrow + wide)  # no figure is cut
    header = next(line for line in narrow if "FID↓" in line)
    assert header.split()[:3] == ["model", "FID↓", "KID↓"]  # the report's order
    assert "PSNR↑" in next(line for line in wide if "FID↓" in line)  # all of them when wide


def test_in_a_log_the_summary_shows_every_column_whole(capsys):
    """stdout is not a terminal here, as in CI or | tee: rich would assume 80 columns, and
    the summary would drop columns (and cut a long swept model's name) to fit them."""

    from reports import schema

    results = schema.load(V1_DIGITS / "results.json")
    Console().summary(results, "report.md")
    out = capsys.readouterr().out
    assert "FID↓" in out and "PSNR↑" in out  # all of the report's summary columns
    assert "…" not in out


def test_a_failed_runs_summary_in_a_log_keeps_its_title_and_caption_on_one_line(capsys):
    """A run that failed or was interrupted before any figure has a one-column table: its
    title and caption were wrapped to that column's 7 characters."""
    from reports import schema

    results = schema.load(V1_DIGITS / "results.json")
    results.update(status="failed", runs=[])
    Console().summary(results, "report.md")
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    title = (f"{results['dataset']['name']} · {results['config']['preset']} · "
             f"{results['environment']['backend']}")
    assert title in lines
    assert "real: held-out real images, the floor" in lines
    assert "run failed: the report covers the finished runs only" in lines[-2]


MIXTURE = {"mixture_modes": 7.0, "high_quality": 0.823, "reverse_kl": 0.1134,
           "log_likelihood": -1.5}
STACKED = {"fid": 12.345, "modes_covered": 10.0, "kl_classes": 0.0123, "modes_1000": 935.0,
           "kl_triples": 0.41}


@pytest.mark.parametrize("scores, line", [
    (MIXTURE, "step 500: modes 7  high quality 82.3%  reverse KL 0.113"),
    (STACKED, "step 500: FID 12.35  modes 10  KL 0.012  triples 935/1000 KL 0.41"),
])
def test_an_evaluation_prints_its_datasets_figures_on_the_terminal_and_in_a_worker(
        capsys, scores, line):
    """A mixture has no FID: neither the terminal nor a worker's log (--workers, Ray) prints
    'FID nan' for it (a worker's line printed FID alone, nan on the ring and grid)."""
    Console().eval_line("gan", 0, 500, scores)
    WorkerConsole("gan/s0").eval_line("gan", 0, 500, scores)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"  gan s0 {line}", f"[gan/s0] {line}"]
