"""Mode collapse as the literature measures it: 2-D Gaussian mixtures whose modes are known.

The two mixtures are those of VEEGAN (Srivastava et al., 2017) as PacGAN (Lin et al., 2018,
Table 1 and ``synthetic_data_experiments/*/config.py`` in its code) gives them: the ring, 8
Gaussians evenly on the unit circle, sigma = 0.01; and the grid, 25 Gaussians on
{-4, -2, 0, 2, 4}^2, sigma = 0.05; isotropic, equal weights, 100,000 training points.

The figures follow PacGAN's ``MetricLogger`` (``pacgan/extensions.py``):

- a sample is *high quality* when its distance to the nearest mode's centre is under 3 sigma
  (PacGAN: the Mahalanobis distance with the diagonal variance, the same thing for these
  isotropic modes; strictly under, as its ``min_dis < dis_thre``);
- a mode is *covered* when at least one high-quality sample is assigned to it (nearest centre);
- *reverse KL* is KL(p_gen || uniform) of the high-quality samples' mode histogram against the
  real mixture's (uniform over the K modes), in nats; it equals ln K minus the histogram's
  entropy, the "entropy of coverage" PacGAN's code logs;
- the *log-likelihood* of the samples under the true mixture. PacGAN's code sums
  log(sum_k pdf_k(x) + 1e-200) over the samples, without the 1/K weights, and builds each
  pdf as ``scipy.stats.norm(loc=mean, scale=diag(variance))``: it passes the variance as the
  scale (a standard deviation), a bug that makes its modes 100 (ring) or 20 (grid) times too
  narrow. Here it is the mean over samples of the correct log density, with sigma as the scale,
  the 1/K weights and no floor (log-sum-exp keeps a far sample finite), so runs with
  different sample counts compare.

How many samples are scored matters for "covered": a mode holding a share e of the samples
is missed with probability (1 - e)^n. PacGAN scores 2,500 (``num_log_figure_sample``), and so
do the suite's mixture presets (``benchmarks/config.py``: ``samples=2500``), so their counts
stand beside PacGAN Table 1's; at 10,000 a mode holding 0.05 % of the samples is found 99 % of
the time (2,500 samples find it 71 % of the time), so counts at larger n are higher.
Real samples score K modes, a high-quality share of P(chi2_2 < 9) =
1 - exp(-4.5) = 0.9889, and a reverse KL near (K - 1) / (2 n), the histogram's sampling bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from metrics.errors import MetricsError

HIGH_QUALITY_SIGMAS = 3.0  # PacGAN's dis_thre
PACGAN_SAMPLES = 2_500  # what PacGAN's MetricLogger scores (and the mixture presets)
TRAIN_POINTS = 100_000  # PacGAN's num_sample, the training set of both mixtures
# mixture_scores' keys: distinct from the class-based "modes_covered" of metrics/info.py
SCORE_KEYS = ("mixture_modes", "high_quality", "reverse_kl", "log_likelihood")


@dataclass(frozen=True, eq=False)
class Mixture:
    """An isotropic Gaussian mixture in the plane with equal weights: K centres, one sigma."""

    name: str
    centres: np.ndarray  # (K, 2) float64, read-only
    sigma: float

    def __post_init__(self):
        centres = np.array(self.centres, dtype=np.float64)  # a copy: the caller's stays theirs
        if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) == 0:
            raise MetricsError(f"mixture {self.name!r}: centres must be shaped (K, 2); got "
                               f"{centres.shape}")
        if not np.isfinite(centres).all():
            raise MetricsError(f"mixture {self.name!r}: centres must be finite")
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma)
                and self.sigma > 0):
            raise MetricsError(f"mixture {self.name!r}: sigma must be a positive number; got "
                               f"{self.sigma!r}")
        centres.setflags(write=False)
        object.__setattr__(self, "centres", centres)
        object.__setattr__(self, "sigma", float(self.sigma))

    @property
    def num_modes(self) -> int:
        return len(self.centres)

    @classmethod
    def ring(cls) -> Mixture:
        """VEEGAN's 2-D ring as PacGAN's code has it (``2DRing_GAN&PacGAN/config.py``): 8
        modes at (cos 2 pi k / 8, sin 2 pi k / 8), k = 0..7, sigma = 0.01 (variance 1e-4)."""
        angles = 2.0 * np.pi * np.arange(8) / 8
        return cls("ring", np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01)

    @classmethod
    def grid(cls) -> Mixture:
        """VEEGAN's 2-D grid as PacGAN's code has it (``2DGrid_GAN&PacGAN/config.py``): 25
        modes at (i, j) for i, j in {-4, -2, 0, 2, 4} (i major), sigma = 0.05 (variance
        0.0025)."""
        axis = np.arange(-4.0, 5.0, 2.0)
        return cls("grid", np.array([(i, j) for i in axis for j in axis]), 0.05)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n points (n, 2) float32: each point's mode drawn uniformly, then sigma N(0, I) added;
        the same (n, seed) gives the same points (``np.random.default_rng(seed)``)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise MetricsError(f"mixture {self.name!r}: sample count must be a positive "
                               f"integer; got {n!r}")
        rng = np.random.default_rng(seed)
        modes = rng.integers(self.num_modes, size=int(n))
        noise = rng.standard_normal((int(n), 2))
        return (self.centres[modes] + self.sigma * noise).astype(np.float32)


def _as_points(points) -> np.ndarray:
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MetricsError(f"mixture samples must be a numeric (n, 2) array: {e}") from None
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise MetricsError(f"mixture samples must be shaped (n >= 1, 2) points in the plane; "
                           f"got {x.shape}")
    bad = int((~np.isfinite(x)).any(axis=1).sum())
    if bad:
        raise MetricsError(f"{bad} of {len(x)} mixture samples contain NaN or inf; a diverged "
                           f"generator's output cannot be scored")
    return x


def _sq_distances(mixture: Mixture, x: np.ndarray) -> np.ndarray:
    """(n, K) squared distances from each point to each centre, in units of sigma^2."""
    diff = (x[:, None, :] - mixture.centres[None, :, :]) / mixture.sigma
    return np.einsum("nkd,nkd->nk", diff, diff)


def nearest_modes(mixture: Mixture, points) -> tuple[np.ndarray, np.ndarray]:
    """(index of each point's nearest centre (n,) int64, its distance in sigmas (n,))."""
    sq = _sq_distances(mixture, _as_points(points))
    index = np.argmin(sq, axis=1)
    return index, np.sqrt(sq[np.arange(len(sq)), index])


def _mode_counts(index: np.ndarray, distance: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(index[distance < HIGH_QUALITY_SIGMAS], minlength=k)


def mode_counts(mixture: Mixture, points) -> np.ndarray:
    """How many high-quality samples each mode holds (K,): PacGAN's "detail of coverage"."""
    return _mode_counts(*nearest_modes(mixture, points), mixture.num_modes)


def high_quality_share(mixture: Mixture, points) -> float:
    """Share of samples within 3 sigma of their nearest mode (real samples: 0.9889)."""
    _, distance = nearest_modes(mixture, points)
    return float(np.mean(distance < HIGH_QUALITY_SIGMAS))


def modes_covered(mixture: Mixture, points) -> int:
    """Modes holding at least one high-quality sample (0 to K)."""
    return int(np.count_nonzero(mode_counts(mixture, points)))


def _reverse_kl(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        # No high-quality sample: the histogram is undefined (PacGAN's code gives NaN). ln K
        # is the KL of total collapse onto one mode, the largest KL any histogram over K modes
        # can have; no sample near any mode is at least that bad, and a finite worst value
        # keeps means over seeds and curves over training defined.
        return math.log(len(counts))
    p = counts[counts > 0] / total
    return float(max(np.sum(p * np.log(p * len(counts))), 0.0))  # 0 log 0 = 0


def reverse_kl(mixture: Mixture, points) -> float:
    """KL(p_gen || uniform) in nats of the high-quality samples' mode histogram: 0 when they
    spread evenly over the K modes, ln(K / k) when evenly over k of them, ln K when on one (or
    when no sample is high quality)."""
    return _reverse_kl(mode_counts(mixture, points))


def _log_likelihood(mixture: Mixture, sq: np.ndarray) -> float:
    # log p(x) = logsumexp_k(-d_k^2 / 2) - log K - log(2 pi sigma^2), d_k in sigmas
    log_norm = math.log(mixture.num_modes) + math.log(2.0 * math.pi * mixture.sigma ** 2)
    return float(np.mean(logsumexp(-0.5 * sq, axis=1)) - log_norm)


def log_likelihood(mixture: Mixture, points) -> float:
    """Mean log density per sample under the true mixture, nats (higher is better; at a
    centre it is log(1 / (K 2 pi sigma^2)): 5.293 for the ring, 0.935 for the grid; real
    samples score about 1 less, since E d^2 / 2 = 1 for d^2 ~ chi2_2).
    Not PacGAN's figure, which is a sum with the variance as the scale (module docstring)."""
    return _log_likelihood(mixture, _sq_distances(mixture, _as_points(points)))


def mixture_scores(mixture: Mixture, points) -> dict[str, float]:
    """Every figure of this file from one distance matrix, under ``SCORE_KEYS``:
    mixture_modes (modes covered, a whole number), high_quality (share), reverse_kl (nats)
    and log_likelihood (mean nats per sample)."""
    sq = _sq_distances(mixture, _as_points(points))
    index = np.argmin(sq, axis=1)
    distance = np.sqrt(sq[np.arange(len(sq)), index])
    counts = _mode_counts(index, distance, mixture.num_modes)
    return {
        "mixture_modes": float(np.count_nonzero(counts)),
        "high_quality": float(np.mean(distance < HIGH_QUALITY_SIGMAS)),
        "reverse_kl": _reverse_kl(counts),
        "log_likelihood": _log_likelihood(mixture, sq),
    }
