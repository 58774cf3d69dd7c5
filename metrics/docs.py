"""The manual's metrics table (docs/metrics.md), written from ``METRICS`` so the page cannot
drift from the table ``evaluate`` runs. ``python -m metrics.docs [PAGE]`` (``make docs``)
rewrites the part of the page between the two markers; the prose around it is the page's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

from metrics.info import METRICS, MetricInfo

BEGIN = ("<!-- the metrics table: written from metrics/info.py by `python -m metrics.docs` "
         "(make docs); edit METRICS, not this table -->")
END = "<!-- end of the metrics table -->"
PAGE = Path("docs") / "metrics.md"
SCORED = {"classifier": "images", "per_channel": "Stacked MNIST", "mixture": "2-D mixtures"}
SECTIONS = {"mode_collapse": "Mode collapse", "diversity": "Diversity"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _better(info: MetricInfo) -> str:
    return f"≈ {info.target:g}" if info.direction == "target" else info.direction


def _scored(info: MetricInfo) -> str:
    kinds = ", ".join(SCORED[kind] for kind in info.scoring)
    return f"{kinds} (autoencoders)" if info.from_reconstructions else kinds


def _shown(info: MetricInfo) -> str:
    """Where the report shows it: every metric is in All metrics; these are the other places."""
    places = []
    if info.summary is not None:
        places.append(f"summary, column {info.summary}")
    if info.verdict is not None:
        places.append(f"verdict, rank {info.verdict}")
    if info.section is not None:
        places.append(SECTIONS[info.section])
    if info.fast:
        places.append("curves over training")
    return "; ".join(places) or "All metrics only"


def table() -> str:
    """One row per metric, in METRICS' order (the report's)."""
    rows = ["| metric | key | what it is | better | scored on | in the report |",
            "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {_cell(m.label)} | `{m.key}` | {_cell(m.description)} | {_better(m)} | "
             f"{_scored(m)} | {_shown(m)} |" for m in METRICS.values()]
    return "\n".join(rows)


def page(text: str) -> str:
    """The page with the part between its markers replaced by the current table."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page has no metrics-table markers: {BEGIN} ... {END}")
    return f"{head}{BEGIN}\n\n{table()}\n\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else PAGE
    text = path.read_text(encoding="utf-8")
    fresh = page(text)
    if fresh != text:
        path.write_text(fresh, encoding="utf-8")
        print(f"{path}: the metrics table rewritten from metrics/info.py")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
