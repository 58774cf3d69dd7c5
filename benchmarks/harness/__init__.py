"""One training loop for every model and backend (``loop``), with a compiled step per
backend (``tensorflow``, ``jax``); the engine is picked from the backend keras runs on."""

from benchmarks.harness.callbacks import Callback, CallbackList, LambdaCallback, StepInfo
from benchmarks.harness.loop import PRECISIONS, TrainLog, build, train

__all__ = ["PRECISIONS", "Callback", "CallbackList", "LambdaCallback", "StepInfo", "TrainLog",
           "build", "train"]
