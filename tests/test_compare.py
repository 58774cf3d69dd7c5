"""``compare RUN_DIR...``: runs merged into one report with the same intervals; runs on other
data or classifiers refused in one line."""

import json

import pytest

from benchmarks.compare import compare
from benchmarks.errors import UserError
from reports import schema
from tests.clitools import assert_one_line_error, cli


def record(backend: str, fids: list[float], *, dataset: str = "digits",
           accuracy: float = 0.97, sweep: dict | None = None, samples: int = 500) -> dict:
    results = schema.new_results(
        command="python -m benchmarks run", environment={"backend": backend, "device": "CPU"},
        config={"models": ["ae"], "dataset": dataset, "preset": "smoke", "steps": 20,
                "seeds": len(fids), "backend": backend, "precision": "float32",
                "sweep": sweep or {}, "samples": samples},
        dataset={"name": dataset, "source": "test", "train_size": 1437, "test_size": 360,
                 "class_names": [str(i) for i in range(10)], "image_shape": [28, 28, 1]})
    results.update(status="complete", classifier={"test_accuracy": accuracy, "gate": 0.9},
                   metrics={"fid": schema.metric_info("FID", "Frechet distance", "lower",
                                                     summary=1, verdict=1)})
    results["runs"] = [schema.new_run("ae", seed, final={"fid": fid},
                                      figures={"samples_final": f"figures/ae-s{seed}-final.png"})
                       for seed, fid in enumerate(fids)]
    return results


def write(folder, results):
    folder.mkdir(parents=True)
    schema.write(folder / "results.json", results)
    return folder


def test_compare_merges_runs_with_intervals_and_a_verdict(tmp_path):
    tf = record("tensorflow", [100.0, 102.0, 104.0])
    tf["runs"][1]["figures"] = {"samples_final": "../secret.png"}  # not inside its folder
    tf = write(tmp_path / "tf", tf)
    jax = write(tmp_path / "jax", record("jax", [120.0, 121.0, 125.0]))
    (tf / "figures").mkdir()
    (tf / "figures" / "ae-s0-final.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "secret.png").write_bytes(b"secret")
    report = compare([str(tf), str(jax)], str(tmp_path / "both"))
    merged = json.loads((tmp_path / "both" / "results.json").read_text())
    assert [r["key"] for r in merged["runs"]][:2] == ["ae@tf/s0", "ae@tf/s1"]
    assert merged["config"]["models"] == ["ae@tf", "ae@jax"]
    # each run's figures are copied into the comparison's own folder, which its report links
    assert merged["runs"][0]["figures"]["samples_final"] == "figures/run1/ae-s0-final.png"
    assert (tmp_path / "both" / "figures" / "run1" / "ae-s0-final.png").read_bytes()[:4] \
        == b"\x89PNG"
    assert merged["runs"][1]["figures"] == {}  # a path out of the run folder is not followed
    assert not list((tmp_path / "both").rglob("secret*"))
    text = report.read_text()
    assert "](figures/run1/ae-s0-final.png)" in text
    # 100, 102, 104: mean 102; a percentile bootstrap of 3 values stays within [100, 104]
    assert "| ae@tf | 3 | **102 [" in text
    # difference 20 with spreads 2 and 2.6 over 3 seeds: Welch's interval excludes 0
    assert "**ae@tf** has the best mean FID" in text
    assert "The lead over ae@jax holds at 3 seeds" in text
    assert "| ae@tf | — | 1.00 [1.00, 1.00] |" in text  # every tf seed beats every jax seed
    assert "tf: " in text and "; tensorflow on CPU" in text  # where and when each run came from


def test_compare_notes_which_runs_drew_their_training_images_on_the_fly(tmp_path):
    fly = record("tensorflow", [100.0])
    fly["config"]["draw"] = "on-the-fly"
    fly = write(tmp_path / "fly", fly)
    fixed = write(tmp_path / "fixed", record("tensorflow", [101.0]))
    compare([str(fly), str(fixed)], str(tmp_path / "both"))
    notes = json.loads((tmp_path / "both" / "results.json").read_text())["notes"]
    assert [("drawn on the fly" in note) for note in notes] == [True, False]
    assert notes[0].endswith("float32, 20 steps, training images drawn on the fly, status "
                             "complete)")


def test_compare_states_only_the_budget_its_runs_share(tmp_path):
    # a 6,000-step run beside a 2,000-step one: the header must not say 6,000 for both
    long = record("tensorflow", [100.0])
    long["config"].update(steps=6000, batch_size=64, eval_every=2000, eval_samples=5000)
    short = record("tensorflow", [101.0])
    short["config"].update(steps=2000, batch_size=64, eval_every=1000, eval_samples=5000)
    report = compare([str(write(tmp_path / "long", long)), str(write(tmp_path / "short", short))],
                     str(tmp_path / "both"))
    merged = json.loads((tmp_path / "both" / "results.json").read_text())
    assert "steps" not in merged["config"] and "eval_every" not in merged["config"]
    assert merged["config"]["batch_size"] == 64 and merged["config"]["preset"] == "smoke"
    assert merged["notes"][0] == ("The compared runs' budgets differ, so the Config line gives "
                                  "only what they share: steps 6,000 (long), 2,000 (short); "
                                  "eval_every 2,000 (long), 1,000 (short).")
    config = next(line for line in report.read_text().splitlines()
                  if line.startswith("| Config |"))
    assert config == "| Config | preset **smoke**, 1 seed, batch 64, final metrics on 500 samples |"


def test_compare_of_two_presets_names_neither_in_its_config_line(tmp_path):
    smoke, quick = record("tensorflow", [100.0]), record("tensorflow", [101.0])
    quick["config"]["preset"] = "quick"
    report = compare([str(write(tmp_path / "a", smoke)), str(write(tmp_path / "b", quick))],
                     str(tmp_path / "both"))
    assert "| Config | 20 steps, 1 seed, final metrics on 500 samples |" in report.read_text()
    assert json.loads((tmp_path / "both" / "results.json").read_text())["notes"][0].endswith(
        "preset smoke (a), quick (b).")


def test_compare_dates_span_its_runs_and_each_note_gives_its_run_start(tmp_path):
    early, late = record("tensorflow", [100.0]), record("tensorflow", [101.0])
    early.update(started="2026-12-03T05:07:00", finished="2026-12-03T06:07:30")
    late.update(started="2026-12-05T06:10:00", finished="2026-12-05T07:40:00")
    # given latest first: the span is still the earliest start to the latest end
    report = compare([str(write(tmp_path / "late", late)), str(write(tmp_path / "early", early))],
                     str(tmp_path / "both"))
    merged = json.loads((tmp_path / "both" / "results.json").read_text())
    assert (merged["started"], merged["finished"]) == ("2026-12-03T05:07:00",
                                                       "2026-12-05T07:40:00")
    assert "| Date | 2026-12-03 05:07 → 2026-12-05 07:40 (50h 33m) |" in report.read_text()
    late_note, early_note = merged["notes"]
    assert late_note.startswith(f"late: {tmp_path / 'late'} (2026-12-05 06:10; tensorflow on CPU")
    assert early_note.startswith(f"early: {tmp_path / 'early'} (2026-12-03 05:07; tensorflow")
    late["finished"] = None  # one run not finished: nor is the comparison
    compare([str(write(tmp_path / "late2", late)), str(write(tmp_path / "early2", early))],
            str(tmp_path / "both2"))
    assert json.loads((tmp_path / "both2" / "results.json").read_text())["finished"] is None


@pytest.mark.parametrize("other, message", [
    (record("jax", [1.0], dataset="mnist"), "different datasets (dataset.name 'digits' vs "
                                            "'mnist')"),
    (record("jax", [1.0], accuracy=0.95), "different classifiers (classifier.test_accuracy"),
    # FID is biased by N: rows scored on other counts do not compare (issue 29 item 9)
    (record("jax", [1.0], samples=10000), "different sample counts (config.samples 500 vs "
                                          "10000); FID and modes covered depend on how many "
                                          "samples are scored"),
])
def test_compare_refuses_runs_on_other_data_or_classifiers(tmp_path, other, message):
    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    b = write(tmp_path / "b", other)
    with pytest.raises(UserError, match=r"cannot compare a and b: ") as err:
        compare([str(a), str(b)], str(tmp_path / "out"))
    assert message in str(err.value)
    assert not (tmp_path / "out").exists()


def test_compare_bad_input_is_one_line(tmp_path):
    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    with pytest.raises(UserError, match="at least two run folders"):
        compare([str(a)])
    with pytest.raises(UserError, match="no such file"):
        compare([str(a), str(tmp_path / "no_such_run")])
    proc = cli("compare", str(a), str(tmp_path / "no_such_run"))
    assert_one_line_error(proc, "cannot compare", "no_such_run")


def test_report_and_compare_refuse_a_status_the_schema_does_not_define(tmp_path):
    """A record's status is one of the schema's; any other is refused, not shown as a
    "WARNING — ... RUN" of that name."""
    good = write(tmp_path / "good", record("tensorflow", [1.0]))
    bad = tmp_path / "bad"
    bad.mkdir()
    results = json.loads((good / "results.json").read_text())
    results["status"] = "bogus"
    (bad / "results.json").write_text(json.dumps(results))
    message = "status must be one of 'running', 'complete', 'interrupted', 'failed', found 'bogus'"
    assert_one_line_error(cli("report", str(bad)), str(bad / "results.json"), message)
    assert not (bad / "report.md").exists()
    assert_one_line_error(cli("compare", str(good), str(bad), "--out", str(tmp_path / "both")),
                          "cannot compare", message)
    assert not (tmp_path / "both").exists()


def test_compare_refuses_a_run_compared_with_itself(tmp_path):
    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    b = write(tmp_path / "b", record("jax", [1.0]))
    assert_one_line_error(cli("compare", str(a), str(b), str(a)), f"{a} is given twice")
    proc = cli("compare", str(a), str(tmp_path / "b" / ".." / "a"), "--out",
               str(tmp_path / "out"))
    assert_one_line_error(proc, f"{a} and {tmp_path / 'b' / '..' / 'a'} are the same run "
                          "folder", "compare a run with a different one")
    assert not (tmp_path / "out").exists()


def test_compare_out_onto_a_run_folder_is_refused_and_leaves_it(tmp_path):
    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    b = write(tmp_path / "b", record("jax", [2.0]))
    run_dir = write(tmp_path / "run", record("tensorflow", [3.0, 4.0]))
    before = (run_dir / "results.json").read_bytes()
    proc = cli("compare", str(a), str(b), "--out", str(run_dir))
    assert_one_line_error(proc, f"{run_dir} already holds a run", "--out")
    assert (run_dir / "results.json").read_bytes() == before
    assert not (run_dir / "report.md").exists()
    with pytest.raises(UserError, match="already holds a run"):
        compare([str(a), str(b)], str(a))  # onto one of its own inputs, likewise


def test_compare_out_may_replace_an_earlier_comparison(tmp_path):
    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    b = write(tmp_path / "b", record("jax", [2.0]))
    out = tmp_path / "cmp"
    for first, second in ((a, b), (b, a)):  # one process each: a command holds its lock
        proc = cli("compare", str(first), str(second), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    runs = schema.load(out)["runs"]
    assert [r["model"] for r in runs] == ["ae@b", "ae@a"]


def test_compare_out_is_refused_while_a_run_holds_its_lock(tmp_path):
    import fcntl

    a = write(tmp_path / "a", record("tensorflow", [1.0]))
    b = write(tmp_path / "b", record("jax", [2.0]))
    out = tmp_path / "starting"
    out.mkdir()
    with open(out / ".lock", "a+") as held:  # a run that has not written results.json yet
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("genbench pid 4242")
        held.flush()
        proc = cli("compare", str(a), str(b), "--out", str(out))
    assert_one_line_error(proc, f"{out} is being written by genbench pid 4242", "--out")
    assert not (out / "results.json").exists()
