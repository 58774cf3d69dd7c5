"""Everything about the real data that evaluations compare against, built once per dataset.

Building it trains (or loads) the classifier and embeds the real images; the arrays are
cached beside the classifier under the same key, in an entry sealed with checksums
(metrics.cache), so a second build takes seconds and a damaged entry is computed again.

- real set: up to ``n`` test images (features, logits, FID statistics, k-NN radii, cells);
- memorization set: a seeded half (at most 20k) of the training images, embedded; the other
  training images are the held-out pool ``real_floor`` draws from, so real images are never
  scored against copies of themselves;
- NDB cells: k-means in pixel space, fitted on the memorization set.

A small dataset keeps every figure, with settings fitted to its size (``caveats`` says which,
for the report): fewer NDB cells (``mode_collapse.ndb_cells``), smaller k for the k-NN balls
(``diversity.capped_k``), and a note where FID's covariance has fewer images than dimensions.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metrics import cache, diversity, fid, mixture, mode_collapse, stacked
from metrics.classifier import Classifier, load_or_train
from metrics.errors import MetricsError

STATS_VERSION = 3  # bump whenever what is cached here (or how) changes
MEMORIZATION_MAX = 20000
STATS = "stats.npz"
ARRAYS = ("real_features", "mu", "sigma", "logits_mu", "logits_sigma", "class_prior",
          "radii_pr", "radii_dc", "real_pairwise_distance", "ndb_centers", "real_cell_counts",
          "train_features", "memorization_threshold", "holdout_index")


@dataclass
class Reference:
    dataset_name: str
    classifier: Classifier
    num_classes: int
    image_shape: tuple[int, ...]
    real_features: np.ndarray  # (n, 128) test-split features
    mu: np.ndarray  # FID statistics of real_features
    sigma: np.ndarray
    logits_mu: np.ndarray  # FID statistics of the test logits
    logits_sigma: np.ndarray
    class_prior: np.ndarray  # share of each class among the real test labels
    real_radii: dict[int, np.ndarray]  # k -> k-th neighbour distance within real_features
    real_pairwise_distance: float
    ndb_centers: np.ndarray  # (K, pixels) k-means cells
    real_cell_counts: np.ndarray  # (K,) real test images per cell
    train_features: np.ndarray  # memorization set features
    memorization_threshold: float
    train_images: np.ndarray  # the dataset's training images (not copied)
    holdout_index: np.ndarray  # training images outside the memorization set
    seed: int
    notes: list[str] = field(default_factory=list)  # cache entries found damaged and rebuilt
    k_precision_recall: int = diversity.K_PRECISION_RECALL  # capped for a small real set
    k_density_coverage: int = diversity.K_DENSITY_COVERAGE
    # "classifier": the dataset's own; "per_channel": the MNIST classifier on each channel
    # (Stacked MNIST), which the metrics of the papers' triples apply to (info.Kind)
    kind: str = "classifier"

    def histogram(self, x) -> np.ndarray:
        """The share of samples predicted as each class (evaluate's class_histogram)."""
        return x.shares

    @property
    def ndb_cells(self) -> int:
        return len(self.ndb_centers)

    def caveats(self, samples: int) -> list[str]:
        """One sentence per figure whose settings this dataset's size changed, or whose
        estimate is rank-deficient, for evaluations of ``samples`` samples."""
        n, fitted = len(self.real_features), len(self.train_features)
        out = []
        if self.ndb_cells < mode_collapse.NDB_CELLS:
            per_cell = mode_collapse.NDB_IMAGES_PER_CELL
            out.append(f"NDB/K and JS(cells) use {self.ndb_cells} k-means cells, not "
                       f"{mode_collapse.NDB_CELLS}: a cell's z-test needs about {per_cell} "
                       f"images per cell on average, and the smaller of the sets it counts "
                       f"holds {min(n, fitted):,} ({n:,} real test images; the cells are fitted "
                       f"on {fitted:,} training images)")
        ks = (self.k_precision_recall, self.k_density_coverage)
        if ks != (diversity.K_PRECISION_RECALL, diversity.K_DENSITY_COVERAGE):
            out.append(f"precision/recall use k={ks[0]} and density/coverage k={ks[1]} (not "
                       f"{diversity.K_PRECISION_RECALL} and {diversity.K_DENSITY_COVERAGE}): "
                       f"with {n:,} real test images a k-NN ball may hold at most a tenth of "
                       "them")
        dim = self.real_features.shape[1]
        few = [f"{count:,} {what}" for count, what in ((n, "real test images"),
                                                       (samples, "samples")) if count <= dim]
        if few:
            out.append(f"FID: {' and '.join(few)} are no more than the {dim} feature dimensions, "
                       "so their covariance is singular (rank below the dimension); FID is "
                       "still computed, but it is biased upward at this count and compares "
                       "only with FID at the same counts")
        return out

    @property
    def classifier_accuracy(self) -> float:
        return self.classifier.accuracy

    @property
    def classifier_gate(self) -> float:
        return self.classifier.gate

    @property
    def classifier_train_seconds(self) -> float:
        return self.classifier.train_seconds


@dataclass
class PointsReference:
    """What points drawn from a known mixture (the 2-D ring and grid) are scored against: the
    mixture itself, so no classifier and no real-data statistics. ``train_images`` are the
    dataset's training points, which ``real_floor`` scores as a model."""

    dataset_name: str
    mixture: mixture.Mixture
    image_shape: tuple[int, ...]  # (D,): points, not images
    train_images: np.ndarray
    seed: int
    notes: list[str] = field(default_factory=list)
    kind: str = "mixture"

    @property
    def num_classes(self) -> int:
        return len(self.mixture.centres)

    @property
    def holdout_index(self) -> np.ndarray:
        return np.arange(len(self.train_images))

    def histogram(self, x) -> np.ndarray:
        """The share of samples that are high quality in each component."""
        return mixture.mode_counts(self.mixture, x.samples) / max(len(x.samples), 1)

    def caveats(self, samples: int) -> list[str]:
        """Modes counted depend on how many samples are scored: at another count than PacGAN's
        they stand beside its Table 1 (and the mixture presets) no longer."""
        if samples == mixture.PACGAN_SAMPLES:
            return []
        more = "more" if samples > mixture.PACGAN_SAMPLES else "fewer"
        return [f"modes covered depend on how many samples are scored (a mode holding a share "
                f"e of them is missed with probability (1 - e)^n): these were scored on "
                f"{samples:,}, PacGAN Table 1 and the mixture presets on "
                f"{mixture.PACGAN_SAMPLES:,}, so {more} modes are found than there, and the "
                f"counts compare only with runs scored on {samples:,}"]


def check_points(points, shape) -> np.ndarray:
    """Samples of a point dataset must be finite (N, D) floats."""
    points = np.asarray(points)
    if points.ndim != 2 or tuple(points.shape[1:]) != tuple(shape) \
            or not np.issubdtype(points.dtype, np.number):
        raise MetricsError(f"samples have shape {points.shape} and dtype {points.dtype}; "
                           f"expected (N, {', '.join(map(str, shape))}) float points")
    points = points.astype(np.float32, copy=False)
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points)).any(axis=1).sum())
        raise MetricsError(f"{bad} of {len(points)} samples contain NaN or inf; the model "
                           "diverged")
    return points


def _compute(dataset, classifier: Classifier, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    test_index = np.sort(rng.permutation(len(dataset.x_test))[:n])
    real = classifier(dataset.x_test[test_index])
    num_train = len(dataset.x_train)
    order = rng.permutation(num_train)
    memo_index = np.sort(order[:min(MEMORIZATION_MAX, num_train // 2)])
    holdout_index = np.sort(order[len(memo_index):])
    train_features = classifier(dataset.x_train[memo_index]).features
    cells = mode_collapse.ndb_cells(min(len(memo_index), len(test_index)))
    centers = mode_collapse.fit_cells(dataset.x_train[memo_index], k=cells, seed=seed)
    k_pr, k_dc = _knn_k(len(test_index))
    test_to_train = diversity.nearest_distances(real.features, train_features)
    mu, sigma = fid.statistics(real.features)
    logits_mu, logits_sigma = fid.statistics(real.logits)
    prior = mode_collapse.class_histogram(dataset.y_test[test_index], dataset.num_classes)
    return {
        "real_features": real.features, "mu": mu, "sigma": sigma,
        "logits_mu": logits_mu, "logits_sigma": logits_sigma, "class_prior": prior,
        "radii_pr": diversity.kth_neighbour_radii(real.features, k_pr),
        "radii_dc": diversity.kth_neighbour_radii(real.features, k_dc),
        "real_pairwise_distance": np.float64(
            diversity.mean_pairwise_distance(real.features, seed=seed)),
        "ndb_centers": centers,
        "real_cell_counts": mode_collapse.cell_counts(centers, dataset.x_test[test_index]),
        "train_features": train_features,
        "memorization_threshold": np.float64(diversity.memorization_threshold(test_to_train)),
        "holdout_index": holdout_index,
    }


def _knn_k(n: int) -> tuple[int, int]:
    """(k of precision/recall, k of density/coverage) for ``n`` real points."""
    return (diversity.capped_k(diversity.K_PRECISION_RECALL, n),
            diversity.capped_k(diversity.K_DENSITY_COVERAGE, n))


def _load(folder: Path) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """(arrays, None), or (None, why the entry is unusable)."""
    reason = cache.check_entry(folder, (STATS,))
    if reason is not None:
        return None, reason
    try:
        with np.load(folder / STATS) as stored:
            arrays = {name: stored[name] for name in ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        return None, f"unreadable entry ({type(e).__name__}: {e})"
    return arrays, None


def missing_from_cache(dataset, *, cache_dir: str | Path | None = None, n: int = 10000,
                       seed: int = 0) -> str | None:
    """None when ``build_reference(dataset, n=n)`` would only read the cache (a read-only
    cache serves it); else which entry it would have to write. Points need no entry; Stacked
    MNIST's per-channel entries are not looked into (said as missing)."""
    from metrics import classifier

    if getattr(dataset, "mixture", None) is not None:
        return None
    if getattr(dataset, "channel_dataset", None) is not None:
        return f"{dataset.name}'s per-channel classifier entries"
    key = classifier.cache_key(dataset, seed)
    folder = classifier.entry(key, cache_dir)
    if cache.check_entry(folder, (classifier.WEIGHTS, classifier.META)) is not None:
        return f"the classifier entry {folder}"
    weights = cache.sha256(folder / classifier.WEIGHTS)
    folder = _entry(cache.default_cache_dir(cache_dir), key, weights, min(n, len(dataset.x_test)))
    return f"the reference entry {folder}" if cache.check_entry(folder, (STATS,)) else None


def _entry(root: Path, classifier_key: str, weights_sha256: str | None, n: int) -> Path:
    """The statistics' cache folder: keyed by the exact weights too, so statistics of a
    retrained network are never reused."""
    weights = (weights_sha256 or "none")[:12]
    return root / "reference" / f"{classifier_key}-w{weights}-n{n}-stats{STATS_VERSION}"


def build_reference(dataset, *, cache_dir: str | Path | None = None, n: int = 10000,
                    seed: int = 0, gate: float | None = None,
                    note: Callable[[str], None] | None = None) -> Reference:
    """The Reference for ``dataset`` (any object with name, checksum, x/y_train/test, ...).

    The classifier's accuracy gate (percent) is ``gate``, else ``dataset.classifier_gate``
    (MetricsError when neither is given). Raises ClassifierGateError when the classifier
    misses it. A damaged cache entry is rebuilt with one ``note(reason)`` (default: a line on
    stderr).
    """
    note = note or cache.stderr_note
    if getattr(dataset, "mixture", None) is not None:
        return PointsReference(dataset.name, dataset.mixture, tuple(dataset.x_train.shape[1:]),
                               dataset.x_train, seed)
    channel_data = getattr(dataset, "channel_dataset", None)
    if channel_data is not None:  # Stacked MNIST: the MNIST classifier labels each channel
        classifier = stacked.load_per_channel(dataset, channel_data, cache_dir=cache_dir,
                                              seed=seed, gate=gate, note=note)
    else:
        classifier = load_or_train(dataset, cache_dir=cache_dir, seed=seed, gate=gate,
                                   note=note)
    notes = list(classifier.notes)
    n = min(n, len(dataset.x_test))
    folder = _entry(cache.default_cache_dir(cache_dir), classifier.key,
                    classifier.weights_sha256, n)
    with cache.building(folder):
        arrays, reason = _load(folder)
        if arrays is None:
            if reason != "missing":
                notes.append(f"reference statistics cache entry {folder} is unusable: "
                             f"{reason}; computing them again")
                note(notes[-1])
            arrays = _compute(dataset, classifier, n, seed)
            cache.write_entry(folder, {STATS: lambda path: np.savez(path, **arrays)})
    k_pr, k_dc = _knn_k(len(arrays["real_features"]))
    return Reference(
        dataset_name=dataset.name, classifier=classifier, num_classes=dataset.num_classes,
        image_shape=tuple(dataset.x_train.shape[1:]),
        real_features=arrays["real_features"], mu=arrays["mu"], sigma=arrays["sigma"],
        logits_mu=arrays["logits_mu"], logits_sigma=arrays["logits_sigma"],
        class_prior=arrays["class_prior"],
        real_radii={k_pr: arrays["radii_pr"], k_dc: arrays["radii_dc"]},
        real_pairwise_distance=float(arrays["real_pairwise_distance"]),
        ndb_centers=arrays["ndb_centers"], real_cell_counts=arrays["real_cell_counts"],
        train_features=arrays["train_features"],
        memorization_threshold=float(arrays["memorization_threshold"]),
        train_images=dataset.x_train, holdout_index=arrays["holdout_index"], seed=seed,
        notes=notes, k_precision_recall=k_pr, k_density_coverage=k_dc,
        kind="per_channel" if channel_data is not None else "classifier",
    )
