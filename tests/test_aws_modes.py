"""The AWS defaults on first real use: the default SageMaker role, the prebuilt image, one job.

The set-up runs as a SageMaker execution role holding only the S3, ECR and IAM statements of
the ``AmazonSageMakerFullAccess`` managed policy (read from moto's copy of AWS's managed
policies), with moto enforcing IAM. The training then runs in the default modes: AWS's prebuilt
PyTorch image (the harness runs the bundle's launcher as the training toolkit does) and one job
holding the trainer and both rollout workers.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.iam.aws_managed_policies import aws_managed_policies_data
from test_aws_backend import Aws, prepared_experiment, wait_until_done

from workshop_helpers.aws.quotas import QuotaExceeded, check_quotas, require_quotas
from workshop_helpers.aws.session import AwsContext
from workshop_helpers.aws.setup import SetupReport, setup_workshop
from workshop_helpers.backends import TrainingRequest
from workshop_helpers.backends.aws import AwsBackend

pytestmark = pytest.mark.aws

EXECUTION_ROLE = "AmazonSageMaker-ExecutionRole-20260101T000000"
SERVICES = ("s3:", "ecr:", "iam:")


def sagemaker_full_access_statements() -> list[dict[str, Any]]:
    """The managed policy's Allow statements on S3, ECR and IAM actions (conditions kept)."""
    document = json.loads(aws_managed_policies_data)["AmazonSageMakerFullAccess"]["Document"]
    kept = []
    for statement in document["Statement"]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        chosen = [action for action in actions if action.startswith(SERVICES)]
        if chosen and "Resource" in statement:
            kept.append({**statement, "Action": chosen})
    return kept


def enforce_iam(endpoint: str, free_requests: str) -> None:
    """moto checks every request against IAM after ``free_requests`` requests ('inf': never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=free_requests.encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def default_role(aws_harness, tmp_path_factory) -> Iterator[tuple[SetupReport, str]]:
    """The set-up as a notebook's default execution role, in a fresh moto account."""
    aws_harness.reset()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "DR_AWS_BUCKET", "DR_AWS_ROLE_ARN", "DR_IMAGE_URI"):
            patch.delenv(name, raising=False)
        for name in ("DR_JOB_MODE", "DR_IMAGE_MODE", "DR_INSTANCE_TYPE"):
            patch.delenv(name, raising=False)
        for name, value in aws_harness.environment().items():
            patch.setenv(name, value)
        patch.setenv("DR_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
        iam = boto3.client("iam")
        account = boto3.client("sts").get_caller_identity()["Account"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
        role = iam.create_role(
            RoleName=EXECUTION_ROLE,
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps(trust),
        )["Role"]
        policy = {"Version": "2012-10-17", "Statement": sagemaker_full_access_statements()}
        iam.put_role_policy(
            RoleName=EXECUTION_ROLE, PolicyName="full-access", PolicyDocument=json.dumps(policy)
        )
        credentials = boto3.client("sts").assume_role(
            RoleArn=role["Arn"], RoleSessionName="SageMaker"
        )["Credentials"]
        admin = {name: value for name, value in aws_harness.environment().items()}
        patch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
        patch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
        patch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
        enforce_iam(aws_harness.endpoint, "0")
        try:
            report = setup_workshop(printer=lambda _line: None)
        finally:
            enforce_iam(aws_harness.endpoint, "inf")
        for name, value in admin.items():
            patch.setenv(name, value)
        yield report, role["Arn"]
        aws_harness.terminate_all()


def test_setup_succeeds_with_only_the_default_sagemaker_role(default_role) -> None:
    report, role_arn = default_role
    settings = report.settings
    assert settings.bucket.startswith("sagemaker-deepracer-us-east-1-")
    assert settings.role_arn == role_arn and "/service-role/" in role_arn
    assert settings.image_mode == "prebuilt" and settings.job_mode == "one-job"
    assert re.fullmatch(
        r"\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/pytorch-training:2\.8\.0-cpu-py3\d+",
        settings.image_uri,
    )
    text = str(report)
    assert "s3:PutBucketPublicAccessBlock" in text and "tolerated" in text
    assert "denied     iam:" in text
    assert '"Action": "iam:GetRole"' in text or '"Action": "iam:CreateRole"' in text


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

    monkeypatch.setattr("workshop_helpers.backends.aws.require_quotas", refuse)
    backend = AwsBackend(report.settings, printer=aws.printed.append)
    with pytest.raises(Exception, match=r"needs \{'ml.c5.2xlarge': 1\}"):
        backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=300))
    assert backend.training_jobs(experiment) == []
