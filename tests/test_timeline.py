"""tests/timeline.py: a worker's busy and idle seconds, its gaps and where the CPU went, from
hand-made lines; and the line conftest writes for a test that ran a real process."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests import timeline


def test_busy_idle_gaps_and_cpu_are_read_from_the_lines(tmp_path):
    path = tmp_path / "timeline.txt"
    # gw0 runs 0-4 and 6-10 (a 2 s gap); gw1 starts at 1 and ends at 7 (idle 1 s before, 3 s
    # after: the span is 0-10); CPU 1.5 + 2.25 + 0.5 = 4.25 s
    path.write_text("gw0 100.0 104.0 1.5 tests/a.py::one\n"
                    "gw1 101.0 107.0 2.25 tests/b.py::two with spaces[x y]\n"
                    "gw0 106.0 110.0 0.5 tests/a.py::three\n")
    by_worker = timeline.read(str(path))
    assert by_worker["gw1"] == [(101.0, 107.0, "tests/b.py::two with spaces[x y]", 2.25)]
    text = timeline.summary(by_worker, gaps=2, hungriest=2).splitlines()
    assert text[0] == ("span 10.0 s from the first test's start to the last test's end; "
                       "CPU 4.2 s in the workers and the processes they waited for")
    assert text[1] == ("gw0: 2 tests, busy 8.0 s, idle 2.0 s; longest gaps: "
                       "2.0 s before tests/a.py::three; 0.0 s before its first test")
    assert text[2] == ("gw1: 1 tests, busy 6.0 s, idle 4.0 s; longest gaps: "
                       "3.0 s after its last test; 1.0 s before its first test")
    assert text[3] == ("most CPU: 2.2 s tests/b.py::two with spaces[x y]; "
                       "1.5 s tests/a.py::one")


def test_a_tests_line_counts_the_cpu_of_the_process_it_waited_for(tmp_path, monkeypatch):
    """conftest's hook around a test that runs a busy child for a CPU-second writes at least
    that (the child's CPU reaches the worker's RUSAGE_CHILDREN once it is waited for)."""
    from tests import conftest

    line_file = tmp_path / "timeline.txt"
    monkeypatch.setenv(conftest.TIMELINE_ENV, str(line_file))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    hook = conftest.pytest_runtest_protocol(SimpleNamespace(nodeid="t.py::busy"), None)
    next(hook)  # the test starts
    subprocess.run([sys.executable, "-S", "-c", "import time\nt = time.process_time()\n"
                    "while time.process_time() - t < 1.0: pass"], check=True, timeout=60)
    with pytest.raises(StopIteration):
        next(hook)  # and ends
    ((start, end, nodeid, cpu),) = timeline.read(str(line_file))["gw7"]
    assert nodeid == "t.py::busy"
    assert 1.0 <= cpu <= end - start + 0.5
