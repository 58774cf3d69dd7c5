"""render(results) -> the Markdown report: one screen to the verdict, then the detail.

Pure: reads the record (and, when given run_dir, only checks which figure files exist).
Every cell is ``mean ± std`` over seeds (just the value for one seed); "—" marks a value the
record does not have.
"""

from __future__ import annotations

from pathlib import Path

from reports import detail, records, significance, tables
from reports.overview import header, verdict


def render(results: dict, run_dir: str | Path | None = None) -> str:
    """The whole report. With run_dir, figures missing from that folder are left out."""
    run_dir = Path(run_dir) if run_dir is not None else None
    # samples scored by `score` were not trained: no throughput or curves to show
    training = records.any_trained(results)
    sections = [
        ("Verdict", verdict(results)),
        ("Summary", tables.summary(results)),
        ("Significance", significance.section(results)),
        ("Sweep", significance.sweep(results, run_dir)),
        ("Mode collapse", tables.mode_collapse(results, run_dir)),
        ("Diversity and fidelity", tables.diversity(results)),
        ("Throughput", tables.throughput(results) if training else []),
        ("Sampling cost", tables.sampling_cost(results, run_dir)),
        ("Samples", detail.samples(results, run_dir)),
        ("Curves", detail.curves(results, run_dir) if training else []),
        ("All metrics", tables.all_metrics(results)),
        ("Notes", detail.notes(results)),
    ]
    lines = header(results)
    for title, body in sections:
        if not body:  # a section this run has nothing for (Sweep without --sweep)
            continue
        while body and not body[-1]:
            body = body[:-1]
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines).rstrip() + "\n"
