"""What the terminal shows: a progress bar per (model, seed), eval lines, the summary table."""

from __future__ import annotations

from rich import box
from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# the terminal's pick, with short headers, so the table fits an 80-column terminal; the
# report has every metric under its full name
SUMMARY_KEYS = ("fid", "modes_covered", "kl_classes", "precision", "recall", "coverage",
                "recon_psnr")
SHORT = {"modes_covered": "modes", "kl_classes": "KL", "precision": "prec", "recall": "recall",
         "coverage": "cover", "recon_psnr": "PSNR"}


class _Bar:
    def __init__(self, console: RichConsole, label: str, total: int):
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[losses]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=console, transient=False,
        )
        self._task = self._progress.add_task(label, total=total, speed="", losses="")

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def update(self, info) -> None:
        losses = " ".join(f"{k[:4]} {v:.3f}" for k, v in (info.losses or {}).items())
        speed = f"{info.images_per_s:,.0f} img/s" if info.images_per_s else "compiling"
        self._progress.update(self._task, completed=info.step, speed=speed, losses=losses)


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
