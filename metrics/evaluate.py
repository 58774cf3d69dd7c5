"""evaluate(samples, reference) -> {metric key: float}: every figure in one call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from metrics import diversity, fid, kid, mode_collapse, reconstruction, scores
from metrics.classifier import Outputs, check_images
from metrics.errors import MetricsError
from metrics.reference import Reference

# Fewer samples than this make the covariance, the k-NN balls and the z-tests meaningless.
MIN_SAMPLES = 50


def _fid(out: Outputs, ref: Reference, shares) -> float:
    return fid.frechet_distance(*fid.statistics(out.features), ref.mu, ref.sigma)


def _fid_logits(out: Outputs, ref: Reference, shares) -> float:
    return fid.frechet_distance(*fid.statistics(out.logits), ref.logits_mu, ref.logits_sigma)


# The cheap figures, for use during training: fast=True computes exactly these, so FAST_KEYS
# is read off this table rather than kept beside it.
FAST: dict[str, Callable[[Outputs, Reference, np.ndarray], float]] = {
    "fid": _fid,
    "fid_logits": _fid_logits,
    "classifier_score": lambda out, ref, shares: scores.classifier_score(out.probabilities),
    "modes_covered": lambda out, ref, shares: float(
        mode_collapse.modes_covered(shares, ref.class_prior)),
    "kl_classes": lambda out, ref, shares: mode_collapse.kl_divergence(shares, ref.class_prior),
}
FAST_KEYS = tuple(FAST)
# FID's own sampling noise at this sample count (fid.fid_interval), in the full evaluation
FID_INTERVAL_KEYS = ("fid_ci_low", "fid_ci_high")


def evaluate(samples: np.ndarray, reference: Reference, *,
             reconstructions: tuple[np.ndarray, np.ndarray] | None = None,
             fast: bool = False) -> dict:
    """Score ``samples`` (N, H, W, C) in [-1, 1] against ``reference``.

    Returns floats under the keys of ``METRICS`` (with ``fast=True`` only ``FAST_KEYS``;
    ``recon_*`` only with ``reconstructions`` = (originals, reconstructed), fast or not) plus
    ``class_histogram``, the share of samples predicted as each class.
    """
    samples = check_images(samples, reference.image_shape)
    if len(samples) < MIN_SAMPLES:
        raise MetricsError(f"got {len(samples)} samples; need at least {MIN_SAMPLES} "
                           "(10,000 for comparable figures)")
    out = reference.classifier(samples)
    shares = mode_collapse.class_histogram(out.predicted, reference.num_classes)
    result = {key: compute(out, reference, shares) for key, compute in FAST.items()}
    if not fast:
        low_high = fid.fid_interval(out.features, reference.mu, reference.sigma,
                                    seed=reference.seed)
        result.update(zip(FID_INTERVAL_KEYS, low_high, strict=True))
        result["kid"] = kid.kid(out.features, reference.real_features, seed=reference.seed)[0]
        cells = mode_collapse.cell_counts(reference.ndb_centers, samples)
        result["ndb"] = mode_collapse.ndb(reference.real_cell_counts, cells)[1]
        result["ndb_js"] = mode_collapse.js_divergence(reference.real_cell_counts, cells)
        result.update(diversity.manifold_scores(reference.real_features, out.features,
                                                k_pr=reference.k_precision_recall,
                                                k_dc=reference.k_density_coverage,
                                                real_radii=reference.real_radii))
        result["pairwise_distance_ratio"] = (
            diversity.mean_pairwise_distance(out.features, seed=reference.seed)
            / reference.real_pairwise_distance)
        to_train = diversity.nearest_distances(out.features, reference.train_features)
        result["memorization"] = diversity.memorization(to_train,
                                                        reference.memorization_threshold)
    if reconstructions is not None:
        originals, reconstructed = reconstructions
        result["recon_mse"] = reconstruction.mse(originals, reconstructed)
        result["recon_psnr"] = reconstruction.psnr(result["recon_mse"])
    result["class_histogram"] = [float(s) for s in shares]
    return result


def real_floor(reference: Reference, n: int = 10000) -> dict:
    """``evaluate`` of ``n`` held-out real training images: the best a model could expect."""
    pool = reference.holdout_index
    rng = np.random.default_rng(reference.seed + 1)  # not the subsets the reference drew
    index = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
    return evaluate(reference.train_images[index], reference)
