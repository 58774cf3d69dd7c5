"""What the terminal shows: a progress bar per (model, seed), eval lines, the summary table."""

from __future__ import annotations

import math
import time

from rich import box
from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# the terminal's pick, with short headers, so the table fits an 80-column terminal; the
# report has every metric under its full name
SUMMARY_KEYS = ("fid", "modes_covered", "kl_classes", "precision", "recall", "coverage",
                "recon_psnr")
SHORT = {"modes_covered": "modes", "kl_classes": "KL", "precision": "prec", "recall": "recall",
         "coverage": "cover", "recon_psnr": "PSNR"}


PLAIN_LINES = 10  # a log that is not a terminal gets this many progress lines per run
PLAIN_SECONDS = 60.0  # ... or one a minute, whichever comes first
LOSS_WIDTH = 11  # "name 1.234 " per loss in the bar; losses are dropped, never cut, to fit


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _losses(losses: dict, width: int) -> str:
    """As many of the step's losses as fit in ``width`` characters, phase losses first."""
    out = []
    for name, value in (losses or {}).items():
        item = f"{name[:4]} {value:.3f}"
        if len(" ".join([*out, item])) > width:
            break
        out.append(item)
    return " ".join(out)


class _Bar:
    """A progress bar on a terminal: the step count, img/s and the ETA are always whole; the
    losses get the width that is left. Elsewhere (CI, nohup, | tee): a plain line now and then."""

    def __init__(self, console: RichConsole, label: str, total: int):
        self.console, self.label, self.total = console, label, total
        self.terminal = console.is_terminal
        self._next_step, self._next_time = 1, 0.0
        if self.terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=12),
                MofNCompleteColumn(), TextColumn("{task.fields[speed]}"), TextColumn("eta"),
                TimeRemainingColumn(), TextColumn("{task.fields[losses]}"),
                console=console, transient=False,
            )
            self._task = self._progress.add_task(label, total=total, speed="", losses="")

    def __enter__(self):
        if self.terminal:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.terminal:
            return self._progress.__exit__(*exc)
        return None

    def _speed(self, info) -> str:
        rate = info.images_per_s
        return f"{rate:,.0f} img/s" if rate and math.isfinite(rate) else "compiling"

    def update(self, info) -> None:
        if self.terminal:
            fixed = len(self.label) + 12 + 2 * len(str(self.total)) + 1 + 14 + 4 + 8 + 7
            losses = _losses(info.losses, max(0, self.console.width - fixed))
            self._progress.update(self._task, completed=info.step, speed=self._speed(info),
                                  losses=losses)
            return
        now = time.monotonic()
        if info.step >= self._next_step or now >= self._next_time or info.step == self.total:
            self._next_step = info.step + max(1, self.total // PLAIN_LINES)
            self._next_time = now + PLAIN_SECONDS
            left = info.elapsed_s / info.step * (self.total - info.step) if info.step else math.nan
            losses = _losses(info.losses, 80)
            self.console.print(f"{self.label} step {info.step}/{self.total}  "
                               f"{self._speed(info)}  eta {_eta(left)}  {losses}".rstrip(),
                               highlight=False, soft_wrap=True)


class Console:
    def __init__(self):
        self.rich = RichConsole(highlight=False)

    def info(self, text: str) -> None:
        self.rich.print(text)

    def loud(self, text: str) -> None:
        self.rich.print(f"[bold black on yellow] NOTE [/] [bold yellow]{text}[/]")

    def progress(self, label: str, total: int) -> _Bar:
        return _Bar(self.rich, label, total)

    def eval_line(self, name: str, seed: int, step: int, scores: dict) -> None:
        self.rich.print(f"  {name} s{seed} step {step}: FID {scores.get('fid', float('nan')):.2f}"
                        f"  modes {scores.get('modes_covered', 0):.0f}"
                        f"  KL {scores.get('kl_classes', float('nan')):.3f}")

    def summary(self, results: dict, report_path) -> None:
        from reports import records

        agg = records.aggregate(results)
        info = results.get("metrics", {})
        keys = [k for k in SUMMARY_KEYS if any(k in m for m in agg.values())]
        table = Table(title=f"{results['dataset']['name']} · {results['config']['preset']} · "
                            f"{results['environment']['backend']}", box=box.SIMPLE_HEAD,
                      pad_edge=False, caption="real: held-out real images, the floor")
        table.add_column("model", no_wrap=True)
        for key in keys:
            arrow = {"lower": "↓", "higher": "↑"}.get(info.get(key, {}).get("direction"), "")
            label = SHORT.get(key) or info.get(key, {}).get("label", key)
            table.add_column(f"{label}{arrow}", justify="right", no_wrap=True)
        table.add_column("img/s", justify="right", no_wrap=True)
        throughput = {model: stats for (model, _), stats in
                      records.aggregate_throughput(results).items()}
        for model, figures in agg.items():
            cells = [_cell(figures.get(k)) for k in keys]
            speed = throughput.get(model, {}).get("images_per_s")
            table.add_row(model, *cells, f"{speed[0]:,.0f}" if speed else "—")
        floor = results.get("floor") or {}
        table.add_row("[italic]real", *[_cell((floor.get(k), 0, 1)) for k in keys], "")
        self.rich.print(table)
        if results["status"] != "complete":
            self.loud(f"run {results['status']}: the report covers the finished runs only")
        self.rich.print(f"report: [bold]{report_path}[/]")


def _cell(stat) -> str:
    if not stat or stat[0] is None:
        return "—"
    mean, std, n = stat
    text = f"{mean:.1e}" if 0 < abs(mean) < 0.01 else f"{mean:.3g}"
    return text + (f" ± {std:.2g}" if n and n > 1 else "")
