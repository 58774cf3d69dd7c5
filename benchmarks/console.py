"""What the terminal shows: a progress bar per (model, seed), eval lines, the summary table."""

from __future__ import annotations

import math
import time

from rich import box
from rich.console import Console as RichConsole
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from reports.format import cell, fmt

PLAIN_LINES = 10  # a log that is not a terminal gets this many progress lines per run
PLAIN_SECONDS = 60.0  # ... or one a minute, whichever comes first
LOSS_WIDTH = 11  # "name 1.234 " per loss in the bar; losses are dropped, never cut, to fit
# not a terminal (CI, | tee): rich would assume 80 columns and cut table cells to fit them
LOG_WIDTH = 10_000


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


def rich_console(**options) -> RichConsole:
    """A rich console on stdout: as wide as the terminal, or in a log as wide as its widest
    line, so a table there keeps whole values ("dcgan_keras", not "dcgan_ke…")."""
    console = RichConsole(**options)
    if not console.is_terminal:
        console.width = LOG_WIDTH
    return console


def eval_figures(scores: dict) -> str:
    """An evaluation's figures in one line, as the terminal and a worker's log print them: a
    mixture's modes, high-quality share and reverse KL; else FID, modes and KL over classes
    (and Stacked MNIST's triples)."""
    if "reverse_kl" in scores:  # a mixture's points: no classifier, no FID
        return (f"modes {scores['mixture_modes']:.0f}  high quality {scores['high_quality']:.1%}"
                f"  reverse KL {scores['reverse_kl']:.3f}")
    triples = (f"  triples {scores['modes_1000']:.0f}/1000 KL {scores['kl_triples']:.2f}"
               if "modes_1000" in scores else "")
    return (f"FID {scores.get('fid', float('nan')):.2f}  modes {scores.get('modes_covered', 0):.0f}"
            f"  KL {scores.get('kl_classes', float('nan')):.3f}{triples}")


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
    def __init__(self, stderr: bool = False):  # stderr: stdout is kept for --json
        self.rich = rich_console(highlight=False, stderr=stderr)

    def info(self, text: str) -> None:
        self.rich.print(text)

    def loud(self, text: str) -> None:
        self.rich.print(f"[bold black on yellow] NOTE [/] [bold yellow]{text}[/]")

    def note(self, text: str) -> None:
        """``loud``, the text shown as written: a trial's key holds [settings], which rich
        would read as markup."""
        from rich.markup import escape

        self.loud(escape(text))

    def progress(self, label: str, total: int) -> _Bar:
        return _Bar(self.rich, label, total)

    def eval_line(self, name: str, seed: int, step: int, scores: dict) -> None:
        self.rich.print(f"  {name} s{seed} step {step}: {eval_figures(scores)}")

    def summary(self, results: dict, report_path) -> None:
        """The report's summary columns, in its order, as many as fit the terminal."""
        from reports import records

        agg = records.aggregate(results)
        floor = results.get("floor") or {}
        columns = {"model": [*agg, "real"], **_speed_columns(results, list(agg))}
        width = sum(len(max(c, key=len, default="")) + 2 for c in columns.values())
        width += sum(map(len, columns))
        chosen = []
        for key in (k for k in records.summary_keys(results)
                    if any(k in m for m in agg.values())):
            arrow = {"lower": "↓", "higher": "↑"}.get(records.direction(results, key), "")
            header = f"{records.short_label(results, key)}{arrow}"
            count = records.is_count(results, key)
            cells = [cell(figures.get(key), count) for figures in agg.values()]
            cells.append(fmt(floor.get(key), count))
            need = max(len(header), *map(len, cells)) + 2
            if width + need > self.rich.width:
                break  # the report has them all
            width += need
            chosen.append((header, cells))
        title = (f"{results['dataset']['name']} · {results['config']['preset']} · "
                 f"{results['environment']['backend']}")
        caption = "real: held-out real images, the floor"
        # rich wraps the title and caption to the table's width: a run stopped before any
        # figure has one narrow column, and they would wrap to its 7 characters
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, caption=caption,
                      min_width=max(len(title), len(caption)))
        table.add_column("model", no_wrap=True)
        for header, _ in chosen:
            table.add_column(header, justify="right", no_wrap=True)
        speeds = [name for name in columns if name != "model"]
        for name in speeds:
            table.add_column(name, justify="right", no_wrap=True)
        for i, model in enumerate([*agg, "real"]):
            # a swept model's row is 'dcgan[lr=0.0001]': text, not rich markup
            label = "[italic]real" if model == "real" and i == len(agg) else escape(model)
            table.add_row(label, *[cells[i] for _, cells in chosen],
                          *[columns[name][i] for name in speeds])
        self.rich.print(table)
        if results["status"] != "complete":
            self.loud(f"run {results['status']}: the report covers the finished runs only")
        self.rich.print(f"report: [bold]{report_path}[/]")


def _speed_columns(results: dict, names: list[str]) -> dict[str, list[str]]:
    """The console summary's speed columns, a cell per model and "" for the real row:
    training images/s ("img/s"), and where the record measured them, sampling images/s
    ("sample img/s") and network evaluations per image ("NFE"). Samples scored by `score`
    were never trained: none."""
    from reports import records

    throughput = {model: stats for (model, _), stats in
                  records.aggregate_throughput(results).items()}
    columns = {}
    for header, key, form in (("img/s", "images_per_s", "{:,.0f}"),
                              ("sample img/s", "sampling_images_per_s", "{:,.0f}"),
                              ("NFE", "nfe", "{:.0f}")):
        stats = {m: throughput.get(m, {}).get(key) for m in names}
        if any(stats.values()):
            columns[header] = [form.format(s[0]) if s else "—" for s in stats.values()] + [""]
    return columns
