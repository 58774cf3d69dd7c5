"""Model plugins: a file outside the package (--plugin) or an installed distribution's entry
point registers a model that then trains like a built-in, under every executor; a plugin
that cannot be used is one line naming it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from benchmarks.cli.types import model_names
from benchmarks.overrides import parse_overrides
from benchmarks.study import parse_sweeps
from models import plugins, registry
from tests import plugintools
from tests.clitools import ROOT, assert_one_line_error, cli


@pytest.fixture
def plugin_file(tmp_path):
    """The manual's example plugin (docs/own-model.md), written outside the package and
    unloaded afterwards."""
    path = plugintools.write(tmp_path, plugintools.readme_plugin())
    yield path
    plugins.forget(path)


def test_a_plugin_file_registers_its_model_for_models_all_set_and_sweep(plugin_file):
    assert ROOT not in plugin_file.resolve().parents
    assert "mine" not in registry.names()
    loaded = plugins.load([plugin_file])
    assert loaded == [str(plugin_file.resolve())]
    assert plugins.defined_in(plugin_file) == ["mine"]
    assert plugins.origin("mine") == str(plugin_file.resolve()) and plugins.origin("gan") is None
    assert plugins.load([plugin_file]) == loaded  # a second load is the same module, no clash
    assert "mine" in model_names("all") and "gan" in model_names("all")
    cls = registry.get("mine")
    assert not cls.__module__.startswith("models.") and cls.__module__ in sys.modules
    overrides = parse_overrides(["mine.lr=1e-3"], {"mine": cls.Config})
    assert overrides == {"mine": {"lr": 1e-3}}
    assert parse_sweeps(["mine.noise_dim=8,16"], [], {"mine": cls.Config}) == \
        {"mine": {"noise_dim": [8, 16]}}
    plugins.forget(plugin_file)
    assert "mine" not in registry.names()


def test_two_plugin_files_of_one_name_are_two_modules(tmp_path):
    paths = []
    for model in ("mine_a", "mine_b"):
        (tmp_path / model).mkdir()
        source = plugintools.readme_plugin().replace('"mine"', f'"{model}"')
        paths.append(plugintools.write(tmp_path / model, source, "model.py"))
    try:
        plugins.load(paths)
        assert {"mine_a", "mine_b"} <= set(registry.names())
        assert registry.get("mine_a").__module__ != registry.get("mine_b").__module__
    finally:
        for path in paths:
            plugins.forget(path)


BROKEN = {
    "import": ("import no_such_module_for_this_test\n",
               "failed to import: ModuleNotFoundError: No module named "
               "'no_such_module_for_this_test'"),
    "syntax": ("def broken(:\n", "failed to import: SyntaxError"),
    "no model": ("SETTINGS = {'lr': 1e-3}\n", "defines no model"),
    "clash": ("from models.gan import GAN\nfrom models.registry import register\n\n\n"
              "@register('dcgan')\nclass Again(GAN):\n    '''Another dcgan.'''\n",
              "its model 'dcgan' clashes with the built-in dcgan (models.dcgan.DCGAN)"),
    # the first model registers, then the file fails: neither stays registered
    "half": (plugintools.readme_plugin() + "\nraise RuntimeError('half way')\n",
             "failed to import: RuntimeError: half way"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_plugin_that_cannot_be_used_is_one_line_naming_the_file(tmp_path, case):
    source, fragment = BROKEN[case]
    path = plugintools.write(tmp_path, source, "their_model.py")
    before = registry.names()
    with pytest.raises(plugins.PluginError) as info:
        plugins.load_file(path)
    message = str(info.value)
    assert message.startswith(f"plugin {path}") and fragment in message, message
    assert "\n" not in message
    assert registry.names() == before


def test_a_missing_plugin_file_is_one_line(tmp_path):
    with pytest.raises(plugins.PluginError, match=r"plugin .*absent\.py: no such file"):
        plugins.load_file(tmp_path / "absent.py")


def test_a_broken_plugin_stops_the_command_in_one_line_before_anything_is_written(tmp_path):
    path = plugintools.write(tmp_path, BROKEN["import"][0], "their_model.py")
    out = tmp_path / "out"
    proc = cli("run", "--plugin", str(path), "--models", "gan", "--preset", "smoke",
               "--dataset", "digits", "--out", str(out))
    assert_one_line_error(proc, f"plugin {path} failed to import", "ModuleNotFoundError")
    assert not out.exists()
    clash = plugintools.write(tmp_path, BROKEN["clash"][0], "clash.py")
    assert_one_line_error(cli("list", "--plugin", str(clash)), f"plugin {clash}",
                          "clashes with the built-in dcgan")


# what a plugin may not do at import: end the command, or take a name the CLI reserves
ENDS = {
    "sys.exit(0)": ("import sys\nsys.exit(0)\n", "called sys.exit(0) at import"),
    "exit(3)": ("raise SystemExit(3)\n", "called sys.exit(3) at import"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt at import"),
    "all": (plugintools.readme_plugin().replace('@register("mine")', '@register("all")'),
            "its model 'all' takes a reserved name"),
}


@pytest.mark.parametrize("case", ENDS)
def test_a_plugin_that_ends_the_command_or_takes_a_reserved_name_is_one_line(tmp_path, case):
    source, fragment = ENDS[case]
    path = plugintools.write(tmp_path, source, "their_model.py")
    out = tmp_path / "out"
    proc = cli("run", "--plugin", str(path), "--models", "gan", "--preset", "smoke",
               "--dataset", "digits", "--out", str(out))
    assert_one_line_error(proc, f"plugin {path}", fragment)
    assert proc.stdout == "" and not out.exists()
    assert "all" not in registry.names()


def test_a_plugin_model_with_bad_samples_is_refused_before_training(tmp_path):
    """The one-sample check ``check-model``'s sampling check makes, before the folder exists:
    not a traceback after training with the run marked complete."""
    shapes = plugintools.broken(tmp_path, "flat", "def sample(self, n, seed):\n"
                                "    return np.zeros((n, 7), np.float32)\n", "flat.py")
    nans = plugintools.broken(tmp_path, "nans", "def sample(self, n, seed):\n"
                              "    return np.full((n, 28, 28, 1), np.nan, np.float32)\n",
                              "nans.py")
    for path, model, fragment in (
            (shapes, "flat", "gave ndarray of shape (1, 7); it must be a numpy array of "
                             "shape (1, 28, 28, 1)"),
            (nans, "nans", "gave values that are not finite")):
        source = path.read_text()
        path.write_text("import numpy as np\n" + source)
        out = tmp_path / f"out-{model}"
        proc = cli("run", "--plugin", str(path), "--models", model, "--preset", "smoke",
                   "--dataset", "digits", "--out", str(out))
        assert_one_line_error(proc, f"model {model} (plugin {path.resolve()})", fragment,
                              f"check-model --plugin {path.resolve()}")
        assert not out.exists()


def _distribution(site: Path, entry: str, package: str, model: str) -> None:
    """A real installed distribution: a package and its dist-info with entry_points.txt,
    which importlib.metadata finds on sys.path (as pip would leave it)."""
    (site / package).mkdir(parents=True)
    source = plugintools.readme_plugin().replace('"mine"', f'"{model}"')
    (site / package / "__init__.py").write_text("")
    (site / package / "model.py").write_text(source)
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[genbench.models]\n{entry} = {package}.model\n")


@pytest.mark.slow
def test_an_installed_entry_point_registers_its_model(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _distribution(site, "theirs", "genbench_test_dist", "ep_model")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)  # this process loaded none yet
    try:
        plugins.load()
        assert "ep_model" in registry.names()
        assert plugins.origin("ep_model") == "entry point theirs (genbench_test_dist.model)"
    finally:
        registry.unregister("ep_model")
        sys.modules.pop("genbench_test_dist.model", None)
        sys.modules.pop("genbench_test_dist", None)
    # the command line finds it the same way, from PYTHONPATH
    proc = cli("list", env={"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])},
               process=True)  # entry points are read once per process
    assert proc.returncode == 0, proc.stderr
    assert "ep_model" in proc.stdout and "(from entry point theirs" in proc.stdout


def test_an_entry_point_whose_name_is_taken_is_one_line_naming_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _distribution(site, "theirs", "genbench_test_clash", "gan")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    try:
        with pytest.raises(plugins.PluginError) as info:
            plugins.load()
    finally:
        sys.modules.pop("genbench_test_clash.model", None)
        sys.modules.pop("genbench_test_clash", None)
    assert str(info.value).startswith("plugin entry point 'theirs = genbench_test_clash.model' "
                                      "of genbench_test_clash 1.0: its model 'gan' clashes")


# the smallest run that still scores, as tests/test_executors.py's
SMOKE = ["run", "--preset", "smoke", "--dataset", "digits", "--steps", "2", "--eval-every", "0",
         "--samples", "100", "--eval-samples", "60"]


def _env(tmp_path: Path) -> dict:
    cache = os.environ.get("BENCHMARKS_CACHE_DIR") or str(tmp_path / "cache")
    return {"BENCHMARKS_CACHE_DIR": cache, "KERAS_HOME": str(tmp_path / "keras"),
            "RAY_ADDRESS": None, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_a_plugin_model_trains_at_the_smoke_preset_and_resumes(tmp_path):
    # under --workers and Ray: tests/test_executors.py::test_local_workers_and_ray_give_the_
    # same_keyed_runs trains this plugin beside ae under each executor
    (tmp_path / "elsewhere").mkdir()
    path = plugintools.write(tmp_path / "elsewhere", plugintools.readme_plugin())
    out = tmp_path / "run"
    proc = cli(*SMOKE, "--plugin", str(path), "--models", "mine,gan",
               "--sweep", "mine.lr=1e-3,2e-3", "--out", str(out),
               env=_env(tmp_path), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["plugins"] == [str(path.resolve())]
    runs = {r["key"]: r for r in results["runs"]}
    assert set(runs) == {"mine[lr=0.001]/s0", "mine[lr=0.002]/s0", "gan/s0"}
    for record in runs.values():
        assert record["status"] == "finished", record.get("error")
        assert record["final"]["fid"] > 0
        assert (out / record["exported"]["final"]).is_file()
    assert "mine" in (out / "report.md").read_text()
    # --resume takes the plugin from the record (else 'mine' is unknown)
    again = cli("run", "--resume", str(out), env=_env(tmp_path), timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "mine[lr=0.001] seed 0: already finished" in again.stdout + again.stderr


@pytest.mark.slow
def test_bench_times_a_plugin_model(plugin_file):
    proc = cli("bench", "--plugin", str(plugin_file), "--models", "mine", "--batch-sizes", "16",
               "--steps", "2", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mine float32 batch 16:" in proc.stdout and "images/s" in proc.stdout
