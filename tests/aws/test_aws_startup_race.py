"""The start-up race on the AWS backend: a rollout job polls before its trainer has started.

SageMaker starts a run's jobs in any order, minutes apart. Here the trainer job is created only
once a rollout job logs that it waits for the trainer's inputs, so the race happens every time;
the rollout job must wait, and the training must complete with nothing failed.
"""

from __future__ import annotations

import threading
import time

import pytest
from aws_experiments import JOB_TIMEOUT_S, prepared_experiment, wait_until_done

import workshop_helpers.backends.aws.backend as aws_backend
from workshop_helpers.backends import TrainingRequest
from workshop_helpers.backends.aws.naming import job_stem

pytestmark = pytest.mark.aws

WAITING = "waiting for the trainer"


def test_a_rollout_job_that_starts_before_its_trainer_waits_for_it(aws, monkeypatch) -> None:
    experiment = prepared_experiment(aws, "late-trainer", workers=1)
    stem = job_stem(experiment.id)
    create = aws_backend.create_job
    late: list[threading.Thread] = []

    def create_trainer_when_a_rollout_waits(sagemaker, body) -> bool:
        if not body["TrainingJobName"].endswith("-trainer"):
            return create(sagemaker, body)

        def when_polled() -> None:
            deadline = time.monotonic() + JOB_TIMEOUT_S  # a limit only a hang reaches
            job = aws.harness.jobs.get(f"{stem}-rollout-0")
            while not (job and any(WAITING in line for line in job.output)):
                assert time.monotonic() < deadline, "rollout-0 never polled for the trainer"
                time.sleep(0.05)
                job = aws.harness.jobs.get(f"{stem}-rollout-0")
            create(sagemaker, body)

        late.append(threading.Thread(target=when_polled, daemon=True))
        late[-1].start()
        return True

    monkeypatch.setattr(aws_backend, "create_job", create_trainer_when_a_rollout_waits)
    backend = aws.backend()
    backend.start_training(experiment, TrainingRequest(num_workers=1, max_time_s=300))
    late[0].join(JOB_TIMEOUT_S)
    final = {state.name: state.state for state in wait_until_done(backend, experiment)[-1]}
    assert final == {"trainer": "completed", "rollout-0": "completed"}
    rollout_log = "".join(aws.harness.jobs[f"{stem}-rollout-0"].output)
    assert WAITING in rollout_log and "Traceback" not in rollout_log
    pointer = experiment.open_store().get_text(f"{experiment.prefix}/model/.coach_checkpoint")
    assert pointer.startswith("2_Step-")
