"""Intervals and pairwise comparisons over seeds: what a handful of runs can and cannot say.

Pure numpy/scipy on lists of per-seed scores. Scores are "higher is better" here: ``oriented``
turns a metric's values around (lower-is-better, or distance to a target) before comparing.
Following rliable (Agarwal et al. 2021): interval estimates, not point estimates, and the
probability of improvement as the pairwise effect size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999
SEED = 0  # fixed, so a report re-renders to the same intervals
# BCa corrects the percentile interval for bias and skew with a jackknife estimate of the
# acceleration; over fewer than ~10 values that estimate is itself mostly noise (and scipy
# gives NaN when few distinct values make the resamples degenerate). Below this the plain
# percentile interval, which is also what rliable uses for few-run studies.
BCA_MIN_SAMPLES = 10
POWER = 0.8  # the chance of detecting the observed difference, for "seeds needed"
MAX_SEEDS = 10000  # beyond this "seeds needed" is no practical advice


def bootstrap_method(n: int) -> str:
    return "BCa" if n >= BCA_MIN_SAMPLES else "percentile"


def oriented(values, direction: str, target: float | None = None) -> np.ndarray:
    """Scores where higher is better: lower-is-better negated, a target as minus the distance."""
    x = np.asarray(values, dtype=np.float64)
    if direction == "higher":
        return x
    if direction == "lower":
        return -x
    if direction == "target":
        if target is None:
            raise ValueError("a 'target' metric needs its target value")
        return -np.abs(x - target)
    raise ValueError(f"unknown direction {direction!r}; use lower, higher or target")


def mean_interval(values, *, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                  seed: int = SEED) -> tuple[float, float] | None:
    """95% bootstrap interval of the mean over seeds; None for fewer than 2 values.

    With 2 to 4 seeds the interval is narrow by construction (resamples of a few values
    cannot stray far from them): read it as a lower bound on the uncertainty.
    """
    x = _finite(values)
    if len(x) < 2:
        return None
    return _mean_interval(tuple(x.tolist()), confidence, resamples, seed)


@functools.lru_cache(maxsize=4096)  # a report asks for the same cell in several sections
def _mean_interval(x: tuple[float, ...], confidence: float, resamples: int, seed: int):
    if max(x) == min(x):
        return x[0], x[0]
    res = stats.bootstrap((np.asarray(x),), np.mean, confidence_level=confidence,
                          n_resamples=resamples, method=bootstrap_method(len(x)),
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def published_interval(mean: float, spread: float | None, kind: str | None, runs: int, *,
                       confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The 95% interval of a paper's mean from what it prints: mean ± t(0.975, R - 1) · s.e.
    over its R runs (a standard deviation over runs is s.e. · sqrt(R)); None when it prints
    no spread, or one run."""
    if spread is None or kind not in ("s.e.", "s.d.") or runs < 2:
        return None
    se = spread if kind == "s.e." else spread / math.sqrt(runs)
    half = float(stats.t.ppf(0.5 + confidence / 2, runs - 1)) * se
    return mean - half, mean + half


def probability_of_improvement(x, y) -> float:
    """P(X > Y) + 0.5 P(X = Y) over every pair of a run of X and a run of Y (higher better).

    The Mann-Whitney U statistic of X against Y divided by len(X) * len(Y).
    """
    x, y = _finite(x), _finite(y)
    if not len(x) or not len(y):
        return math.nan
    return float(_poi(x, y, axis=-1))


def poi_interval(x, y, *, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                 seed: int = SEED) -> tuple[float, float] | None:
    """Bootstrap interval of the probability of improvement, resampling X and Y apart
    (rliable's, per task); None unless both have 2 runs or more."""
    x, y = _finite(x), _finite(y)
    if len(x) < 2 or len(y) < 2:
        return None
    return _poi_interval(tuple(x.tolist()), tuple(y.tolist()), confidence, resamples, seed)


@functools.lru_cache(maxsize=1024)
def _poi_interval(x: tuple, y: tuple, confidence: float, resamples: int, seed: int):
    if max(x) == min(x) and max(y) == min(y):
        point = float(_poi(np.asarray(x), np.asarray(y)))
        return point, point
    res = stats.bootstrap((np.asarray(x), np.asarray(y)), _poi, confidence_level=confidence,
                          n_resamples=resamples,
                          method="percentile", vectorized=True, axis=-1,
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _poi(x, y, axis=-1):
    x = np.moveaxis(np.asarray(x), axis, -1)[..., :, None]
    y = np.moveaxis(np.asarray(y), axis, -1)[..., None, :]
    return np.mean((x > y) + 0.5 * (x == y), axis=(-2, -1))


@dataclass(frozen=True)
class Verdict:
    """A against B on one metric, scores oriented so that higher is better."""

    winner: str | None  # "a", "b", or None: not distinguishable
    difference: float  # mean(A) - mean(B)
    interval: tuple[float, float] | None  # 95% Welch interval of the difference
    p_value: float | None
    seeds: int  # the fewer seeds of the two
    seeds_needed: int | None  # per model, to tell the observed difference apart; None: no hint


def compare(a, b, *, confidence: float = CONFIDENCE) -> Verdict:
    """Winner only where the 95% Welch interval of the difference of means excludes 0.

    Welch's t (unequal variances) rather than the bootstrap: with 2 or 3 seeds a bootstrap
    interval is as narrow as the seeds are few, while Welch's widens with its few degrees of
    freedom. Fewer than 2 seeds on either side has no spread, hence no winner.
    """
    a, b = _finite(a), _finite(b)
    n = int(min(len(a), len(b)))
    if n == 0:
        return Verdict(None, math.nan, None, None, n, None)
    diff = float(a.mean() - b.mean())
    if n < 2:
        return Verdict(None, diff, None, None, n, None)
    sa, sb = a.var(ddof=1), b.var(ddof=1)
    if sa == 0 and sb == 0:  # no spread at all: the difference is exact
        winner = None if diff == 0 else "a" if diff > 0 else "b"
        return Verdict(winner, diff, (diff, diff), None, n, None)
    test = stats.ttest_ind(a, b, equal_var=False)
    ci = test.confidence_interval(confidence)
    low, high = float(ci.low), float(ci.high)
    winner = "a" if low > 0 else "b" if high < 0 else None
    needed = None
    if winner is None:
        needed = seeds_needed(diff, math.sqrt(sa), math.sqrt(sb), alpha=1 - confidence)
        # not told apart at n seeds: whatever the calculation says, that takes more than n
        needed = max(needed, n + 1) if needed else None
    return Verdict(winner, diff, (low, high), float(test.pvalue), n, needed)


def seeds_needed(difference: float, spread_a: float, spread_b: float | None = None, *,
                 alpha: float = 1 - CONFIDENCE, power: float = POWER) -> int | None:
    """The fewest seeds per model at which Welch's two-sided test at level alpha detects
    ``difference`` with probability ``power``, if the per-seed standard deviations are
    ``spread_a`` and ``spread_b`` (equal when b is not given): the smallest n with
    P(|T| > t_{1-alpha/2, df}) >= power, T noncentral t with noncentrality
    difference / sqrt((a^2 + b^2) / n) and Welch's df = (n - 1) (a^2 + b^2)^2 / (a^4 + b^4)
    (2n - 2 for equal spreads: the textbook two-sample power calculation). The normal
    approximation 2 (z_{1-alpha/2} + z_power)^2 s^2 / d^2 undercounts at a few seeds.
    None when no difference was observed, or when it would take more than MAX_SEEDS.
    """
    b = spread_a if spread_b is None else spread_b
    va, vb = spread_a**2, b**2
    if difference == 0 or not all(math.isfinite(x) for x in (difference, va, vb)):
        return None
    if va + vb == 0:
        return 2
    n = np.arange(2, MAX_SEEDS + 1)
    df = (n - 1) * (va + vb) ** 2 / (va**2 + vb**2)
    nc = abs(difference) / np.sqrt((va + vb) / n)
    crit = stats.t.ppf(1 - alpha / 2, df)
    reached = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc) >= power
    return int(n[np.argmax(reached)]) if reached.any() else None


def _finite(values) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return x[np.isfinite(x)]
