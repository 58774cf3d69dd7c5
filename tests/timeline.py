"""Reads a test run's timeline (tests/conftest.py, GENBENCH_TEST_TIMELINE=FILE): each worker's
busy and idle seconds between the run's first test start and its last test end, and its
longest idle gaps (the longest tests are pytest's own --durations).

    GENBENCH_TEST_TIMELINE=/tmp/timeline.txt make test
    python -m tests.timeline /tmp/timeline.txt
"""

from __future__ import annotations

import sys
from collections import defaultdict


def read(path: str) -> dict[str, list[tuple[float, float, str]]]:
    by_worker = defaultdict(list)
    with open(path) as f:
        for line in f:
            worker, start, end, nodeid = line.rstrip("\n").split(" ", 3)
            by_worker[worker].append((float(start), float(end), nodeid))
    return {w: sorted(tests) for w, tests in by_worker.items()}


def summary(by_worker: dict[str, list[tuple[float, float, str]]], gaps: int = 5) -> str:
    first = min(t[0][0] for t in by_worker.values())
    last = max(max(e for _, e, _ in t) for t in by_worker.values())
    lines = [f"span {last - first:.1f} s from the first test's start to the last test's end"]
    for worker, tests in sorted(by_worker.items()):
        busy = sum(e - s for s, e, _ in tests)
        holes = [(tests[0][0] - first, "before its first test")]
        holes += [(b[0] - a[1], f"before {b[2]}")
                  for a, b in zip(tests[:-1], tests[1:], strict=True)]
        holes.append((last - tests[-1][1], "after its last test"))
        lines.append(f"{worker}: {len(tests)} tests, busy {busy:.1f} s, idle "
                     f"{last - first - busy:.1f} s; longest gaps: " +
                     "; ".join(f"{g:.1f} s {what}" for g, what in sorted(holes)[::-1][:gaps]))
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(read(sys.argv[1])))
