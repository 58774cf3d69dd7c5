"""results.json's one definition: building, validating, migrating, loading and writing records."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import operator
import os
import shutil
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.config import RunConfig
from reports import files, migrate, schema
from tests.conftest import V1_DIGITS

FIXTURE = V1_DIGITS / "results.json"
V2_FIXTURE = Path(__file__).parent / "fixtures" / "v2-digits" / "results.json"


def _record() -> dict:
    """A small record as the runner writes it: one finished and one failed run."""
    results = schema.new_results(
        command="python -m benchmarks run --models gan --seeds 2",
        config={"models": ["gan"], "dataset": "digits", "preset": "smoke", "steps": 20,
                "seeds": 2, "overrides": {}},
        environment={"backend": "tensorflow", "device": "CPU (2 cores)",
                     "versions": {"keras": "3.15.1", "jax": None}},
        dataset={"name": "digits", "source": "scikit-learn", "note": None, "train_size": 1437,
                 "test_size": 360, "class_names": [str(i) for i in range(10)],
                 "image_shape": [28, 28, 1]})
    results["metrics"] = {
        "fid": schema.metric_info("FID", "Frechet distance", "lower"),
        "density": schema.metric_info("Density", "real balls per sample", "target", 1.0)}
    results["classifier"] = {"test_accuracy": 0.99, "gate": 0.95,
                             "gate_source": "dataset default", "train_seconds": 1.5}
    results["runs"] = [
        schema.new_run("gan", 0, overrides={"lr": 1e-4}, steps_done=20,
                       final={"fid": 12.5, "density": 0.9, "class_histogram": [0.1] * 10},
                       best={"step": 10, "metrics": {"fid": 11.0}},
                       curves={"step": [10, 20], "fid": [11.0, None]},
                       throughput={"images_per_s": 300.0, "peak_memory_mb": None}),
        schema.new_run("gan", 1, overrides={"lr": 1e-4}, status="failed",
                       error="worker died (exit -9)"),
    ]
    return schema.validate(results)


# ---- building ----------------------------------------------------------------------------

@pytest.mark.parametrize("model, overrides, seed, key", [
    ("gan", {}, 1, "gan/s1"),
    ("dcgan", {"lr": 0.0001}, 0, "dcgan[lr=0.0001]/s0"),
    ("dcgan", {"lr": 2e-4, "loss": "hinge"}, 3, "dcgan[loss=hinge,lr=0.0002]/s3"),
    ("ae", {"latent_dim": 8, "sampler": "gmm"}, 0, "ae[latent_dim=8,sampler=gmm]/s0"),
])
def test_run_key(model, overrides, seed, key):
    assert schema.run_key(model, overrides, seed) == key
    # the order settings were given in does not change the key
    assert schema.run_key(model, dict(reversed(list(overrides.items()))), seed) == key


def test_new_run_has_every_required_field():
    run = schema.new_run("dcgan", 2, overrides={"lr": 1e-4}, steps_done=5)
    assert set(schema.Run.__required_keys__) <= set(run)
    assert run["key"] == "dcgan[lr=0.0001]/s2" and run["weights_scored"] == "raw"
    assert run["steps_done"] == 5 and "error" not in run


def test_new_results_is_a_valid_empty_record():
    results = _record()
    assert results["schema_version"] == schema.SCHEMA_VERSION == 3
    assert results["status"] == "running" and results["finished"] is None


def test_new_run_refuses_a_failed_run_without_its_error():
    with pytest.raises(schema.RecordError) as err:
        schema.new_run("gan", 0, status="failed")
    assert str(err.value) == ("run.error must be a string saying why the run failed, "
                              "found nothing")


# ---- validating: the first bad field, in one line ------------------------------------------

def _set(path: str, value):
    """A mutation setting results[path] (dotted, with list indexes) to value."""
    def mutate(results: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = results
        for p in parents:
            target = target[p]
        target[last] = value
    return mutate


def _drop(path: str):
    def mutate(results: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = results
        for p in parents:
            target = target[p]
        del target[last]
    return mutate


@pytest.mark.parametrize("mutate, message", [
    (_set("runs.0.final", "12.5"), "runs[0].final must be an object or null, found str"),
    (_set("config", None), "config must be an object, found null"),
    (_set("runs", {}), "runs must be a list, found object"),
    (_set("runs.1", "gan"), "runs[1] must be an object, found str"),
    (_set("config.steps", "20"), "config.steps must be an integer, found str"),
    (_set("config.steps", 20.5), "config.steps must be an integer, found float"),
    (_set("config.jit", 1), "config.jit must be true or false, found int"),
    (_set("config.models", ["gan", 3]), "config.models[1] must be a string, found int"),
    (_set("config.classifier_gate", "95"), "config.classifier_gate must be a number or null, "
     "found str"),
    (_set("status", "bogus"), "status must be one of 'running', 'complete', 'interrupted', "
     "'failed', found 'bogus'"),
    (_set("runs.0.seed", True), "runs[0].seed must be an integer, found bool"),
    (_set("runs.0.status", "done"), "runs[0].status must be one of 'finished', 'diverged', "
     "'interrupted', 'failed', found 'done'"),
    (_set("runs.0.weights_scored", "mean"), "runs[0].weights_scored must be one of 'raw', "
     "'ema', found 'mean'"),
    (_set("runs.0.overrides", None), "runs[0].overrides must be an object, found null"),
    (_set("runs.0.curves.fid", [11.0, "x"]), "runs[0].curves.fid[1] must be a number or "
     "null, found str"),
    (_set("runs.0.best.step", None), "runs[0].best.step must be an integer, found null"),
    (_set("runs.0.throughput.backend", 1), "runs[0].throughput.backend must be a string, "
     "found int"),
    (_set("runs.1.error", None), "runs[1].error must be a string, found null"),
    (_set("dataset.image_shape", [28, "28", 1]), "dataset.image_shape[1] must be an "
     "integer, found str"),
    (_set("classifier.gate", "95%"), "classifier.gate must be a number, found str"),
    (_set("classifier.gate_source", 1), "classifier.gate_source must be a string, found int"),
    (_set("environment.versions.keras", 3), "environment.versions.keras must be a string or "
     "null, found int"),
    (_set("metrics.fid.direction", "down"), "metrics.fid.direction must be one of 'lower', "
     "'higher', 'target', found 'down'"),
    (_set("metrics.fid.section", "fidelity"), "metrics.fid.section must be one of "
     "'mode_collapse', 'diversity' or null, found str"),
    (_set("metrics.fid.summary", "1"), "metrics.fid.summary must be an integer or null, "
     "found str"),
    (_set("metrics.fid.count", 0), "metrics.fid.count must be true or false, found int"),
    (_drop("metrics.fid.short"), "metrics.fid.short is missing"),
    (_drop("metrics.fid.verdict"), "metrics.fid.verdict is missing"),
    (_set("notes", "a note"), "notes must be a list or null, found str"),
    (_drop("runs.0.seed"), "runs[0].seed is missing"),
    (_drop("runs.0.key"), "runs[0].key is missing"),
    (_drop("metrics"), "metrics is missing"),
    (_drop("runs.0.best.metrics"), "runs[0].best.metrics is missing"),
    (_drop("runs.1.error"), "runs[1].error must be a string saying why the run failed, "
     "found nothing"),
    (_drop("metrics.density.target"), "metrics.density.target is missing: a metric whose "
     "direction is 'target' names its ideal value"),
])
def test_validate_names_the_first_bad_field(mutate, message):
    results = _record()
    mutate(results)
    with pytest.raises(schema.RecordError) as err:
        schema.validate(results)
    assert str(err.value) == message


@pytest.mark.parametrize("version, message", [
    (4, "schema_version 4 is newer than this genbench reads (1 to 3); render it with the "
        "newer genbench that wrote it"),
    (0, "schema_version 0 is not one this genbench reads (1 to 3); re-run the benchmark to "
        "write a current record"),
    ("3", "schema_version '3' is not one this genbench reads (1 to 3); re-run the benchmark "
          "to write a current record"),
    (None, "schema_version is missing: this is not a record written by 'python -m benchmarks "
           "run'; re-run the benchmark"),
])
def test_other_versions_are_refused_in_one_line(version, message):
    results = _record()
    results["schema_version"] = version
    with pytest.raises(schema.RecordError) as err:
        schema.validate(results)
    assert str(err.value) == message


def test_validate_refuses_a_non_object():
    with pytest.raises(schema.RecordError) as err:
        schema.validate([1, 2])
    assert str(err.value) == "a record must be a JSON object, found list"


def test_unknown_keys_and_any_metric_value_pass():
    """Keys a later genbench adds are kept; a metric's value is the report's to judge."""
    results = _record()
    results["runs"][0]["extra"] = {"anything": [1, "two"]}
    results["runs"][0]["final"]["fid"] = "12.5"
    assert schema.validate(results)["runs"][0]["extra"] == {"anything": [1, "two"]}


def _as_json(tp: Any) -> Any:
    """The type a RunConfig field has once dataclasses.asdict and JSON have been through it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is object:
        return Any
    if tp is list:
        return list[Any]
    if origin is tuple:  # tuple[str, ...] is written as a JSON list
        return list[_as_json(args[0])]
    if origin in (list, dict):
        return origin[tuple(_as_json(a) for a in args)]
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, [_as_json(a) for a in args])
    return tp


def test_every_run_setting_is_declared_in_the_schema():
    """The runner writes dataclasses.asdict(RunConfig) into config: each field is declared
    there with the type it has in JSON, so validate checks it (and the schema documents it)."""
    declared = typing.get_type_hints(schema.Config)
    settings = typing.get_type_hints(RunConfig)
    missing = [f.name for f in dataclasses.fields(RunConfig) if f.name not in declared]
    assert not missing, f"RunConfig fields not in reports/schema.py Config: {missing}"
    differ = {f.name: (declared[f.name], _as_json(settings[f.name]))
              for f in dataclasses.fields(RunConfig)
              if declared[f.name] != _as_json(settings[f.name])}
    assert not differ, f"schema type vs RunConfig type (as JSON): {differ}"


# ---- schema 1 -> 2 -> 3 ----------------------------------------------------------------------

def test_v1_record_migrates():
    v1 = json.loads(FIXTURE.read_text(encoding="utf-8"))
    before = copy.deepcopy(v1)
    results = schema.validate(v1)
    assert v1 == before  # the input is left alone
    assert results["schema_version"] == schema.SCHEMA_VERSION
    assert [r["key"] for r in results["runs"]] == ["dcgan/s0", "dcgan/s1", "gan/s0", "gan/s1",
                                                  "ae/s0", "ae/s1"]
    assert all(r["overrides"] == {} and r["weights_scored"] == "raw" for r in results["runs"])
    assert results["dataset"]["image_shape"] == [28, 28, 1]
    assert results["metrics"]["density"]["target"] == 1.0
    assert results["metrics"]["pairwise_distance_ratio"]["target"] == 1.0
    assert "target" not in results["metrics"]["fid"]
    # nothing else changed
    for run, old in zip(results["runs"], before["runs"], strict=True):
        assert {k: v for k, v in run.items() if k not in ("key", "overrides",
                                                          "weights_scored")} == old


def test_v2_record_migrates_to_the_places_the_report_then_gave_each_metric():
    """Schema 2 stored no places: they were the report's own tables (SUMMARY_KEYS and the
    rest, as migrate.V2_* keeps them), so a migrated record renders as it did."""
    v2 = json.loads(V2_FIXTURE.read_text(encoding="utf-8"))
    v2["metrics"]["not_a_metric"] = {"label": "Made up", "description": "", "direction": "lower"}
    before = copy.deepcopy(v2)
    results = schema.validate(v2)
    assert v2 == before and results["schema_version"] == 3
    got = {k: (m["short"], m["section"], m["count"], m["summary"], m["verdict"])
           for k, m in results["metrics"].items()}
    assert got["fid"] == ("FID", None, False, 1, 1)
    assert got["kid"] == ("KID", None, False, 2, 2)
    assert got["fid_logits"] == ("FID (logits)", None, False, None, 3)
    assert got["modes_covered"] == ("modes", "mode_collapse", True, 3, None)
    assert got["ndb"] == ("NDB", "mode_collapse", True, 8, None)  # as schema 2's report had it
    assert got["ndb_js"] == ("JS(cells)", "mode_collapse", False, None, None)
    assert got["density"] == ("Density", "diversity", False, None, None)
    assert got["recon_mse"] == ("Recon. MSE", None, False, None, 5)
    assert got["recon_psnr"] == ("PSNR", None, False, 9, None)
    assert got["not_a_metric"] == ("Made up", None, False, None, None)
    assert sorted(k for k, m in got.items() if m[3]) == sorted(migrate.V2_SUMMARY)


def test_v1_record_with_a_bad_field_names_it():
    v1 = json.loads(FIXTURE.read_text(encoding="utf-8"))
    del v1["runs"][2]["seed"]
    with pytest.raises(schema.RecordError) as err:
        schema.validate(v1)
    assert str(err.value) == "runs[2].seed is missing"


# ---- loading -------------------------------------------------------------------------------

def test_load_a_run_folder_or_its_file(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "results.json")
    assert schema.load(tmp_path) == schema.load(tmp_path / "results.json")
    assert schema.load(tmp_path)["runs"][3]["key"] == "gan/s1"


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(schema.RecordError) as err:
        schema.load(tmp_path / "nope")
    assert str(err.value) == (f"{tmp_path}/nope: no such file; pass a run folder made by "
                              "'python -m benchmarks run' (it holds results.json)")


def test_load_bad_json_says_so(tmp_path):
    (tmp_path / "results.json").write_text('{"schema_version": 2, "runs": [')
    with pytest.raises(schema.RecordError, match=r"^\S+/results\.json: not valid JSON \(.*\); "
                       r"the run may have been cut off while writing it: re-run the benchmark$"):
        schema.load(tmp_path)


def test_load_names_file_and_field(tmp_path):
    results = _record()
    results["config"] = None
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(schema.RecordError) as err:
        schema.load(tmp_path)
    assert str(err.value) == f"{tmp_path}/results.json: config must be an object, found null"


# ---- writing -------------------------------------------------------------------------------

def test_write_round_trips_as_0644_with_no_temp_files(tmp_path):
    results = _record()
    old = os.umask(0o077)  # what made results.json 0600 before: mkstemp plus a strict umask
    try:
        path = schema.write(tmp_path / "results.json", results)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    assert schema.load(tmp_path) == results


def test_write_turns_numpy_and_non_finite_values_into_json(tmp_path):
    results = _record()
    final = results["runs"][0]["final"]
    final.update(fid=np.float32(12.5), density=float("nan"), kid=float("-inf"),
                 class_histogram=np.full(10, 0.1))
    results["runs"][0]["steps_done"] = np.int64(20)
    results["config"]["models"] = ("gan",)
    schema.write(tmp_path / "results.json", results)
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    stored = json.loads(text)
    assert stored["runs"][0]["final"]["fid"] == 12.5
    assert stored["runs"][0]["final"]["density"] is None
    assert stored["runs"][0]["final"]["kid"] is None
    assert stored["runs"][0]["final"]["class_histogram"] == [0.1] * 10
    assert stored["runs"][0]["steps_done"] == 20 and stored["config"]["models"] == ["gan"]


def test_write_refuses_a_bad_record_and_keeps_the_old_file(tmp_path):
    good = _record()
    schema.write(tmp_path / "results.json", good)
    bad = copy.deepcopy(good)
    bad["runs"][0]["status"] = "done"
    with pytest.raises(schema.RecordError, match=r"^runs\[0\]\.status must be one of"):
        schema.write(tmp_path / "results.json", bad)
    assert schema.load(tmp_path) == good
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_atomic_write_failure_leaves_previous_file(tmp_path):
    target = tmp_path / "report.md"
    files.atomic_write_text(target, "first\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, half_then_fail)
    assert target.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_write_folder_failure_leaves_every_previous_file(tmp_path):
    weights = tmp_path / "weights" / "gan-s0"
    files.atomic_write_folder(weights, lambda tmp: [(tmp / n).write_text(f"old {n}")
                                                    for n in ("g.weights.h5", "d.weights.h5")])

    def one_then_half(tmp: Path) -> None:
        (tmp / "g.weights.h5").write_text("new g")
        (tmp / "d.weights.h5").write_text("ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        files.atomic_write_folder(weights, one_then_half)
    assert {p.name: p.read_text() for p in weights.iterdir()} == {
        "g.weights.h5": "old g.weights.h5", "d.weights.h5": "old d.weights.h5"}
    assert [p.name for p in weights.parent.iterdir()] == ["gan-s0"]


def test_atomic_write_temp_file_ends_with_the_name_writers_choose_formats_by(tmp_path):
    seen = []
    files.atomic_write(tmp_path / "generator.weights.h5", lambda tmp: seen.append(tmp.name)
                       or tmp.write_bytes(b"x"))
    assert seen[0].endswith("-generator.weights.h5") and seen[0].startswith(".tmp-")


def test_load_binary_garbage_says_not_json(tmp_path):
    (tmp_path / "results.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(schema.RecordError, match=r"results\.json: not valid JSON \("):
        schema.load(tmp_path)


def test_builders_take_dataclass_tuples_and_numpy_values():
    """The runner passes dataclasses.asdict(config) (tuples) and numpy metric values."""
    results = schema.new_results(command="c", config={"models": ("gan", "ae"), "steps": 20},
                                 environment={}, dataset={"image_shape": (32, 32, 3)})
    assert results["config"]["models"] == ["gan", "ae"]
    assert results["dataset"]["image_shape"] == [32, 32, 3]
    run = schema.new_run("gan", np.int64(1), overrides={"lr": np.float64(1e-4)},
                         steps_done=np.int64(20), final={"fid": np.float32(2.5),
                                                         "kid": float("nan")})
    assert run["seed"] == 1 and type(run["seed"]) is int and run["key"] == "gan[lr=0.0001]/s1"
    assert run["final"] == {"fid": 2.5, "kid": None} and run["steps_done"] == 20
