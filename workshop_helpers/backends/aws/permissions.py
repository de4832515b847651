"""What the SageMaker jobs' role must be allowed to do, and whether an existing role can.

The jobs need: S3 on the workshop bucket only, pulling the engine image from ECR, writing
CloudWatch logs and metrics for ``/aws/sagemaker/TrainingJobs``. ``missing_permissions`` asks
IAM's policy simulator first; where that is unavailable (moto does not implement it, and many
users may not call it) it reads the role's own policies and matches their Allow statements.
That reading is conservative: statements with conditions, ``NotAction`` or ``NotResource`` grant
nothing, and any matching Deny counts as missing, so a doubtful role is never reused.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from workshop_helpers.backends.aws.config import partition_of
from workshop_helpers.backends.aws.session import AwsContext

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
SINGLE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class Need:
    """One action on one resource that the jobs need."""

    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def trust_policy() -> dict[str, Any]:
    """Lets SageMaker assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": SAGEMAKER_PRINCIPAL},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def log_group_arn(region: str, account: str) -> str:
    """The ARN pattern of the SageMaker training jobs' log group and streams."""
    return f"arn:{partition_of(region)}:logs:{region}:{account}:log-group:{LOG_GROUP}:*"


def job_policy(bucket: str, region: str, account: str, repository_arn: str | None) -> dict:
    """The least-privilege inline policy of the jobs' role."""
    partition = partition_of(region)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WorkshopBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": f"arn:{partition}:s3:::{bucket}",
        },
        {
            "Sid": "WorkshopObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:{partition}:s3:::{bucket}/*",
        },
        {
            "Sid": "JobLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": log_group_arn(region, account),
        },
        {
            "Sid": "JobMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        },
    ]
    if repository_arn:
        statements += [
            {
                "Sid": "PullEngineImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Resource": repository_arn,
            },
            {
                "Sid": "RegistryLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def job_needs(bucket: str, region: str, account: str, repository_arn: str | None) -> list[Need]:
    """Every (action, resource) of ``job_policy`` without its conditions."""
    needs = []
    for statement in job_policy(bucket, region, account, repository_arn)["Statement"]:
        resource = statement["Resource"]
        if resource.endswith("/*"):
            resource = resource[:-1] + "any-key"
        elif resource.endswith(":*"):
            resource = resource[:-1] + "any-stream"
        needs += [Need(action, resource) for action in _as_list(statement["Action"])]
    return needs


def trusts_sagemaker(trust: dict[str, Any] | str) -> bool:
    """True when a trust policy lets sagemaker.amazonaws.com assume the role."""
    document = _document(trust)
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        services = _as_list(statement.get("Principal", {}).get("Service", []))
        if SAGEMAKER_PRINCIPAL in services and "sts:AssumeRole" in _as_list(statement["Action"]):
            return True
    return False


def missing_permissions(context: AwsContext, role_arn: str, needs: list[Need]) -> list[Need]:
    """The needs that the role does not grant (simulated, else read from its policies)."""
    simulated = _simulate(context, role_arn, needs)
    if simulated is not None:
        return simulated
    statements = role_statements(context, role_arn.rsplit("/", 1)[-1])
    return [need for need in needs if not _granted(statements, need)]


def role_statements(context: AwsContext, role_name: str) -> list[dict[str, Any]]:
    """The statements of the role's inline and attached managed policies that can be read."""
    iam = context.client("iam")
    statements: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        statements += _as_list(_document(document).get("Statement", []))
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    for policy in attached:
        try:
            version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
        except ClientError:
            continue
        statements += _as_list(_document(document["PolicyVersion"]["Document"]).get("Statement"))
    return statements


def _simulate(context: AwsContext, role_arn: str, needs: list[Need]) -> list[Need] | None:
    """Ask IAM's policy simulator; None when it cannot be asked."""
    iam = context.session.client("iam", region_name=context.region, config=SINGLE_ATTEMPT)
    missing: list[Need] = []
    by_resource: dict[str, list[str]] = {}
    for need in needs:
        by_resource.setdefault(need.resource, []).append(need.action)
    try:
        for resource, actions in by_resource.items():
            reply = iam.simulate_principal_policy(
                PolicySourceArn=role_arn, ActionNames=actions, ResourceArns=[resource]
            )
            missing += [
                Need(result["EvalActionName"], resource)
                for result in reply["EvaluationResults"]
                if result["EvalDecision"] != "allowed"
            ]
    except (ClientError, BotoCoreError, ResponseParserError):
        return None
    return missing


def _granted(statements: list[dict[str, Any]], need: Need) -> bool:
    allowed = False
    for statement in statements:
        if not _matches(statement, need):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow" and "Condition" not in statement:
            allowed = True
    return allowed


def _matches(statement: dict[str, Any], need: Need) -> bool:
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    action_ok = any(fnmatch.fnmatchcase(need.action.lower(), a.lower()) for a in actions)
    return action_ok and any(fnmatch.fnmatchcase(need.resource, r) for r in resources)


def _document(document: dict[str, Any] | str) -> dict[str, Any]:
    """A policy document as a dict (IAM may hand it back URL-encoded)."""
    if isinstance(document, dict):
        return document
    return json.loads(unquote(document))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
