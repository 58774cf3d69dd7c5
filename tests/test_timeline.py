"""tests/timeline.py: a worker's busy and idle seconds and its gaps, from hand-made lines."""

from tests import timeline


def test_busy_idle_and_gaps_are_read_from_the_lines(tmp_path):
    path = tmp_path / "timeline.txt"
    # gw0 runs 0-4 and 6-10 (a 2 s gap); gw1 starts at 1 and ends at 7 (idle 1 s before, 3 s
    # after: the span is 0-10)
    path.write_text("gw0 100.0 104.0 tests/a.py::one\n"
                    "gw1 101.0 107.0 tests/b.py::two with spaces[x y]\n"
                    "gw0 106.0 110.0 tests/a.py::three\n")
    by_worker = timeline.read(str(path))
    assert by_worker["gw1"] == [(101.0, 107.0, "tests/b.py::two with spaces[x y]")]
    text = timeline.summary(by_worker, gaps=2).splitlines()
    assert text[0] == "span 10.0 s from the first test's start to the last test's end"
    assert text[1] == ("gw0: 2 tests, busy 8.0 s, idle 2.0 s; longest gaps: "
                       "2.0 s before tests/a.py::three; 0.0 s before its first test")
    assert text[2] == ("gw1: 1 tests, busy 6.0 s, idle 4.0 s; longest gaps: "
                       "3.0 s after its last test; 1.0 s before its first test")
