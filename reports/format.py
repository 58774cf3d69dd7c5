"""How values are written: numbers, in the report and on the console alike (one formatter;
which metrics are whole numbers, and which a summary shows, the record says: reports.records),
and a record's strings in Markdown (``text``, ``code``: shown as they are, never as markup).
"""

from __future__ import annotations

import math
import re

from reports.records import Stat

DASH = "—"  # a value the record does not have


def sig(x: float, digits: int = 3) -> str:
    """x to `digits` significant figures; from 10**digits up, whole with thousands separators
    (1,234 images/s, not 1,230); below 0.001 in scientific notation."""
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits - 0.5:
        return f"{x:,.0f}"
    x = float(f"{x:.{digits}g}")
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def fmt(x, count: bool = False) -> str:
    """One number: 3 significant figures, whole numbers for counts (records.is_count), "—"
    when missing."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return DASH
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if (count or isinstance(x, int)) and float(x).is_integer():
        return f"{int(x):,}"
    if count:
        return f"{x:.3g}"
    return sig(x)


def cell(stat: Stat | None, count: bool = False) -> str:
    """'mean ± std' over seeds; just the value for one seed; "—" for none."""
    if stat is None or stat.n == 0:
        return DASH
    if stat.n == 1:
        return fmt(stat.mean, count)
    return f"{fmt(stat.mean, count)} ± {sig(stat.std, 2) if math.isfinite(stat.std) else 'nan'}"


def interval_cell(stat: Stat | None, values: list[float] | None, count: bool = False) -> str:
    """'119 [104, 131]': the mean and its 95% bootstrap interval over seeds (reports.stats);
    just the value for one seed; "—" for none."""
    from reports import stats

    ci = stats.mean_interval(values) if values and stat and stat.n > 1 else None
    if ci is None:
        return cell(stat, count)
    return f"{fmt(stat.mean, count)} [{fmt(ci[0], count)}, {fmt(ci[1], count)}]"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def duration(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {sec:02d}s"


# Every string a record holds (a model or dataset name, a note, a label, a path) reaches the
# report through ``text`` (or ``code``, for a code span): whatever it holds, it is shown as
# written, never read as HTML, a link, an image, code, a table cell or a new line.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\",
                          "|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]"})
# what would make a line starting with it a heading, list, quote, fence or rule (a note is
# a list item's text)
_LINE_START = re.compile(r"^(?:(?=[#+*=~-])|(\d+)(?=[.)]))")


def text(value) -> str:
    """A record's string as Markdown that shows exactly it, on one line: HTML's ``< > &`` as
    entities; ``\\ | ` [ ]`` (escapes, table cells, code, links and images) and a leading
    block marker (``#``, ``-``, ``1.``) backslash-escaped; line breaks as spaces."""
    one_line = " ".join(str(value).splitlines()).translate(_ESCAPES)
    return _LINE_START.sub(lambda m: (m.group(1) or "") + "\\", one_line, count=1)


def code(value) -> str:
    """A record's string as a code span in a table cell (a command line, a path): shown as
    written, its fence longer than any run of backticks in it, ``|`` escaped for the table,
    line breaks as spaces."""
    one_line = " ".join(str(value).splitlines()).replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", one_line)), default=0) + 1)
    pad = " " if one_line[:1] == "`" or one_line[-1:] == "`" else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"
