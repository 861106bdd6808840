"""The evaluation's error: inputs that cannot be evaluated together."""


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated together; the message says which and why."""
