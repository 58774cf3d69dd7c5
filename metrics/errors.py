"""The errors the metrics raise: one base class so a caller can catch every metrics problem."""


class MetricsError(Exception):
    """Input the metrics cannot score (wrong shape, NaN, too few samples), with the fix."""


class ClassifierGateError(MetricsError):
    """The dataset classifier is too inaccurate for its feature space to be trusted."""
