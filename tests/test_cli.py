"""The command line as a user meets it: one line, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import data
from tests.clitools import ROOT, assert_one_line_error, cli


def test_help_and_version():
    proc = cli("--help")
    assert proc.returncode == 0 and "run" in proc.stdout and "data" in proc.stdout
    proc = cli("--version")
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


@pytest.mark.parametrize("args, fragments", [
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    (["data", "no_such_data"], ["unknown dataset 'no_such_data'",
                                "digits, fashion-mnist, grid, mnist, ring"]),
    (["run", "--dataset", "no_such_data"], ["unknown dataset 'no_such_data'"]),
    (["run", "--steps", "abc"], ["'abc' is not a whole number"]),
    (["run", "--steps", "-3"], ["-3 must be at least 1"]),
    (["run", "--seeds", "0"], ["0 must be at least 1"]),
    (["run", "--backend", "theano"], ["unknown backend 'theano'"]),
])
def test_bad_input_is_one_line_exit_2(args, fragments):
    # the backend is chosen once per process: a bad --backend is seen by a fresh one only
    assert_one_line_error(cli(*args, process="--backend" in args), *fragments)


def test_a_bad_keras_backend_variable_is_named(tmp_path):
    proc = cli("list", env={"KERAS_BACKEND": "nonsense"}, process=True)
    assert_one_line_error(proc, "unknown backend 'nonsense' (from $KERAS_BACKEND)",
                          "$KERAS_BACKEND must be one of: tensorflow, jax")
    proc = cli("list", "--backend", "nonsense", env={"KERAS_BACKEND": "jax"}, process=True)
    assert_one_line_error(proc, "(from --backend); --backend must be one of")


def test_explicit_mnist_missing_is_one_line_exit_2(tmp_path):
    proc = cli("run", "--dataset", "mnist", "--data-dir", str(tmp_path), "--models", "gan",
               env={"BENCHMARKS_DATA_DIR": None})
    assert_one_line_error(proc, "dataset 'mnist' not found", str(tmp_path), "--data-dir")


def test_uninstalled_backend_is_one_line_exit_2(tmp_path):
    # a fake, empty site where 'jax' cannot be found: shadow it with a module that is not there
    shim = tmp_path / "sitecustomize.py"
    shim.write_text("import importlib.util as u\n_f = u.find_spec\n"
                    "u.find_spec = lambda n, *a: None if n == 'jax' else _f(n, *a)\n")
    proc = cli("list", "--backend", "jax", env={"PYTHONPATH": str(tmp_path)}, process=True)
    assert_one_line_error(proc, "backend 'jax' is not installed", "pip install")


def test_env_backend_is_respected_and_flag_wins():
    code = ("import sys; from benchmarks.backend import select_backend; "
            "print(select_backend(sys.argv[1:]))")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "jax"
    out = subprocess.run([sys.executable, "-c", code, "--backend", "tensorflow"], env=env,
                         cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "tensorflow"


def test_data_lists_digits_available_without_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    rows = {row.name: row for row in (data.check(n, tmp_path) for n in data.names())}
    assert rows["digits"].available and "scikit-learn" in rows["digits"].source
    assert not rows["mnist"].available and str(tmp_path) in rows["mnist"].detail
    proc = cli("data", env={"BENCHMARKS_DATA_DIR": str(tmp_path), "KERAS_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr  # the command prints these rows as a table


def test_data_lists_mnist_from_data_dir(mnist_dir):
    row = data.check("mnist", mnist_dir)
    assert row.available and row.source == str(mnist_dir)
    assert row.detail.startswith("60,000 train / 10,000 test, 28x28x1, 10 classes")


def test_list_names_datasets_and_presets():
    import models

    proc = cli("list")
    assert proc.returncode == 0, proc.stderr
    for name, line in models.describe().items():  # every model, with its one line
        assert line and f"{name}  " in proc.stdout and line in proc.stdout
    assert "digits, fashion-mnist, grid, mnist, ring, stacked-mnist" in proc.stdout
    assert "quick" in proc.stdout and "mixture" in proc.stdout


@pytest.mark.slow
def test_python_m_benchmarks_in_a_process_prints_what_the_in_process_call_does():
    """The tests call the command in process (tests/clitools.py); the real ``python -m
    benchmarks``, as __main__, gives the same exit status and output."""
    real, here = cli("list", process=True), cli("list")
    assert real.returncode == here.returncode == 0, real.stderr
    assert real.stdout == here.stdout and "models" in real.stdout
    assert real.stderr == here.stderr == ""


@pytest.mark.slow
def test_the_console_script_runs_the_command():
    script = Path(sys.executable).with_name("genbench")
    if not script.exists():
        pytest.skip(f"no genbench console script beside {sys.executable} (pip install -e .)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, not the installed one's
    proc = subprocess.run([str(script), "--version"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "python -m benchmarks 0.1.0"
