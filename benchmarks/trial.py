"""A trial: one trained or scored (model, settings, seed). "Run" names the command and its
folder; a run holds trials.

``TrialSpec`` is a trial's identity and its one name, ``key`` ('dcgan[lr=0.0001]/s0', from
``reports.schema.run_key``, which the reports use too); its ``tag`` (file names) and ``arm``
(the key without its seed) derive from it. ``Trial`` is its typed record, built from what the
functions that train, score, draw and export return, and made results.json's dict in one place
(``record``); the dict is the one schema 3 defines, unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reports.schema import new_run, run_key


@dataclass(frozen=True)
class TrialSpec:
    """One trial of the grid: what an executor hands to ``experiment.run``."""

    model: str
    overrides: dict[str, Any]  # the swept settings of this trial ({} without a sweep)
    seed: int

    @property
    def key(self) -> str:
        return run_key(self.model, self.overrides, self.seed)

    @property
    def arm(self) -> str:
        """The key without its seed: the model and its swept settings."""
        return self.key.rsplit("/", 1)[0]

    @property
    def tag(self) -> str:
        """The key as a file name: 'dcgan-s0', 'dcgan-lr0.0001-s0' in a sweep."""
        settings = "".join(f"-{k}{v}" for k, v in sorted(self.overrides.items()))
        return re.sub(r"[^A-Za-z0-9_.+=-]", "_", f"{self.model}{settings}-s{self.seed}")


@dataclass(frozen=True)
class Training:
    """What training a trial gives before it is scored: its settings, losses and speed."""

    weights_scored: str  # "raw" or "ema"
    params: dict[str, int]
    model_config: dict[str, Any]
    steps_done: int
    diverged_at: int | None
    curves: dict
    losses: dict
    throughput: dict
    weights: str  # its weights' folder, inside the run folder


@dataclass(frozen=True)
class Scored:
    """One set of weights (or samples) scored: every metric, its figure, its exported file."""

    metrics: dict
    figure: str | None = None  # its sample grid, inside the run folder
    exported: str | None = None  # its generator as .keras, inside the run folder


@dataclass(frozen=True)
class Trial:
    """A trial's record: status, and what its training and scoring returned."""

    spec: TrialSpec
    status: str  # reports.schema.RunStatus
    training: Training | None = None  # None: scored samples, or a failed trial
    final: Scored | None = None
    best: tuple[int, Scored] | None = None  # (its step, its scores)
    progression: dict[str, str] = field(default_factory=dict)  # figure name -> path
    source: dict | None = None  # samples scored by ``score``: where they came from
    # an iterative model's final weights at each NFE (reports.schema.NfeSweep); None: none
    nfe_sweep: dict | None = None
    error: str | None = None  # why a failed trial failed
    # what the run's notes must say of it (its damaged checkpoint): not in its ``runs`` entry,
    # the runner adds them to results.json's notes
    notes: tuple[str, ...] = ()

    def record(self) -> dict:
        """results.json's ``runs`` entry (reports.schema.Run), the one place it is made."""
        spec, t = self.spec, self.training
        final = None if self.final is None else self.final.metrics
        if t is None:
            fields = {} if self.error is not None else {
                "final": final, "source": self.source, "figures": self._figures()}
            return new_run(spec.model, spec.seed, overrides=spec.overrides, status=self.status,
                           error=self.error, **fields)
        best = None if self.best is None else {"step": self.best[0],
                                               "metrics": self.best[1].metrics}
        exported = {which: s.exported for which, s in self._scored() if s.exported}
        return new_run(
            spec.model, spec.seed, overrides=spec.overrides, status=self.status,
            weights_scored=t.weights_scored, params=t.params, model_config=t.model_config,
            steps_done=t.steps_done, diverged_at=t.diverged_at, final=final, best=best,
            curves=t.curves, losses=t.losses, throughput=t.throughput,
            figures=self._figures(), weights=t.weights,
            **({"exported": exported} if exported else {}),
            **({"nfe_sweep": self.nfe_sweep} if self.nfe_sweep else {}))

    def _scored(self) -> list[tuple[str, Scored]]:
        return [(which, s) for which, s in (("final", self.final),
                                            ("best", self.best and self.best[1])) if s]

    def _figures(self) -> dict[str, str]:
        grids = {f"samples_{which}": s.figure for which, s in self._scored() if s.figure}
        return {**grids, **self.progression}
