"""What each result key means: label, one-line description and which direction is better."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    description: str
    direction: Literal["lower", "higher", "target"]
    target: float | None = None  # the ideal value when direction == "target"


def _table(*infos: MetricInfo) -> dict[str, MetricInfo]:
    return {info.key: info for info in infos}


METRICS: dict[str, MetricInfo] = _table(
    MetricInfo("fid", "FID", "Frechet distance of classifier features (128-d) to the real test "
               "set", "lower"),
    MetricInfo("fid_ci_low", "FID 95% low", "lower end of FID's bootstrap interval over the "
               "samples (its sampling noise at this sample count)", "lower"),
    MetricInfo("fid_ci_high", "FID 95% high", "upper end of FID's bootstrap interval over the "
               "samples (its sampling noise at this sample count)", "lower"),
    MetricInfo("fid_logits", "FID (logits)", "Frechet distance of classifier logits to the real "
               "test set (as TF-GAN's MNIST score)", "lower"),
    MetricInfo("kid", "KID", "kernel inception distance: unbiased MMD^2, cubic kernel, mean of "
               "100 subsets of 1,000", "lower"),
    MetricInfo("classifier_score", "Classifier score", "exp E KL(p(y|x) || p(y)); 1 to #classes, "
               "confident and balanced is high", "higher"),
    MetricInfo("modes_covered", "Modes covered", "classes whose sample share is >= 1/4 of their "
               "real share", "higher"),
    MetricInfo("kl_classes", "KL(classes)", "KL of the predicted-class histogram from the real "
               "test class prior, nats", "lower"),
    MetricInfo("ndb", "NDB/K", "share of 100 pixel-space k-means cells whose sample share "
               "differs from real (z-test, 5%)", "lower"),
    MetricInfo("ndb_js", "JS(cells)", "Jensen-Shannon divergence of sample vs real k-means cell "
               "histograms, nats", "lower"),
    MetricInfo("precision", "Precision", "share of samples inside the real feature manifold "
               "(k=3 balls)", "higher"),
    MetricInfo("recall", "Recall", "share of real images inside the sample feature manifold "
               "(k=3 balls)", "higher"),
    MetricInfo("density", "Density", "real k=5 balls containing each sample, over k; about 1 for "
               "real data", "target", 1.0),
    MetricInfo("coverage", "Coverage", "share of real k=5 balls that contain at least one "
               "sample", "higher"),
    MetricInfo("pairwise_distance_ratio", "Diversity ratio", "mean pairwise feature distance of "
               "samples over that of real images; 1 = as diverse", "target", 1.0),
    MetricInfo("memorization", "Memorization", "share of samples nearer a training image than 95% "
               "of test images are (real: ~0.05)", "lower"),
    MetricInfo("recon_mse", "Recon. MSE", "mean squared reconstruction error per pixel, images in "
               "[-1, 1]", "lower"),
    MetricInfo("recon_psnr", "Recon. PSNR", "10 log10(4 / MSE) dB (peak-to-peak range 2)",
               "higher"),
)

RECONSTRUCTION_KEYS = ("recon_mse", "recon_psnr")
