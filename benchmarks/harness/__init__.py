"""One training loop for every model and backend (``loop``), with a compiled step per
backend (``tensorflow``, ``jax``); the engine is picked from the backend keras runs on."""

from benchmarks.harness.loop import PRECISIONS, StepInfo, TrainLog, build, train

__all__ = ["PRECISIONS", "StepInfo", "TrainLog", "build", "train"]
