"""Set-up under the default SageMaker execution role, with moto enforcing IAM.

The identity holds only the statements of the ``AmazonSageMakerFullAccess`` managed policy (as
moto ships it) that concern S3, ECR, IAM and STS. moto's enforcement differs from AWS in two ways
that would refuse what AWS allows, so the test corrects them and says so:

* moto authorises an S3 request under its API operation name (``s3:ListBuckets``,
  ``s3:ListObjectsV2``, ...), not the IAM action AWS checks (``s3:ListAllMyBuckets``,
  ``s3:ListBucket``, ...): ``IAM_ACTIONS`` maps them;
* moto treats an Allow statement whose Condition it cannot evaluate as an explicit Deny; AWS
  ignores such a statement (it allows nothing, denies nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import settings as moto_settings
from moto.iam import access_control
from moto.iam.aws_managed_policies import aws_managed_policies_data

from workshop_helpers.backends.aws.setup import setup_workshop

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("requests_fit_the_model")]

SERVICES = ("s3", "ecr", "iam", "sts")
IAM_ACTIONS = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def managed_statements() -> list[dict]:
    """AmazonSageMakerFullAccess's statements, cut to their S3/ECR/IAM/STS actions."""
    document = json.loads(aws_managed_policies_data)["AmazonSageMakerFullAccess"]["Document"]
    kept = []
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]
        ]
        relevant = [action for action in actions if action.split(":")[0] in SERVICES]
        if relevant:
            kept.append({**statement, "Action": relevant})
    return kept


@pytest.fixture
def faithful_moto_iam(monkeypatch) -> None:
    """moto's IAM enforcement with its two differences from AWS corrected (module doc)."""
    check = access_control.IAMRequestBase.check_action_permitted
    evaluate = access_control.IAMPolicyStatement.is_action_permitted

    def check_iam_action(self, resource: str) -> None:
        self._action = IAM_ACTIONS.get(self._action, self._action)
        check(self, resource)

    def ignore_unmet_allow(self, *args, **kwargs):
        result = evaluate(self, *args, **kwargs)
        if (
            result == access_control.PermissionResult.DENIED
            and self._statement.get("Effect") == "Allow"
        ):
            return access_control.PermissionResult.NEUTRAL
        return result

    monkeypatch.setattr(access_control.IAMRequestBase, "check_action_permitted", check_iam_action)
    statement = access_control.IAMPolicyStatement
    monkeypatch.setattr(statement, "is_action_permitted", ignore_unmet_allow)


@pytest.fixture
def notebook_role(aws_harness, monkeypatch, tmp_path) -> Iterator[str]:
    """A SageMaker notebook's execution role holding only those statements, assumed."""
    aws_harness.reset()
    for name in ("AWS_PROFILE", "DR_AWS_BUCKET", "DR_AWS_ROLE_ARN", "DR_IMAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DR_JOB_MODE", "DR_IMAGE_MODE", "DR_INSTANCE_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_harness.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path))
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="AmazonSageMaker-ExecutionRole-20260101T000000",
        AssumeRolePolicyDocument=json.dumps(TRUST),
    )["Role"]
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="AmazonSageMakerFullAccess-S3-ECR-IAM",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": managed_statements()}),
    )
    credentials = boto3.client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="SageMaker"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield role["Arn"]


def test_the_managed_policy_moto_holds_has_the_statements_the_set_up_relies_on() -> None:
    sids = {statement.get("Sid") for statement in managed_statements()}
    assert {"AllowS3BucketActions", "AllowS3ObjectActions", "AllowPassRoleToSageMaker"} <= sids


def test_set_up_succeeds_under_the_default_sagemaker_role(faithful_moto_iam, notebook_role):
    report = setup_workshop(printer=lambda _line: None)
    assert report.settings.role_arn == notebook_role  # no role may be created: its own runs
    assert report.settings.bucket.startswith("sagemaker-")
    assert report.settings.image_mode == "prebuilt"
    denied = {check.action for check in report.access.denied}
    assert denied <= {"iam:GetRole", "iam:CreateRole", "s3:PutBucketPublicAccessBlock"}
    assert "iam:PassRole" in str(report)
    store = boto3.Session().client("s3")  # the notebook role's own credentials
    store.put_object(Bucket=report.settings.bucket, Key="probe/x.txt", Body=b"x")
    assert store.get_object(Bucket=report.settings.bucket, Key="probe/x.txt")["Body"].read()


def test_without_the_corrections_moto_refuses_what_aws_allows(notebook_role) -> None:
    with pytest.raises(Exception, match="ListAllMyBuckets"):
        setup_workshop(printer=lambda _line: None)
