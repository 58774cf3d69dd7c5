"""The report: results.json in, report.md and figures out. Never imports the models, the
metrics or the benchmark runner: it reads the plain record the runner wrote.
"""

from __future__ import annotations

from pathlib import Path

from reports import records, schema
from reports.files import atomic_write_text
from reports.markdown import render

REPORT_FILE = "report.md"
FIGURES_DIR = "figures"

__all__ = ["FIGURES_DIR", "REPORT_FILE", "records", "render", "render_run", "schema"]


def render_run(run_dir: str | Path) -> Path:
    """Re-draw the record's figures into run_dir/figures and (re)write run_dir/report.md.

    Sample images (grids, progression strip, GIF) are not redrawn: they come from the run
    and are linked only when present. Raises schema.RecordError for an unreadable record, and
    ValueError when run_dir/figures is a link (it writes only inside the run folder).
    """
    from reports import plots  # matplotlib is only needed here

    run_dir = Path(run_dir)
    results = schema.load(run_dir)
    figure_dir = run_dir / FIGURES_DIR
    if figure_dir.is_symlink():
        raise ValueError(f"{figure_dir} is a link (to {figure_dir.readlink()}); the report "
                         "writes its figures only inside the run folder: replace the link "
                         "with a folder")
    for name, draw in plots.RECORD_FIGURES.items():
        if draw(results, figure_dir / name) is None:
            # nothing to plot now: drop a stale figure so the report does not link it
            (figure_dir / name).unlink(missing_ok=True)
    return atomic_write_text(run_dir / REPORT_FILE, render(results, run_dir))
