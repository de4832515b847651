"""What the AWS test modules share: a set-up workshop account, tiny experiments and a wait.

The ``aws`` fixture that builds an :class:`Aws` lives in tests/aws/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from workshop_helpers.backends import JobState
from workshop_helpers.backends.aws.backend import AwsBackend
from workshop_helpers.backends.aws.config import AwsSettings
from workshop_helpers.bundle import upload_run_inputs
from workshop_helpers.experiment import Experiment, new_experiment
from workshop_helpers.model_config import (
    load_action_preset,
    write_hyperparameters,
    write_model_metadata,
)
from workshop_helpers.reward import load_reward_example, write_reward_function
from workshop_helpers.yaml_params import training_params_for, write_params

TRACK = "Workshop_Oval"
TINY = {
    "num_episodes_between_training": 4,
    "num_epochs": 1,
    "batch_size": 32,
    "term_cond_max_episodes": 2,
}
WORKSHOP_VARIABLES = (
    "AWS_PROFILE",
    "DR_AWS_BUCKET",
    "DR_AWS_ROLE_ARN",
    "DR_IMAGE_URI",
    "DR_JOB_MODE",
    "DR_IMAGE_MODE",
    "DR_INSTANCE_TYPE",
)
"""The workshop's AWS settings from the environment, cleared so that a test's account starts
from the defaults."""


@contextmanager
def fresh_account(harness: Any, runs_dir: str) -> Iterator[pytest.MonkeyPatch]:
    """A reset moto account with the harness's endpoints and credentials in the environment,
    no workshop settings and a scratch runs folder; the monkeypatch is undone afterwards, and
    jobs still running are ended."""
    harness.reset()
    with pytest.MonkeyPatch.context() as patch:
        for name in WORKSHOP_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in harness.environment().items():
            patch.setenv(name, value)
        patch.setenv("DR_RUNS_DIR", runs_dir)
        yield patch
        harness.terminate_all()


# Waits end by events; this limit is only reached by a hang (a busy machine runs ~5x slower).
JOB_TIMEOUT_S = 1800


@dataclass
class Aws:
    """The harness, the saved settings and a printer that keeps what the backend printed."""

    harness: object
    settings: AwsSettings
    printed: list[str]

    def backend(self) -> AwsBackend:
        return AwsBackend(self.settings, printer=self.printed.append)

    def sagemaker(self):
        return boto3.client("sagemaker")


def prepared_experiment(aws: Aws, name: str, workers: int = 2) -> Experiment:
    """An aws experiment with tiny training inputs and the bundle uploaded to S3."""
    experiment = new_experiment(name, "aws", world_name=TRACK, store_url=aws.settings.store_url)
    write_model_metadata(experiment, load_action_preset("drfc_default"))
    write_reward_function(experiment, load_reward_example("prevent_zig_zag"))
    write_hyperparameters(experiment, TINY)
    write_params(
        experiment, training_params_for(experiment, num_workers=workers, MIN_EVAL_TRIALS="1")
    )
    upload_run_inputs(experiment, world_name=TRACK, num_workers=workers)
    return experiment


def wait_until_done(backend: AwsBackend, experiment: Experiment) -> list[list[JobState]]:
    """Poll training_jobs until every job has ended; returns every poll's states."""
    history = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        states = backend.training_jobs(experiment)
        history.append(states)
        if states and all(state.done for state in states):
            return history
        time.sleep(0.5)
    raise AssertionError(
        f"training jobs of {experiment.id} still running after {JOB_TIMEOUT_S} s: {history[-1]}"
    )


