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

import numpy as np
from scipy.spatial import distance
from sklearn.neighbors import NearestNeighbors

from metrics.errors import MetricsError

K_PRECISION_RECALL = 3
K_DENSITY_COVERAGE = 5
# A ball reaching a real point's k-th nearest real neighbour holds about k / N of the real set:
# with few real points k is capped so that a ball holds at most a tenth of them (k = 5 needs
# 50 points, k = 3 needs 30); below 20 points k = 1.
KNN_POINTS_PER_K = 10
PAIRWISE_MAX_N = 2000  # mean pairwise distance on a seeded subset: 2M pairs is plenty
MEMORIZATION_PERCENTILE = 5.0
CHUNK = 1024  # rows of the sample x real distance matrix held at once (1024 x 10k float64)
# A point on a ball's boundary (e.g. a sample equal to a real image's k-th neighbour) counts
# as inside the balls of precision/recall (Kynkaanniemi et al.'s code uses <=) and outside
# those of density/coverage (Naeem et al.'s uses <). Radii (scikit-learn) and the distances
# here round differently, so the boundary is moved by a slack of 1e-9 of the largest squared
# norm (out for <=, in for <), far below any real gap.
BOUNDARY_SLACK = 1e-9


def _as_features(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise MetricsError(f"{name} features must be a finite (N, D) array; got {x.shape}")
    return x


def capped_k(k: int, n: int) -> int:
    """k for balls over ``n`` real points: ``k``, at most a tenth of n, at least 1."""
    return max(1, min(k, n // KNN_POINTS_PER_K))


def kth_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    features = _as_features(features, "reference")
    if len(features) <= k:
        raise MetricsError(f"need more than k={k} points for k-NN balls; got {len(features)}")
    # the nearest "neighbour" of a point is itself at distance 0, hence k + 1
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]


def _squared_norms(x):
    return np.einsum("ij,ij->i", x, x)


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
    real_sq, samples_sq = _squared_norms(real), _squared_norms(samples)
    slack = BOUNDARY_SLACK * max(real_sq.max(), samples_sq.max())
    real_pr_sq = real_radii[k_pr] ** 2 + slack
    real_dc_sq = real_radii[k_dc] ** 2 - slack  # strict: the edge is outside
    sample_pr_sq = kth_neighbour_radii(samples, k_pr) ** 2 + slack

    in_real_manifold = np.zeros(len(samples), bool)  # precision
    real_balls_hit = np.zeros(len(samples))  # density numerator
    nearest_sample_sq = np.full(len(real), np.inf)  # coverage
    in_sample_manifold = np.zeros(len(real), bool)  # recall
    for start in range(0, len(samples), CHUNK):
        s = samples[start:start + CHUNK]
        d_sq = samples_sq[start:start + CHUNK, None] + real_sq[None, :] - 2.0 * (s @ real.T)
        np.maximum(d_sq, 0.0, out=d_sq)
        in_real_manifold[start:start + CHUNK] = (d_sq <= real_pr_sq[None, :]).any(axis=1)
        real_balls_hit[start:start + CHUNK] = (d_sq < real_dc_sq[None, :]).sum(axis=1)
        nearest_sample_sq = np.minimum(nearest_sample_sq, d_sq.min(axis=0))
        in_sample_manifold |= (d_sq <= sample_pr_sq[start:start + CHUNK, None]).any(axis=0)
    return {
        "precision": float(in_real_manifold.mean()),
        "recall": float(in_sample_manifold.mean()),
        "density": float(real_balls_hit.sum() / (k_dc * len(samples))),
        "coverage": float((nearest_sample_sq < real_dc_sq).mean()),
    }


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
    distances, _ = NearestNeighbors(n_neighbors=1).fit(train).kneighbors(queries)
    return distances[:, 0]


def memorization_threshold(test_to_train: np.ndarray,
                           percentile: float = MEMORIZATION_PERCENTILE) -> float:
    """The 5th percentile of real test images' nearest-training-image distances."""
    return float(np.percentile(test_to_train, percentile))


def memorization(sample_to_train: np.ndarray, threshold: float) -> float:
    """Share of samples strictly closer to a training image than the threshold."""
    return float(np.mean(np.asarray(sample_to_train) < threshold))
