"""What ``run`` checks before the output folder is made (the cache folder first; the rest once
the data is loaded): each a one-line UserError (exit 2) instead of a failure minutes into the
run, after another model trained, or with a folder left behind."""

from __future__ import annotations

import os

from benchmarks import study
from benchmarks.config import RunConfig
from benchmarks.errors import UserError


def check_fits(cfg: RunConfig, ds) -> None:
    """Settings that depend on the dataset, checked before the output folder is made."""
    if cfg.batch_size > len(ds.x_train):
        raise UserError(f"--batch-size {cfg.batch_size:,} is larger than the "
                        f"{len(ds.x_train):,} training images of {ds.name}; choose at most "
                        f"{len(ds.x_train):,}")


def check_cache_dir(cache_dir: str | None) -> None:
    """The classifier's cache must take its files: found unwritable only after training the
    classifier, the run would fail minutes in."""
    from metrics.cache import default_cache_dir

    folder = default_cache_dir(cache_dir)
    probe = folder / f".write-test-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to the cache folder {folder} ({e.strerror or e}); "
                        "choose a writable one with --cache-dir DIR (or "
                        "$BENCHMARKS_CACHE_DIR)") from None


def check_models_fit(cfg: RunConfig, ds) -> None:
    """Every model builds for the dataset's images (a model's networks state its shape rule,
    e.g. sides a multiple of 4) and a batch of its elements fits in the training set (a packed
    GAN's are ``pack`` images), so none fails after another has trained; a plugin model's
    first sample is checked too. Built once for each setting of its grid, on the CPU's default
    policy, and dropped."""
    from models import registry

    for spec in study.grid(cfg.models, cfg.sweep, 1):  # each setting once: a swept pack too
        name, cls = spec.model, registry.get(spec.model)
        config = study.model_config(cls.Config, cfg.overrides.get(name, {}), spec)
        try:
            model = cls(config, ds.image_shape)
        except ValueError as e:
            if ds.holds == "points":
                raise UserError(f"{e} ({ds.name} holds {ds.image_shape[0]}-d points); leave "
                                f"{name} out of --models (gan trains on points)") from None
            h, w, c = ds.image_shape
            raise UserError(f"{e} ({ds.name} is {h}x{w}x{c}); resize the images with "
                            f"--image-size N, or leave {name} out of --models") from None
        check_plugin_sample(name, model, ds)
        drawn = cfg.batch_size * model.samples_per_example  # a packed GAN: pack images an element
        if drawn > len(ds.x_train):
            raise UserError(f"{name} reads {model.samples_per_example} images per batch "
                            f"element (pack), {drawn:,} a batch at --batch-size "
                            f"{cfg.batch_size:,}, more than the {len(ds.x_train):,} training "
                            f"images of {ds.name}; choose a smaller batch or pack")


PLUGIN_PREPARE = 64  # training images a plugin model's sampler is prepared on for its check


def check_plugin_sample(name: str, model, ds) -> None:
    """A plugin model's (the built-ins' are held to the contract by the tests) one sample,
    untrained, held to check-model's sampling rule: wrong shape, dtype, NaN or range would
    otherwise surface as a traceback after training."""
    from benchmarks import contract
    from models import plugins

    origin = plugins.origin(name)
    if origin is None:
        return
    check = (f"check-model {name}" if origin.startswith("entry point ")
             else f"check-model --plugin {origin}")
    try:
        model.prepare_sampling(ds.x_train[:PLUGIN_PREPARE])
        contract.check_samples(model.sample(1, seed=0), 1, ds.image_shape)
    except contract.Failed as e:
        raise UserError(f"model {name} (plugin {origin}): {e}; `python -m benchmarks "
                        f"{check}` runs the whole contract") from None
    except Exception as e:  # the model's own error, as check-model reports it
        raise UserError(f"model {name} (plugin {origin}): its first sample failed: "
                        f"{type(e).__name__}: {e}".splitlines()[0] + f"; `python -m benchmarks "
                        f"{check}` runs the whole contract") from None


def check_split(cfg: RunConfig) -> None:
    """--distribute splits every batch evenly over the devices the harness trains on."""
    if not cfg.distribute:
        return
    from benchmarks.harness.loop import engine_module

    context = engine_module().distribution(True)  # the harness's own choice of devices
    # a tf.distribute strategy counts replicas in sync; keras' DataParallel (JAX) its replicas
    replicas = getattr(context, "num_replicas_in_sync", None) or context.num_model_replicas
    if cfg.batch_size % replicas:
        fit = cfg.batch_size - cfg.batch_size % replicas or replicas
        raise UserError(f"--distribute splits each batch over {replicas} devices, and "
                        f"--batch-size {cfg.batch_size} does not split evenly; choose a "
                        f"multiple of {replicas} (e.g. {fit})")
