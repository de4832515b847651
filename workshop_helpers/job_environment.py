"""The environment every process of a training starts with, as the original workshop's
``envriron_vars`` showed it: one dict per worker (``trainer``, ``rollout-<ROLLOUT_IDX>``).

The dicts come from the code that starts the processes: the local runner
(``markov.runners.local.worker_environments``, through the local backend's arguments) and the
SageMaker job builder (``workshop_helpers.backends.aws.jobs.worker_environments``).
"""

from __future__ import annotations

from workshop_helpers.backends import TrainingRequest
from workshop_helpers.backends.aws.config import AwsSettings, load_settings
from workshop_helpers.backends.aws.session import AwsSetupError
from workshop_helpers.budget import Budget, workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.paths import shown_path

EXAMPLE_AWS_SETTINGS = AwsSettings(
    region="us-east-1",
    bucket="my-deepracer-bucket",
    role_arn="arn:aws:iam::123456789012:role/deepracer-workshop",
    image_uri="<the jobs' training image>",
)
"""Shown when AWS is not set up on this machine: the jobs' variables with example values."""

BACKENDS = ("local", "aws")


def training_request(
    workers: int = 1, budget: Budget | None = None, **extra_env: str
) -> TrainingRequest:
    """The request ``start_training`` sends: workers, the budget's limits and extra variables."""
    budget = budget or workshop_budget()
    return TrainingRequest(
        num_workers=workers,
        max_time_s=budget.max_training_time_s,
        stop_at_eval_progress=budget.stop_at_eval_progress,
        extra_env=extra_env,
    )


def worker_environments(
    experiment: Experiment,
    workers: int = 1,
    backend: str | None = None,
    budget: Budget | None = None,
    **extra_env: str,
) -> dict[str, dict[str, str]]:
    """Each process's simapp variables if ``start_training(experiment, workers, **extra_env)``
    ran now on ``backend`` (default: the experiment's). On AWS without a set-up, the settings
    are ``EXAMPLE_AWS_SETTINGS``; the deadline variable depends on the moment of the start.
    A local store's ``file://`` location is shown as the lesson names it (``runs/...``)."""
    backend = backend or experiment.backend
    request = training_request(workers, budget, **extra_env)
    if backend == "local":
        from workshop_helpers.backends import local

        environments = local.worker_environments(experiment, request)
    elif backend == "aws":
        from workshop_helpers.backends.aws import jobs

        environments = jobs.worker_environments(
            experiment, aws_settings_or_example(), request, experiment.open_store()
        )
    else:
        raise ValueError(f"backend is {backend!r}; use one of {', '.join(BACKENDS)}")
    return {
        name: {
            key: shown_path(value) if value.startswith("file://") else value
            for key, value in env.items()
        }
        for name, env in environments.items()
    }


def aws_settings_or_example() -> AwsSettings:
    """This machine's AWS settings, or ``EXAMPLE_AWS_SETTINGS`` where AWS is not set up."""
    try:
        return load_settings()
    except AwsSetupError:
        return EXAMPLE_AWS_SETTINGS
