"""The averaged copy of a network: made only when asked for, sampled from, saved and loaded.
(Its values over training, on both engines: tests/test_engine_contract.py.)"""

from __future__ import annotations

import keras
import numpy as np

import models

WGAN = models.get("wgan_gp")  # an adversarial model with an `ema` setting


def values(network) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in network.variables]


def test_no_average_without_ema():
    model = WGAN(image_shape=(28, 28, 1))
    assert model.averages == {} and model.weights_scored == "raw"
    assert model.sampling_network("generator") is model.networks["generator"]
    assert model.averaged_variables() == []


def test_the_average_starts_as_a_copy_and_is_saved_and_loaded(tmp_path):
    model = WGAN(WGAN.Config(ema=0.99), (28, 28, 1))
    raw, averaged = model.networks["generator"], model.sampling_network("generator")
    assert averaged is not raw and model.weights_scored == "ema"
    for a, b in zip(values(averaged), values(raw), strict=True):
        np.testing.assert_array_equal(a, b)
    pairs = model.averaged_variables()
    assert len(pairs) == len(raw.variables)  # the generator has no integer (seed) state
    first = pairs[0][1]
    first.assign(np.full(first.shape, 0.25, np.float32))
    model.save_weights(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "critic.weights.h5", "generator.weights.h5", "generator_ema.weights.h5"]

    other = WGAN(WGAN.Config(ema=0.99), (28, 28, 1))
    other.load_weights(tmp_path)
    loaded = other.averaged_variables()[0][1]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), 0.25)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(other.averaged_variables()[0][0]),
                                  keras.ops.convert_to_numpy(pairs[0][0]))
