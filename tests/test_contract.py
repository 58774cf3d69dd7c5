"""check-model: every built-in model passes the contract's checks, and a plugin that breaks
one rule fails on that check, by name."""

from __future__ import annotations

import numpy as np
import pytest

import models
from benchmarks import contract, data
from models import plugins
from tests import plugintools
from tests.clitools import assert_one_line_error, cli


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return data.load("digits").x_train[:256]


@pytest.mark.slow
@pytest.mark.parametrize("name", models.names())
def test_every_built_in_model_passes_every_check(name, digits):
    outcomes = contract.run(name, digits)
    assert [o.check for o in outcomes] == [c for c, _ in contract.CHECKS]
    assert all(o.passed for o in outcomes), [(o.check, o.detail) for o in outcomes]
    assert "skipped" not in outcomes[-1].detail  # every built-in exports its generator


OUT_OF_RANGE = '''
def sample(self, n, seed):
    return 2.0 * super().sample(n, seed)  # tanh's range doubled: values up to 2
'''

NAN_LOSS = '''
def compute_losses(self, images):
    logs = super().compute_losses(images)
    return {**logs, "generator": logs["generator"] * float("nan")}
'''

UNSEEDED = '''
def sample(self, n, seed):
    noise = np.random.standard_normal((n, self.latent_dim)).astype(np.float32)
    return np.clip(keras.ops.convert_to_numpy(self.networks["generator"](noise)), -1, 1)
'''

LOST_STATE = '''
def load_weights(self, folder):
    pass  # restores nothing: a restored model samples from its fresh weights
'''


def test_check_model_fails_a_plugin_whose_samples_leave_the_range(tmp_path):
    path = plugintools.broken(tmp_path, "loud", OUT_OF_RANGE, "loud.py")
    proc = cli("check-model", "--plugin", str(path), timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert any(line.split()[:2] == ["ok", "losses"] for line in lines)
    assert lines[-1].startswith("loud: failed the 'sampling' check: sample() gave values in [")
    assert "must lie in [-1, 1]" in lines[-1]


@pytest.mark.parametrize("method, check, fragment", [
    (NAN_LOSS, "losses", "loss was not finite at step 1"),
    (UNSEEDED, "determinism", "other images for the same seed"),
    (LOST_STATE, "checkpoint", "load_weights samples other images"),
], ids=["nan-loss", "unseeded-sample", "lost-state"])
def test_a_broken_plugin_fails_on_the_named_check(tmp_path, digits, method, check, fragment):
    path = plugintools.broken(tmp_path, "faulty", method, "faulty.py")
    path.write_text("import numpy as np\n" + path.read_text())
    plugins.load_file(path)
    try:
        outcomes = contract.run("faulty", digits)
    finally:
        plugins.forget(path)
    assert [o.check for o in outcomes if not o.passed] == [check]
    assert outcomes[-1].check == check and fragment in outcomes[-1].detail
    assert all(o.passed for o in outcomes[:-1])


def test_check_model_without_a_model_is_one_line():
    assert_one_line_error(cli("check-model"), "name the model to check", "--plugin FILE")
