"""Every metric, described once: what its key means, how it is computed, and where the report
shows it. ``evaluate`` runs this table; the runner writes the report's part of it (label,
short label, section, count, summary and verdict places, direction, target, description) into
results.json, which the report and the console read. A new metric is its function in the
file of its concept, one ``MetricInfo`` here, and its test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from metrics import diversity, fid, kid, mixture, mode_collapse, reconstruction, scores, stacked
from metrics.classifier import Outputs

# How a dataset is scored (its reference's ``kind``): by a classifier trained on it; by the
# MNIST classifier labelling each channel (Stacked MNIST); by the known mixture it was drawn
# from (2-D points). A metric applies to the kinds in its ``scoring``.
Kind = Literal["classifier", "per_channel", "mixture"]
CLASSIFIED: tuple[Kind, ...] = ("classifier", "per_channel")


@dataclass
class Inputs:
    """What a metric is computed from: the samples, the reference, the classifier's outputs on
    the samples (computed when first asked for: a mixture is scored without a classifier)
    and, for an autoencoder, (originals, reconstructed). What several metrics share is
    computed once, when first asked for."""

    samples: np.ndarray
    ref: object  # metrics.reference.Reference, or PointsReference for a known mixture
    reconstructions: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def out(self) -> Outputs:
        return self.ref.classifier(self.samples)

    @cached_property
    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples' feature mean and covariance: FID's and its interval's."""
        return fid.statistics(self.out.features)

    @cached_property
    def shares(self) -> np.ndarray:
        """The share of samples predicted as each class."""
        return mode_collapse.class_histogram(self.out.predicted, self.ref.num_classes)

    @cached_property
    def cells(self) -> np.ndarray:
        """How many samples fall in each of the reference's NDB cells."""
        return mode_collapse.cell_counts(self.ref.ndb_centers, self.samples)


# A metric's value from the inputs; or, for metrics one computation gives together (the four
# manifold scores), a dict of them: rows sharing one such function run it once.
Compute = Callable[[Inputs], float | dict[str, float]]
Section = Literal["mode_collapse", "diversity"]


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    description: str
    direction: Literal["lower", "higher", "target"]
    compute: Compute
    target: float | None = None  # the ideal value when direction == "target"
    short: str | None = None  # the column header where space is tight (the console); else label
    section: Section | None = None  # the report's table it joins (every metric: All metrics)
    count: bool = False  # a whole number per seed (shown without decimals)
    summary: int | None = None  # its column in the summary, 1 first; None: not there
    verdict: int | None = None  # its rank among the metrics the verdict ranks models by
    fast: bool = False  # also in the cheap evaluations during training (evaluate(fast=True))
    from_reconstructions: bool = False  # needs (originals, reconstructed); then always computed
    scoring: tuple[Kind, ...] = CLASSIFIED  # the reference kinds it is computed for


def _fid(x: Inputs) -> float:
    return fid.frechet_distance(*x.statistics, x.ref.mu, x.ref.sigma)


def _fid_interval(x: Inputs) -> dict[str, float]:
    low, high = fid.fid_interval(x.out.features, x.ref.mu, x.ref.sigma, seed=x.ref.seed,
                                 sample_stats=x.statistics)
    return {"fid_ci_low": low, "fid_ci_high": high}


def _fid_logits(x: Inputs) -> float:
    return fid.frechet_distance(*fid.statistics(x.out.logits), x.ref.logits_mu,
                                x.ref.logits_sigma)


def _manifold(x: Inputs) -> dict[str, float]:
    return diversity.manifold_scores(x.ref.real_features, x.out.features,
                                     k_pr=x.ref.k_precision_recall,
                                     k_dc=x.ref.k_density_coverage,
                                     real_radii=x.ref.real_radii)


def _pairwise_ratio(x: Inputs) -> float:
    return (diversity.mean_pairwise_distance(x.out.features, seed=x.ref.seed)
            / x.ref.real_pairwise_distance)


def _memorization(x: Inputs) -> float:
    to_train = diversity.nearest_distances(x.out.features, x.ref.train_features)
    return diversity.memorization(to_train, x.ref.memorization_threshold)


def _recon(x: Inputs) -> dict[str, float]:
    mse = reconstruction.mse(*x.reconstructions)
    return {"recon_mse": mse, "recon_psnr": reconstruction.psnr(mse)}


def _mixture(x: Inputs) -> dict[str, float]:
    return mixture.mixture_scores(x.ref.mixture, x.samples)


def _table(*infos: MetricInfo) -> dict[str, MetricInfo]:
    return {info.key: info for info in infos}


# The order here is the order of the report's tables; summary= and verdict= order those two.
METRICS: dict[str, MetricInfo] = _table(
    MetricInfo("fid", "FID", "Frechet distance of classifier features (128-d; 384-d on Stacked "
               "MNIST, the channels' side by side) to the real test set", "lower", _fid,
               short="FID", summary=1, verdict=1, fast=True),
    MetricInfo("fid_ci_low", "FID 95% low", "lower end of FID's bootstrap interval over the "
               "samples (its sampling noise at this sample count)", "lower", _fid_interval),
    MetricInfo("fid_ci_high", "FID 95% high", "upper end of FID's bootstrap interval over the "
               "samples (its sampling noise at this sample count)", "lower", _fid_interval),
    MetricInfo("fid_logits", "FID (logits)", "Frechet distance of classifier logits to the real "
               "test set (as TF-GAN's MNIST score)", "lower", _fid_logits, verdict=3, fast=True),
    MetricInfo("kid", "KID", "kernel inception distance: unbiased MMD^2, cubic kernel, mean of "
               "100 subsets of 1,000", "lower",
               lambda x: kid.kid(x.out.features, x.ref.real_features, seed=x.ref.seed)[0],
               short="KID", summary=2, verdict=2),
    MetricInfo("classifier_score", "Classifier score", "exp E KL(p(y|x) || p(y)); 1 to #classes, "
               "confident and balanced is high", "higher",
               lambda x: scores.classifier_score(x.out.probabilities), verdict=4, fast=True),
    MetricInfo("modes_covered", "Modes covered", "classes whose sample share is >= 1/4 of their "
               "real share", "higher",
               lambda x: float(mode_collapse.modes_covered(x.shares, x.ref.class_prior)),
               short="modes", section="mode_collapse", count=True, summary=3, fast=True),
    MetricInfo("kl_classes", "KL(classes)", "KL of the predicted-class histogram from the real "
               "test class prior, nats", "lower",
               lambda x: mode_collapse.kl_divergence(x.shares, x.ref.class_prior),
               short="KL", section="mode_collapse", summary=4, fast=True),
    MetricInfo("modes_1000", "Modes (of 1,000)", "distinct digit triples among the samples, "
               "each channel labelled by the MNIST classifier (Stacked MNIST: Metz et al. 2017, "
               "VEEGAN, PacGAN)", "higher",
               lambda x: float(stacked.modes_of_1000(x.out.predicted)), short="modes/1k",
               section="mode_collapse", count=True, summary=3, fast=True,
               scoring=("per_channel",)),
    MetricInfo("kl_triples", "KL(triples)", "KL of the digit triples' histogram from uniform "
               "over 1,000, nats (PacGAN Table 2; ln 1000 = 6.91 for one mode)", "lower",
               lambda x: stacked.kl_from_uniform(x.out.predicted), short="KL/1k",
               section="mode_collapse", summary=4, fast=True, scoring=("per_channel",)),
    MetricInfo("mixture_modes", "Modes (mixture)", "mixture components holding at least one "
               "high-quality sample (VEEGAN, PacGAN Table 1)", "higher", _mixture,
               short="modes", section="mode_collapse", count=True, summary=1, fast=True,
               scoring=("mixture",)),
    MetricInfo("high_quality", "High quality", "share of samples within 3 sigma of their "
               "nearest component (PacGAN Table 1)", "higher", _mixture, short="HQ",
               section="mode_collapse", summary=2, fast=True, scoring=("mixture",)),
    MetricInfo("reverse_kl", "Reverse KL", "KL of the high-quality samples' component "
               "histogram from uniform, nats (PacGAN Table 1)", "lower", _mixture, short="KL",
               section="mode_collapse", summary=3, verdict=1, fast=True, scoring=("mixture",)),
    MetricInfo("log_likelihood", "Log-likelihood", "mean log density of the samples under "
               "the true mixture, nats", "higher", _mixture, short="loglik", summary=4,
               verdict=2, fast=True, scoring=("mixture",)),
    MetricInfo("ndb", "NDB/K", "share of 100 pixel-space k-means cells whose sample share "
               "differs from real (z-test, 5%)", "lower",
               lambda x: mode_collapse.ndb(x.ref.real_cell_counts, x.cells)[1],
               short="NDB", section="mode_collapse", summary=8),
    MetricInfo("ndb_js", "JS(cells)", "Jensen-Shannon divergence of sample vs real k-means cell "
               "histograms, nats", "lower",
               lambda x: mode_collapse.js_divergence(x.ref.real_cell_counts, x.cells),
               section="mode_collapse"),
    MetricInfo("precision", "Precision", "share of samples inside the real feature manifold "
               "(k=3 balls)", "higher", _manifold, short="prec", section="diversity",
               summary=5),
    MetricInfo("recall", "Recall", "share of real images inside the sample feature manifold "
               "(k=3 balls)", "higher", _manifold, short="recall", section="diversity",
               summary=6),
    MetricInfo("density", "Density", "real k=5 balls containing each sample, over k; about 1 for "
               "real data", "target", _manifold, target=1.0, section="diversity"),
    MetricInfo("coverage", "Coverage", "share of real k=5 balls that contain at least one "
               "sample", "higher", _manifold, short="cover", section="diversity", summary=7),
    MetricInfo("pairwise_distance_ratio", "Diversity ratio", "mean pairwise feature distance of "
               "samples over that of real images; 1 = as diverse", "target", _pairwise_ratio,
               target=1.0, section="diversity"),
    MetricInfo("memorization", "Memorization", "share of samples nearer a training image than 95% "
               "of test images are (real: ~0.05)", "lower", _memorization, section="diversity"),
    MetricInfo("recon_mse", "Recon. MSE", "mean squared reconstruction error per pixel, images in "
               "[-1, 1]", "lower", _recon, verdict=5, from_reconstructions=True),
    MetricInfo("recon_psnr", "Recon. PSNR", "10 log10(4 / MSE) dB (peak-to-peak range 2)",
               "higher", _recon, short="PSNR", summary=9, from_reconstructions=True),
)



def applicable(kind: Kind) -> dict[str, MetricInfo]:
    """The rows computed for a reference of this kind, in the table's order."""
    return {k: m for k, m in METRICS.items() if kind in m.scoring}


def fast_keys(kind: Kind = "classifier") -> tuple[str, ...]:
    """What fast=True computes for a reference of this kind (from samples alone)."""
    return tuple(k for k, m in applicable(kind).items() if m.fast and not m.from_reconstructions)


# fast=True computes exactly these for an image dataset scored by its own classifier
FAST_KEYS = fast_keys("classifier")
RECONSTRUCTION_KEYS = tuple(k for k, m in METRICS.items() if m.from_reconstructions)
# FID's own sampling noise at this sample count (fid.fid_interval), in the full evaluation
FID_INTERVAL_KEYS = tuple(k for k, m in METRICS.items() if m.compute is _fid_interval)
