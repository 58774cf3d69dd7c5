"""What ``run`` checks before the output folder is made (the cache folder first; the rest once
the data is loaded): each a one-line UserError (exit 2) instead of a failure minutes into the
run, after another model trained, or with a folder left behind."""

from __future__ import annotations

import os

from benchmarks import study
from benchmarks.config import PRESETS, RunConfig
from benchmarks.errors import UserError


def check_fits(cfg: RunConfig, ds) -> None:
    """Settings that depend on the dataset, checked before the output folder is made."""
    holds = PRESETS[cfg.preset].holds
    if holds and holds != ds.holds:
        fit = [name for name, p in PRESETS.items() if p.holds in (None, ds.holds)]
        raise UserError(f"--preset {cfg.preset} is set for datasets of {holds}, and {ds.name} "
                        f"holds {ds.holds}; choose a preset for {ds.holds} "
                        f"({', '.join(fit)}) or a dataset of {holds}"
                        + (" (--dataset ring or grid)" if holds == "points" else ""))
    if cfg.batch_size > len(ds.x_train):
        raise UserError(f"--batch-size {cfg.batch_size:,} is larger than the "
                        f"{len(ds.x_train):,} training images of {ds.name}; choose at most "
                        f"{len(ds.x_train):,}")


def cache_unwritable(cache_dir: str | None) -> str | None:
    """Why the classifier's cache cannot take files (None: it can). Found only after
    training the classifier, the run would fail minutes in; a cache that already holds every
    entry the run needs is read only (``check_cache``, once the data is loaded)."""
    from metrics.cache import default_cache_dir

    folder = default_cache_dir(cache_dir)
    probe = folder / f".write-test-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        return (f"cannot write to the cache folder {folder} ({e.strerror or e}); choose a "
                "writable one with --cache-dir DIR (or $BENCHMARKS_CACHE_DIR)")
    return None


def check_cache(unwritable: str | None, ds, samples: int, cache_dir: str | None) -> None:
    """An unwritable cache is refused unless it holds every entry scoring ``ds`` reads (a
    shared, read-only cache filled beforehand; points need none)."""
    if unwritable is None:
        return
    from metrics.reference import missing_from_cache

    missing = missing_from_cache(ds, cache_dir=cache_dir, n=samples)
    if missing:
        raise UserError(f"{unwritable}; it lacks {missing}, which this run would write")


def check_models_fit(cfg: RunConfig, ds) -> set[int]:
    """Every model builds for the dataset's images (a model's networks state its shape rule,
    e.g. sides a multiple of 4) and a batch of its elements fits in the training set (a packed
    GAN's are ``pack`` images), so none fails after another has trained; the models that do
    not build are named together, not one a retry; a plugin model's first sample is checked
    too. Built once for each setting of its grid, on the CPU's default policy, and dropped.
    Returns the images per batch element the grid's models read (their
    ``samples_per_example``: --epochs converts to steps with it)."""
    from models import registry

    unfit = {}  # model -> why it does not build (its first setting that does not)
    per_example = set()
    for spec in study.grid(cfg.models, cfg.sweep, 1):  # each setting once: a swept pack too
        name, cls = spec.model, registry.get(spec.model)
        if name in unfit:
            continue
        config = study.model_config(cls.Config, cfg.overrides.get(name, {}), spec)
        try:
            model = cls(config, ds.image_shape)
        except ValueError as e:
            unfit[name] = str(e)
            continue
        check_plugin_sample(name, model, ds)
        per_example.add(model.samples_per_example)
        drawn = cfg.batch_size * model.samples_per_example  # a packed GAN: pack images an element
        if drawn > len(ds.x_train):
            raise UserError(f"{name} reads {model.samples_per_example} images per batch "
                            f"element (pack), {drawn:,} a batch at --batch-size "
                            f"{cfg.batch_size:,}, more than the {len(ds.x_train):,} training "
                            f"images of {ds.name}; choose a smaller batch or pack")
    if unfit:
        raise UserError(_unfit(unfit, [m for m in cfg.models if m not in unfit], ds))
    return per_example


def _unfit(unfit: dict[str, str], fit: list[str], ds) -> str:
    """One line for the models that do not build for the dataset: each reason once, with the
    models it holds for (a model's message begins with its name), and the fix."""
    reasons: dict[str, list[str]] = {}
    for name, message in unfit.items():
        reasons.setdefault(message.removeprefix(f"{name} "), []).append(name)
    if len(unfit) == 1:
        why = next(iter(unfit.values()))
    else:
        why = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in reasons.items())
    them = ", ".join(unfit)
    if ds.holds == "points":
        keep = f"--models {','.join(fit)}" if fit else "--models gan"
        return (f"{why} ({ds.name} holds {ds.image_shape[0]}-d points); leave {them} out of "
                f"--models, e.g. {keep} (gan trains on points)")
    h, w, c = ds.image_shape
    return (f"{why} ({ds.name} is {h}x{w}x{c}); resize the images with --image-size N, or "
            f"leave {them} out of --models")


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
