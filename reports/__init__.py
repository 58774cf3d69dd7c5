"""The report: results.json in, report.md and figures out. Never imports the models, the
metrics or the benchmark runner: it reads the plain record the runner wrote.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reports import records
from reports.markdown import render

REPORT_FILE = "report.md"
FIGURES_DIR = "figures"

__all__ = ["REPORT_FILE", "records", "render", "render_run"]


def render_run(run_dir: str | Path) -> Path:
    """Re-draw the record's figures into run_dir/figures and (re)write run_dir/report.md.

    Sample images (grids, progression strip, GIF) are not redrawn: they come from the run
    and are linked only when present. Raises records.RecordError for an unreadable record.
    """
    from reports import figures  # matplotlib is only needed here

    run_dir = Path(run_dir)
    results = records.load(run_dir / records.RESULTS_FILE)
    figure_dir = run_dir / FIGURES_DIR
    for name, draw in figures.RECORD_FIGURES.items():
        if draw(results, figure_dir / name) is None:
            # nothing to plot now: drop a stale figure so the report does not link it
            (figure_dir / name).unlink(missing_ok=True)
    text = render(results, run_dir)
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".report.", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is for everyone to read
        os.replace(tmp, run_dir / REPORT_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return run_dir / REPORT_FILE
