"""Reads a test run's timeline (tests/conftest.py, GENBENCH_TEST_TIMELINE=FILE): each worker's
busy and idle seconds between the run's first test start and its last test end, its longest
idle gaps, and the tests that used the most CPU (the longest in wall time are pytest's own
--durations; beside another worker a test's wall time says little about its own cost).

    GENBENCH_TEST_TIMELINE=/tmp/timeline.txt make test
    python -m tests.timeline /tmp/timeline.txt
"""

from __future__ import annotations

import sys
from collections import defaultdict

Test = tuple[float, float, str, float]  # start, end, nodeid, CPU seconds


def read(path: str) -> dict[str, list[Test]]:
    by_worker = defaultdict(list)
    with open(path) as f:
        for line in f:
            worker, start, end, cpu, nodeid = line.rstrip("\n").split(" ", 4)
            by_worker[worker].append((float(start), float(end), nodeid, float(cpu)))
    return {w: sorted(tests) for w, tests in by_worker.items()}


def summary(by_worker: dict[str, list[Test]], gaps: int = 5, hungriest: int = 10) -> str:
    first = min(t[0][0] for t in by_worker.values())
    last = max(max(t[1] for t in tests) for tests in by_worker.values())
    everything = [t for tests in by_worker.values() for t in tests]
    lines = [f"span {last - first:.1f} s from the first test's start to the last test's end; "
             f"CPU {sum(t[3] for t in everything):.1f} s in the workers and the processes "
             "they waited for"]
    for worker, tests in sorted(by_worker.items()):
        busy = sum(t[1] - t[0] for t in tests)
        holes = [(tests[0][0] - first, "before its first test")]
        holes += [(b[0] - a[1], f"before {b[2]}")
                  for a, b in zip(tests[:-1], tests[1:], strict=True)]
        holes.append((last - tests[-1][1], "after its last test"))
        lines.append(f"{worker}: {len(tests)} tests, busy {busy:.1f} s, idle "
                     f"{last - first - busy:.1f} s; longest gaps: " +
                     "; ".join(f"{g:.1f} s {what}" for g, what in sorted(holes)[::-1][:gaps]))
    lines.append("most CPU: " + "; ".join(
        f"{cpu:.1f} s {nodeid}" for *_, nodeid, cpu in
        sorted(everything, key=lambda t: t[3], reverse=True)[:hungriest]))
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(read(sys.argv[1])))
