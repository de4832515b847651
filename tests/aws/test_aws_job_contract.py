"""The job contract shared by both image modes: the shared deadline, the launcher, ``train``."""

from __future__ import annotations

import pytest

from markov.runners.deadline import DEADLINE_VARIABLE, EXPORT_MARGIN_S, apply_deadline
from markov.runners.job import JobSetupError, chosen_worker, worker_command
from markov.runners.sagemaker import missing_requirements
from workshop_helpers.backends.aws.config import AwsSettings
from workshop_helpers.backends.aws.jobs import time_limits
from workshop_helpers.backends.base import TrainingRequest

SETTINGS = AwsSettings("us-east-1", "sagemaker-b", "arn:aws:iam::1:role/r", "img")


def test_a_trainer_starting_late_still_exports_before_the_shared_deadline() -> None:
    submitted = 1_000_000.0
    limits = time_limits(TrainingRequest(max_time_s=1800), SETTINGS, submitted)
    env = {DEADLINE_VARIABLE: f"{limits.deadline:.0f}", "MAX_TRAINING_TIME_S": "1800"}
    late_start = submitted + 1200  # its instance came 20 minutes after the rollouts'
    apply_deadline(env, late_start)
    training = float(env["MAX_TRAINING_TIME_S"])
    assert late_start + training + EXPORT_MARGIN_S <= limits.deadline
    assert limits.deadline < submitted + limits.max_runtime_s  # MaxRuntime is only a backstop


def test_a_trainer_starting_on_time_keeps_its_whole_budget() -> None:
    submitted = 1_000_000.0
    limits = time_limits(TrainingRequest(max_time_s=1800), SETTINGS, submitted)
    env = {DEADLINE_VARIABLE: f"{limits.deadline:.0f}", "MAX_TRAINING_TIME_S": "1800"}
    apply_deadline(env, submitted + 60)
    assert env["MAX_TRAINING_TIME_S"] == "1800"


def test_a_rollout_worker_never_waits_past_the_deadline() -> None:
    env = {DEADLINE_VARIABLE: "1000", "READY_TIMEOUT_S": "1800"}
    apply_deadline(env, 900.0)
    assert env["READY_TIMEOUT_S"] == "100"


def test_spot_jobs_get_a_longer_wait_and_the_deadline_covers_it() -> None:
    spot = AwsSettings("us-east-1", "b", "r", "i", use_spot=True)
    limits = time_limits(TrainingRequest(max_time_s=600), spot, 0.0)
    assert limits.max_wait_s == 2 * limits.max_runtime_s
    assert limits.deadline > limits.max_runtime_s


def test_sagemakers_train_argument_runs_the_worker_named_in_dr_worker() -> None:
    assert chosen_worker("train", {"DR_WORKER": "one_job"}) == "one_job"
    assert chosen_worker("rollout_worker", {"DR_WORKER": "one_job"}) == "rollout_worker"
    assert worker_command("one_job")[-1] == "markov.runners.one_job"
    with pytest.raises(JobSetupError, match="DR_WORKER"):
        worker_command(chosen_worker("train", {}))


def test_the_launcher_installs_only_what_the_image_lacks() -> None:
    image = {"torch": "2.8.0", "numpy": "2.1.0", "boto3": "1.40.0", "pyyaml": "6.0.2"}
    lines = ["torch>=2.2", "numpy>=1.26", "PyYAML>=6.0", "boto3>=1.44", "gymnasium>=1.0", "# x"]
    missing = missing_requirements(lines, lambda name: image.get(name.lower()))
    assert missing == ["boto3>=1.44", "gymnasium>=1.0"]
