"""benchmarks.study: sweep parsing, the grid of keyed runs and what --resume skips."""

import re

import pytest

from benchmarks import study
from benchmarks.errors import UserError
from models import registry
from tests.clitools import assert_one_line_error, cli


def classes(*names):
    return {n: registry.get(n).Config for n in names}


def test_sweep_values_are_typed_like_set():
    sweep = study.parse_sweeps(["dcgan.lr=1e-4,2e-4", "dcgan.noise_dim=64,128",
                                "ae.sampler=gmm,gaussian"], [], classes("dcgan", "ae"))
    assert sweep == {"dcgan": {"lr": [1e-4, 2e-4], "noise_dim": [64, 128]},
                     "ae": {"sampler": ["gmm", "gaussian"]}}
    assert isinstance(sweep["dcgan"]["noise_dim"][0], int)


def test_grid_is_the_product_per_model_times_seeds():
    sweep = {"dcgan": {"lr": [1e-4, 2e-4], "noise_dim": [64, 128]}}
    specs = study.grid(["dcgan", "ae"], sweep, seeds=2)
    assert len(specs) == 2 * 2 * 2 + 2  # ae is not swept: one setting, two seeds
    keys = [s.key for s in specs]
    assert len(set(keys)) == len(keys)
    assert keys[:2] == ["dcgan[lr=0.0001,noise_dim=64]/s0", "dcgan[lr=0.0001,noise_dim=64]/s1"]
    assert keys[-2:] == ["ae/s0", "ae/s1"]
    assert specs[3].overrides == {"lr": 1e-4, "noise_dim": 128} and specs[3].seed == 1


def test_pending_skips_finished_keys_only():
    specs = study.grid(["ae"], {"ae": {"lr": [1e-3, 2e-3]}}, seeds=2)
    runs = [{"key": specs[0].key, "status": "finished"},
            {"key": specs[1].key, "status": "diverged"},
            {"key": specs[2].key, "status": "failed", "error": "worker died"},
            {"key": "gan/s0", "status": "finished"}]
    assert study.pending(specs, runs) == specs[2:]  # failed and missing run again


def test_model_config_applies_set_then_sweep():
    spec = study.TrialSpec("ae", {"lr": 5e-3}, seed=0)
    cfg = study.model_config(registry.get("ae").Config, {"latent_dim": 8}, spec)
    assert (cfg.lr, cfg.latent_dim, cfg.sampler) == (5e-3, 8, "gmm")


def test_a_value_the_models_config_rejects_is_refused():
    with pytest.raises(UserError, match=re.escape("--sweep ae.sampler=bogus: sampler='bogus'")):
        study.parse_sweeps(["ae.sampler=gmm,bogus"], [], classes("ae"))


@pytest.mark.parametrize("items, sets, message", [
    (["dcgan.lr=1e-4,abc"], [], "--sweep dcgan.lr=abc: 'abc' is not a valid float"),
    (["dcgan.lr"], [], "is not of the form MODEL.KEY=V1,V2"),
    (["dcgan.lr=1e-4,"], [], "is not of the form MODEL.KEY=V1,V2"),
    (["no_such_model.lr=1,2"], [], "model 'no_such_model' is not in this run"),
    (["dcgan.no_such_key=1,2"], [], "unknown key 'no_such_key' for dcgan"),
    (["dcgan.lr=1e-4,1e-4"], [], "names a value twice"),
    (["dcgan.lr=1e-4", "dcgan.lr=2e-4"], [], "dcgan.lr is given twice"),
    (["dcgan.lr=1e-4,2e-4"], ["dcgan.lr=3e-4"], "dcgan.lr is both --set and --sweep"),
])
def test_bad_sweeps_are_one_line(items, sets, message):
    with pytest.raises(UserError, match=re.escape(message)):
        study.parse_sweeps(items, sets, classes("dcgan"))


def sweep_record(fids: dict[float, list[float]]) -> dict:
    from reports import schema

    results = schema.new_results(
        command="python -m benchmarks run --sweep ae.lr=...", environment={"backend": "jax"},
        config={"models": ["ae", "gan"], "seeds": 2, "sweep": {"ae": {"lr": sorted(fids)}}},
        dataset={"name": "digits", "class_names": [str(i) for i in range(10)]})
    results.update(status="complete",
                   metrics={"fid": schema.metric_info("FID", "Frechet distance", "lower",
                                                     summary=1, verdict=1)})
    results["runs"] = [schema.new_run("ae", seed, overrides={"lr": lr}, final={"fid": fid})
                       for lr, values in fids.items() for seed, fid in enumerate(values)]
    results["runs"].append(schema.new_run("gan", 0, final={"fid": 200.0}))
    return results


def test_report_shows_each_setting_the_best_and_the_sensitivity_plot(tmp_path):
    from reports import render_run, schema

    results = sweep_record({1e-3: [110.0, 114.0], 1e-2: [90.0, 94.0], 1e-1: [150.0, 170.0]})
    schema.write(tmp_path / "results.json", results)
    text = render_run(tmp_path).read_text()
    sweep = text[text.index("## Sweep"):text.index("\n## ", text.index("## Sweep") + 1)]
    # a setting's brackets are the record's text, escaped (Markdown shows ae[lr=0.01])
    assert "**ae**, best setting by FID: ae\\[lr=0.01\\]." in sweep
    assert "| ae\\[lr=0.01\\] | **92.0 [90.0, 94.0]** |" in sweep
    assert "| ae\\[lr=0.001\\] | 112 [110, 114] |" in sweep
    assert "![FID against each swept setting" in sweep
    assert (tmp_path / "figures" / "sensitivity.png").stat().st_size > 1000
    # the summary has a row per setting, and the unswept model as itself
    assert "| ae\\[lr=0.1\\] | 2 | 160 [150, 170] |" in text and "| gan | 1 | 200 |" in text
    from reports import records

    assert records.planned(results) == (3 + 1) * 2  # ae's 3 settings and gan, 2 seeds each


def test_report_without_a_sweep_has_no_sweep_section(tmp_path):
    from reports import render

    results = sweep_record({1e-3: [110.0, 114.0]})
    results["config"]["sweep"] = {}
    assert "## Sweep" not in render(results)


def test_a_bad_sweep_on_the_command_line_is_one_line_before_any_output(tmp_path):
    out = tmp_path / "out"
    proc = cli("run", "--models", "ae", "--dataset", "digits", "--preset", "smoke",
               "--sweep", "ae.lr=1e-3,x", "--out", str(out))
    assert_one_line_error(proc, "--sweep ae.lr=x: 'x' is not a valid float")
    assert not out.exists()
    proc = cli("run", "--resume", str(out), "--sweep", "ae.lr=1e-3,2e-3")
    assert_one_line_error(proc, "--resume continues a run", "drop --sweep")
