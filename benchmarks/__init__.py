"""Comparative benchmark suite for generative models on MNIST-class images.

Importing this package never imports Keras: the backend is chosen in ``__main__`` first.
"""

__version__ = "0.1.0"


def score(samples, dataset: str = "mnist", **options) -> dict:
    """Every figure a trained run's final gets, for ``samples`` against ``dataset``.

    ``samples``: an array (N, H, W[, C]) (uint8, or floats in [-1, 1]; else say
    ``value_range="0,1"``), a path (.npz, .npy, .keras, an image folder) or a Keras model
    (noise in, images in [-1, 1] out). Options: value_range ("-1,1", "0,1", "0,255"), n,
    seed, image_size, channels, data_dir, cache_dir (see ``benchmarks.scoring.score``). Bad
    input raises ``benchmarks.errors.UserError``.
    """
    from benchmarks.scoring import score as _score  # keeps `import benchmarks` free of Keras

    return _score(samples, dataset, **options)
