"""A trained run's generator as a ``.keras`` file: standard normal noise in, images in
[-1, 1] out, loadable with a plain ``keras.saving.load_model`` (no genbench import) and
scorable like any other samples.

The file is the model's ``sampling_model()`` with the clip ``sample()`` applies, so on the
noise ``np.random.default_rng(seed).standard_normal((n, *input_shape))`` it draws exactly
``model.sample(n, seed)``. ae's file holds its fitted Gaussian mixture as two fixed layers
before the decoder (``models.autoencoder.mixture_codes``): one more noise value per image
picks the component, so noise alone draws the model's samples.
"""

from __future__ import annotations

from pathlib import Path

from reports.files import atomic_write

GENERATOR_FILE = "generator.keras"  # beside the network weights in the run's weights/TAG


def generator(model):
    """``model``'s sampler as one Keras model, or None for a model that exports none."""
    import keras

    network = model.sampling_model()
    if network is None:
        return None
    if len(network.inputs) != 1:
        raise ValueError(f"{model.name}: sampling_model() must take one input (the noise), "
                         f"it takes {len(network.inputs)}")
    noise = keras.Input(tuple(network.inputs[0].shape[1:]), name="noise")
    images = keras.ops.clip(network(noise), -1.0, 1.0)
    return keras.Model(noise, images, name=f"{model.name}_generator")


def save(model, folder: str | Path) -> Path | None:
    """Writes ``folder/generator.keras``; its path, or None when the model exports none."""
    network = generator(model)
    if network is None:
        return None
    # whole or absent, as every file of a run (the temp name keeps the .keras ending Keras needs)
    return atomic_write(Path(folder) / GENERATOR_FILE, network.save)


def save_in(model, folder: Path, run_dir: Path) -> str | None:
    """Exports ``model``'s current generator into ``folder``; its path inside the run folder
    (a trial's ``exported``), or None for a model that exports none."""
    path = save(model, folder)
    return None if path is None else path.relative_to(run_dir).as_posix()
