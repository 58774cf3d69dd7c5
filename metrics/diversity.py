"""Fidelity and diversity in classifier feature space, from nearest-neighbour balls.

- precision / recall (Kynkäänniemi et al., 2019, k=3): the share of samples inside the real
  manifold (union of balls around real points reaching their k-th nearest real neighbour),
  and the share of real points inside the sample manifold.
- density / coverage (Naeem et al., 2020, k=5): how many real balls contain a sample, per
  sample and divided by k (about 1 for real data, can exceed 1); and the share of real balls
  that contain at least one sample. As in their reference code (``prdc``), "contain" is
  strict: a sample exactly on a ball's edge (e.g. the real point that defines its radius) is
  outside, so a set scored against itself has density exactly 1.
- pairwise-distance ratio: mean distance between two samples over that between two real
  images (1 = as spread out as real data; well below 1 = collapsed).
- memorization: the share of samples closer to their nearest training image than 95 % of
  real test images are to theirs, i.e. distance < the 5th percentile of the test images'
  nearest-training-image distances. Unseen real images score about 0.05 by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.spatial import distance

from metrics.errors import MetricsError

K_PRECISION_RECALL = 3
K_DENSITY_COVERAGE = 5
# A ball reaching a real point's k-th nearest real neighbour holds about k / N of the real set:
# with few real points k is capped so that a ball holds at most a tenth of them (k = 5 needs
# 50 points, k = 3 needs 30); below 20 points k = 1.
KNN_POINTS_PER_K = 10
PAIRWISE_MAX_N = 2000  # mean pairwise distance on a seeded subset: 2M pairs is plenty
MEMORIZATION_PERCENTILE = 5.0
# Distances are computed in blocks of float32 rows (|x|^2 + |y|^2 - 2 x.y, one BLAS product a
# block), at most BLOCK_BYTES at once whatever N, so memory stays flat; float32 halves the
# product's time and the memory traffic of every comparison. Where float32 round-off could
# decide an answer (a distance within ROUNDING * (|x|^2 + |y|^2) of a threshold, a bound on
# that round-off for D-term dot products, with margin) the pair is computed again in float64,
# so every figure is the one float64 distances give.
BLOCK_BYTES = 64 * 2**20
ROUNDING_TERMS = 16  # float32 epsilons of |x|^2 + |y|^2 beyond the dot product's: the casts
# of coordinates, norms and thresholds (4 + 2 + 4) and a threshold's subtraction (6)
# A k-th neighbour is selected without sorting whole rows: the k-th smallest of a row's first
# SELECT_COLUMNS distances bounds the row's k-th smallest from above; only distances under it
# (about k N / SELECT_COLUMNS a row) are kept and sorted.
SELECT_COLUMNS = 1024
# A point on a ball's boundary (e.g. a sample equal to a real image's k-th neighbour) counts
# as inside the balls of precision/recall (Kynkaanniemi et al.'s code uses <=) and outside
# those of density/coverage (Naeem et al.'s uses <). Radii and the distances here round
# differently, so the boundary is moved by a slack of 1e-9 of the largest squared norm (out
# for <=, in for <), far below any real gap.
BOUNDARY_SLACK = 1e-9


def _as_features(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise MetricsError(f"{name} features must be a finite (N, D) array; got {x.shape}")
    return x


def capped_k(k: int, n: int) -> int:
    """k for balls over ``n`` real points: ``k``, at most a tenth of n, at least 1."""
    return max(1, min(k, n // KNN_POINTS_PER_K))


def _squared_norms(x):
    return np.einsum("ij,ij->i", x, x)


class _Points:
    """A feature set as both precisions: float64 rows and squared norms (the exact figures),
    and float32 rows extended by [|x|^2, 1] (as queries) or [1, |y|^2] (as points, times -2
    on the coordinates), so one product gives |x|^2 + |y|^2 - 2 x.y with no pass after it."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self.sq = _squared_norms(x)
        # round-off of a (D + 2)-term float32 dot product whose terms sum in absolute value to
        # at most 2 (|x|^2 + |y|^2), in any summation order, and of a threshold's cast and
        # subtraction
        self.rounding = (2 * (x.shape[1] + 2) + ROUNDING_TERMS) * float(np.finfo(np.float32).eps)

    def __len__(self):
        return len(self.x)

    @cached_property
    def as_query(self) -> np.ndarray:  # built only for a set in that role
        return np.hstack([self.x, self.sq[:, None], np.ones((len(self), 1))]).astype(np.float32)

    @cached_property
    def as_point(self) -> np.ndarray:
        ones = np.ones((len(self), 1))
        return np.hstack([-2.0 * self.x, ones, self.sq[:, None]]).astype(np.float32).T

    def blocks(self, other: _Points):
        """(start, stop, float32 squared distances of rows start:stop to every ``other``)."""
        rows = max(1, BLOCK_BYTES // (4 * max(len(other), 1)))
        # one buffer for every block: a fresh 64 MB array a block costs its page faults
        buffer = np.empty((min(rows, len(self)), len(other)), np.float32)
        for start in range(0, len(self), rows):
            stop = min(start + rows, len(self))
            d = np.matmul(self.as_query[start:stop], other.as_point, out=buffer[:stop - start])
            yield start, stop, d  # valid until the next block is asked for

    def error(self, start: int, stop: int, other: _Points) -> np.ndarray:
        """A bound on each row's float32 distance error to any point of ``other``."""
        return (self.rounding * (self.sq[start:stop] + other.sq.max())).astype(np.float32)

    def exact(self, rows: np.ndarray, other: _Points, cols: np.ndarray) -> np.ndarray:
        """float64 squared distances of the pairs (rows[i], cols[i]), in chunks of at most
        BLOCK_BYTES of differences: samples collapsed onto one point make nearly every pair a
        candidate (25,600 such samples asked 40 GB at once before)."""
        out = np.empty(len(rows))
        step = max(1, BLOCK_BYTES // (8 * self.x.shape[1]))
        for i in range(0, len(rows), step):
            diff = self.x[rows[i:i + step]] - other.x[cols[i:i + step]]
            out[i:i + step] = np.einsum("ij,ij->i", diff, diff)
        return out

    def exact_rows(self, rows: np.ndarray, other: _Points) -> np.ndarray:
        """float64 squared distances of the given rows to every ``other`` point."""
        d = self.sq[rows, None] + other.sq[None, :] - 2.0 * (self.x[rows] @ other.x.T)
        return np.maximum(d, 0.0, out=d)


def _where(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a 2-D mask, ten times faster: flat indices, then (row, column)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _kth_smallest(values: np.ndarray, rows: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """The k-th smallest (1-based) of each row's values, given as flat (rows, values) with
    rows ascending and each row holding at least k: laid out as a dense (rows, longest) array
    padded with inf and partitioned, far cheaper than sorting the flat pairs."""
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    dense = np.full((n_rows, counts.max()), np.inf, values.dtype)
    dense[rows, np.arange(len(rows)) - starts[rows]] = values
    return np.partition(dense, k - 1, axis=1)[:, k - 1]


def _kth_squared(queries: _Points, points: _Points, k: int) -> np.ndarray:
    """Each query's k-th smallest squared distance to ``points`` (1-based; a query that is
    itself among the points counts itself, at 0), in float64 exactly: float32 blocks pick the
    candidates, the candidates are computed again in float64."""
    out = np.empty(len(queries))
    head = min(len(points), max(SELECT_COLUMNS, k))
    for start, stop, d in queries.blocks(points):
        band = 2.0 * queries.error(start, stop, points)  # covers both sides' round-off
        bound = np.partition(d[:, :head], k - 1, axis=1)[:, k - 1] + band
        rows, cols = _where(d <= bound[:, None])
        values = d[rows, cols]
        kth32 = _kth_smallest(values, rows, stop - start, k)
        keep = values <= kth32[rows] + band[rows]
        rows, cols = rows[keep], cols[keep]
        exact = queries.exact(rows + start, points, cols)
        out[start:stop] = _kth_smallest(exact, rows, stop - start, k)
    return out


def kth_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    features = _as_features(features, "reference")
    if len(features) <= k:
        raise MetricsError(f"need more than k={k} points for k-NN balls; got {len(features)}")
    points = _Points(features)
    # the nearest "neighbour" of a point is itself at distance 0, hence k + 1
    return np.sqrt(_kth_squared(points, points, k + 1))


def manifold_scores(real: np.ndarray, samples: np.ndarray, *, k_pr: int = K_PRECISION_RECALL,
                    k_dc: int = K_DENSITY_COVERAGE,
                    real_radii: dict[int, np.ndarray] | None = None) -> dict[str, float]:
    """precision, recall, density and coverage from one pass over sample-real distances.

    ``real_radii`` maps k to precomputed ``kth_neighbour_radii(real, k)`` (the Reference
    keeps them so each evaluation skips the real x real neighbour search).
    """
    real, samples = _as_features(real, "real"), _as_features(samples, "sample")
    if real.shape[1] != samples.shape[1]:
        raise MetricsError(f"feature sizes differ: real {real.shape[1]}, "
                           f"samples {samples.shape[1]}")
    real_radii = dict(real_radii or {})
    for k in (k_pr, k_dc):
        if k not in real_radii:
            real_radii[k] = kth_neighbour_radii(real, k)
    r, s = _Points(real), _Points(samples)
    slack = BOUNDARY_SLACK * max(r.sq.max(), s.sq.max())
    balls = _Balls(real_pr=real_radii[k_pr] ** 2 + slack,
                   real_dc=real_radii[k_dc] ** 2 - slack,  # strict: the edge is outside
                   sample_pr=_kth_squared(s, s, k_pr + 1) + slack)
    scores = _scan(s, r, balls)
    return {
        "precision": float(scores.in_real_manifold.mean()),
        "recall": float(scores.in_sample_manifold.mean()),
        "density": float(scores.real_balls_hit.sum() / (k_dc * len(samples))),
        "coverage": float(scores.covered.mean()),
    }


@dataclass
class _Balls:
    """Squared radii (float64, slack applied): the real balls of precision (k_pr) and of
    density/coverage (k_dc), and the sample balls of recall."""

    real_pr: np.ndarray
    real_dc: np.ndarray
    sample_pr: np.ndarray


@dataclass
class _Scan:
    in_real_manifold: np.ndarray  # per sample (precision)
    real_balls_hit: np.ndarray  # per sample (density's numerator)
    in_sample_manifold: np.ndarray  # per real point (recall)
    covered: np.ndarray  # per real point (coverage)


def _scan(s: _Points, r: _Points, balls: _Balls) -> _Scan:
    """One pass over the sample x real distances in float32 blocks; what round-off could
    decide is settled in float64 (rows for precision, pairs for density, columns for recall
    and coverage)."""
    real_pr32, real_dc32 = balls.real_pr.astype(np.float32), balls.real_dc.astype(np.float32)
    sample_pr32 = balls.sample_pr.astype(np.float32)
    precision = np.zeros(len(s), bool)
    hits = np.zeros(len(s))
    recall_margin = np.full(len(r), np.inf, np.float32)  # min over samples of d - sample ball
    nearest = np.full(len(r), np.inf, np.float32)  # nearest sample, squared (coverage)
    work = None
    for start, stop, d in s.blocks(r):
        err = s.error(start, stop, r)[:, None]
        np.minimum(nearest, d.min(axis=0), out=nearest)
        work = np.empty_like(d) if work is None else work
        t = np.subtract(d, sample_pr32[start:stop, None], out=work[:stop - start])
        np.minimum(recall_margin, t.min(axis=0), out=recall_margin)
        np.subtract(d, real_pr32[None, :], out=t)
        margin = t.min(axis=1)
        precision[start:stop] = margin <= 0
        unsure = np.flatnonzero(np.abs(margin) <= err[:, 0]) + start
        if len(unsure):
            exact = s.exact_rows(unsure, r)
            precision[unsure] = (exact <= balls.real_pr[None, :]).any(axis=1)
        np.subtract(d, real_dc32[None, :], out=t)
        hits[start:stop] = (t < -err).sum(axis=1)
        rows, cols = _where(np.abs(t, out=t) <= err)
        inside = s.exact(rows + start, r, cols) < balls.real_dc[cols]
        hits[start:stop] += np.bincount(rows, weights=inside, minlength=stop - start)
    return _Scan(precision, hits, *_columns(s, r, balls, recall_margin, nearest))


def _columns(s: _Points, r: _Points, balls: _Balls, recall_margin, nearest):
    """Recall and coverage per real point from the float32 column minima, the columns within
    round-off of their threshold computed again in float64."""
    err = r.error(0, len(r), s)
    recall = recall_margin <= 0
    covered = nearest < balls.real_dc.astype(np.float32)
    unsure = np.flatnonzero((np.abs(recall_margin) <= err)
                            | (np.abs(nearest - balls.real_dc) <= err))
    step = max(1, BLOCK_BYTES // (8 * len(s)))
    for start in range(0, len(unsure), step):
        cols = unsure[start:start + step]
        exact = r.exact_rows(cols, s)  # (cols, samples)
        recall[cols] = (exact <= balls.sample_pr[None, :]).any(axis=1)
        covered[cols] = exact.min(axis=1) < balls.real_dc[cols]
    return recall, covered


def mean_pairwise_distance(features: np.ndarray, *, max_n: int = PAIRWISE_MAX_N,
                           seed: int = 0) -> float:
    """Mean Euclidean distance over distinct pairs of a seeded subset of ``max_n`` points."""
    x = _as_features(features, "sample")
    if len(x) < 2:
        raise MetricsError(f"pairwise distance needs at least 2 points; got {len(x)}")
    if len(x) > max_n:
        x = x[np.random.default_rng(seed).choice(len(x), max_n, replace=False)]
    return float(distance.pdist(x).mean())  # each distinct pair once


def nearest_distances(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distance from each query to its nearest training point."""
    queries, train = _as_features(queries, "query"), _as_features(train, "training")
    return np.sqrt(_kth_squared(_Points(queries), _Points(train), 1))


def memorization_threshold(test_to_train: np.ndarray,
                           percentile: float = MEMORIZATION_PERCENTILE) -> float:
    """The 5th percentile of real test images' nearest-training-image distances."""
    return float(np.percentile(test_to_train, percentile))


def memorization(sample_to_train: np.ndarray, threshold: float) -> float:
    """Share of samples strictly closer to a training image than the threshold."""
    return float(np.mean(np.asarray(sample_to_train) < threshold))
