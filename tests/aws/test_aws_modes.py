"""The AWS defaults on first real use: the prebuilt image, one job, and the quota pre-check.

The training runs in the default modes: AWS's prebuilt PyTorch image (the harness runs the
bundle's launcher as the training toolkit does) and one job holding the trainer and both
rollout workers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_experiments import (
    JOB_TIMEOUT_S,
    TINY,
    TRACK,
    Aws,
    fresh_account,
    prepared_experiment,
    wait_until_done,
)
from botocore.stub import Stubber

from markov.formats.checkpoints import CheckpointReader
from workshop_helpers.backends import TrainingRequest
from workshop_helpers.backends.aws.backend import AwsBackend
from workshop_helpers.backends.aws.quotas import QuotaExceeded, check_quotas, require_quotas
from workshop_helpers.backends.aws.session import AwsContext
from workshop_helpers.backends.aws.setup import SetupReport, setup_workshop
from workshop_helpers.bundle import upload_run_inputs
from workshop_helpers.model_config import write_hyperparameters

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("requests_fit_the_model")]

@pytest.fixture(scope="module")
def default_role(aws_harness, tmp_path_factory) -> Iterator[tuple[SetupReport, str]]:
    """The default set-up (prebuilt image, one job) in a fresh moto account."""
    with fresh_account(aws_harness, str(tmp_path_factory.mktemp("runs"))):
        report = setup_workshop(printer=lambda _line: None)
        yield report, report.settings.role_arn


def test_one_job_training_on_the_prebuilt_image_completes(aws_harness, default_role) -> None:
    report, _ = default_role
    printed: list[str] = []
    aws = Aws(aws_harness, report.settings, printed)
    experiment = prepared_experiment(aws, "one-job")
    backend = AwsBackend(report.settings, printer=printed.append)
    started = backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=300))
    assert [state.name for state in started] == ["trainer"]
    final = wait_until_done(backend, experiment)[-1]
    assert [(state.name, state.state) for state in final] == [("trainer", "completed")]
    pointer = experiment.open_store().get_text(f"{experiment.prefix}/model/.coach_checkpoint")
    assert pointer.startswith("2_Step-")
    log = backend.logs(experiment, "trainer", lines=400)
    assert "[rollout-1]" in log and "[trainer]" in log
    job = boto3.client("sagemaker").describe_training_job(TrainingJobName=started[0].detail)
    assert job["HyperParameters"]["sagemaker_program"] == "dr_launcher.py"
    assert "ContainerArguments" not in job["AlgorithmSpecification"]
    assert "Cost estimate: 1 job(s)" in "\n".join(printed)


# ------------------------------------------------------------------ quotas
class StubbedSession:
    """A boto3 session whose clients are stubbed (Service Quotas has no moto backend here)."""

    def __init__(self) -> None:
        self.clients = {
            name: boto3.client(name, region_name="us-east-1")
            for name in ("service-quotas", "sagemaker")
        }
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str, **_options: Any) -> Any:
        return self.clients[name]


def quota_reply(value: float) -> dict[str, Any]:
    return {
        "Quotas": [
            {
                "ServiceCode": "sagemaker",
                "QuotaName": "ml.c5.2xlarge for training job usage",
                "QuotaCode": "L-12345678",
                "Value": value,
            }
        ]
    }


def test_the_quota_check_refuses_a_training_the_account_cannot_run() -> None:
    session = StubbedSession()
    session.stubs["service-quotas"].add_response(
        "list_service_quotas", quota_reply(2.0), {"ServiceCode": "sagemaker"}
    )
    session.stubs["sagemaker"].add_response(
        "list_training_jobs",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": "other",
                    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/other",
                    "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                    "TrainingJobStatus": "InProgress",
                }
            ]
        },
        {"StatusEquals": "InProgress"},
    )
    session.stubs["sagemaker"].add_response(
        "describe_training_job",
        {
            "TrainingJobName": "other",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/other",
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/k"},
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Training",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {
                "InstanceType": "ml.c5.2xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        },
        {"TrainingJobName": "other"},
    )
    for stub in session.stubs.values():
        stub.activate()
    context = AwsContext(session, "us-east-1")  # type: ignore[arg-type]
    with pytest.raises(QuotaExceeded) as refused:
        require_quotas(context, {"ml.c5.2xlarge": 2})
    message = str(refused.value)
    assert "needs 2 ml.c5.2xlarge" in message and "may run 2 (1 in use)" in message
    assert "'ml.c5.2xlarge for training job usage'" in message
    assert "Nothing was started" in message and "--quota-code L-12345678" in message


def test_a_denied_quota_read_lets_the_start_go_on_and_says_so() -> None:
    session = StubbedSession()
    session.stubs["service-quotas"].add_client_error(
        "list_service_quotas", service_error_code="AccessDeniedException"
    )
    session.stubs["service-quotas"].activate()
    context = AwsContext(session, "us-east-1")  # type: ignore[arg-type]
    [check] = check_quotas(context, {"ml.c5.2xlarge": 3})
    assert check.enough and check.limit is None
    assert "servicequotas:ListServiceQuotas" in check.note


def test_nothing_starts_when_the_quota_is_too_small(aws_harness, default_role, monkeypatch):
    report, _ = default_role
    aws = Aws(aws_harness, report.settings, [])
    experiment = prepared_experiment(aws, "no-quota")

    def refuse(_context, needed, _spot=False):
        raise QuotaExceeded(f"needs {dict(needed)}")

    monkeypatch.setattr("workshop_helpers.backends.aws.backend.require_quotas", refuse)
    backend = AwsBackend(report.settings, printer=aws.printed.append)
    with pytest.raises(Exception, match=r"needs \{'ml.c5.2xlarge': 1\}"):
        backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=300))
    assert backend.training_jobs(experiment) == []


# ------------------------------------------------------------------ Managed Spot
def test_a_spot_interruption_resumes_from_the_last_checkpoint_in_s3(aws_harness, default_role):
    report, _ = default_role
    settings = replace(report.settings, use_spot=True)
    aws = Aws(aws_harness, settings, [])
    experiment = prepared_experiment(aws, "spot")
    write_hyperparameters(experiment, {**TINY, "term_cond_max_episodes": 3}, overwrite=True)
    upload_run_inputs(experiment, world_name=TRACK, num_workers=2)
    backend = AwsBackend(settings, printer=aws.printed.append)
    [started] = backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=600))
    job = boto3.client("sagemaker").describe_training_job(TrainingJobName=started.detail)
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] > job["StoppingCondition"][
        "MaxRuntimeInSeconds"
    ]
    reader = CheckpointReader(experiment.open_store(), experiment.prefix)
    waited = time.monotonic()
    while (reader.latest() is None or reader.latest().number < 1) and not reader.is_finished():
        assert time.monotonic() - waited < JOB_TIMEOUT_S, "checkpoint 1 never appeared in S3"
        time.sleep(0.2)
    aws_harness.interrupt(started.detail)
    final = wait_until_done(backend, experiment)[-1]
    assert aws_harness.interruptions == [started.detail]
    assert [(state.name, state.state) for state in final] == [("trainer", "completed")]
    log = backend.logs(experiment, "trainer", lines=1000)
    assert re.search(r"resuming from [12]_Step-\d+", log), "the restarted trainer began afresh"
    pointer = experiment.open_store().get_text(f"{experiment.prefix}/model/.coach_checkpoint")
    assert pointer.startswith("3_Step-")
    assert "Managed Spot: compute likely about" in "\n".join(aws.printed)
