"""Where the engine runs: ``local`` (processes on this machine) or ``aws`` (SageMaker jobs).

Notebook cells talk to ``get_backend(experiment)`` only, so the same cells work on both.
"""

from __future__ import annotations

from workshop_helpers.backends.base import (
    Backend,
    BackendError,
    EvaluationRequest,
    JobState,
    TrainingRequest,
)
from workshop_helpers.experiment import Experiment

__all__ = [
    "Backend",
    "BackendError",
    "EvaluationRequest",
    "JobState",
    "TrainingRequest",
    "get_backend",
]


def get_backend(experiment: Experiment) -> Backend:
    """The backend an experiment was created for."""
    if experiment.backend == "local":
        from workshop_helpers.backends.local import LocalBackend

        return LocalBackend()
    if experiment.backend == "aws":
        from workshop_helpers.backends.aws.backend import AwsBackend

        return AwsBackend.from_environment()
    raise BackendError(f"backend is {experiment.backend!r}; use 'local' or 'aws'.")
