"""One-time AWS set-up: the workshop bucket, the jobs' IAM role and the jobs' image.

``setup_workshop()`` is safe to run again: it creates only what is missing and reports what it
found, and which permissions it used (``workshop_helpers.backends.aws.access``). Its result is
saved in ``runs/aws.json`` for ``AwsBackend.from_environment()``.

It works with the default SageMaker execution role (``AmazonSageMakerFullAccess``): the bucket
and the ECR repository are named ``sagemaker-...`` (names that policy covers), a refused
public-access-block call is tolerated (new buckets block public access by default since April
2023), and when no role of the workshop's own can be created, the notebook's own execution role
runs the jobs (that policy lets it pass itself to SageMaker).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from workshop_helpers.backends.aws.access import DENIED, GRANTED, AccessLog
from workshop_helpers.backends.aws.config import (
    DEFAULT_INSTANCE_TYPE,
    ENGINE,
    ONE_JOB,
    AwsSettings,
    partition_of,
    save_settings,
)
from workshop_helpers.backends.aws.image import (
    ImageBuilder,
    check_image,
    ensure_image,
    parse_ecr_uri,
)
from workshop_helpers.backends.aws.images import choose_mode, prebuilt_image_uri
from workshop_helpers.backends.aws.permissions import (
    job_needs,
    job_policy,
    missing_permissions,
    trust_policy,
    trusts_sagemaker,
)
from workshop_helpers.backends.aws.session import (
    DENIED_CODES,
    AwsContext,
    AwsSetupError,
    connect,
    error_code,
    explain,
    explained,
)

ROLE_POLICY_NAME = "deepracer-workshop-jobs"
ROLE_PERMISSIONS = "iam:GetRole, iam:CreateRole, iam:GetRolePolicy and iam:PutRolePolicy"
WORKSHOP_TAG = {"Key": "deepracer-workshop", "Value": "true"}


@dataclass(frozen=True)
class SetupReport:
    """What the set-up found and created, and the settings it saved."""

    settings: AwsSettings
    created: list[str]
    found: list[str]
    access: AccessLog | None = None

    def __str__(self) -> str:
        lines = [f"AWS set-up in {self.settings.region}:"]
        lines += [f"  created  {item}" for item in self.created]
        lines += [f"  found    {item}" for item in self.found]
        lines.append(
            f"  mode     {self.settings.job_mode}, {self.settings.image_mode} image "
            f"{self.settings.image_uri}"
        )
        if self.access is not None and self.access.checks:
            lines.append(str(self.access))
        return "\n".join(lines)


def default_bucket_name(account: str, region: str) -> str:
    """``sagemaker-deepracer-<region>-<account>``: one bucket per account and region, named so
    that the AmazonSageMakerFullAccess policy covers its objects."""
    return f"sagemaker-deepracer-{region}-{account}"


def _denied(error: ClientError) -> bool:
    text = error.response.get("Error", {}).get("Message", "")
    return error_code(error) in DENIED_CODES or "not authorized" in text


def role_name(region: str) -> str:
    """The jobs' role of one region (its policy names that region's bucket)."""
    return f"deepracer-workshop-jobs-{region}"


def ensure_bucket(context: AwsContext, bucket: str, access: AccessLog | None = None) -> bool:
    """Create ``bucket`` in the context's region unless this account owns it; True if created."""
    access = access if access is not None else AccessLog()
    arn = f"arn:{partition_of(context.region)}:s3:::{bucket}"
    s3 = context.client("s3")
    with explained("s3:ListAllMyBuckets", "list your S3 buckets"):
        owned = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    access.record("s3:ListAllMyBuckets", "*", GRANTED)
    if bucket in owned:
        _check_bucket_region(context, bucket)
        return False
    location = (
        {}
        if context.region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": context.region}}
    )
    try:
        s3.create_bucket(Bucket=bucket, **location)
    except ClientError as error:
        code = error_code(error)
        if code == "BucketAlreadyOwnedByYou":
            return False
        if code == "BucketAlreadyExists":
            raise AwsSetupError(
                f"The S3 bucket name {bucket!r} is taken by another AWS account (bucket names "
                "are global). Choose a name of your own: set DR_AWS_BUCKET (e.g. "
                f"{bucket}-2) or pass bucket=... to setup_workshop()."
            ) from None
        if code == "InvalidBucketName":
            raise AwsSetupError(
                f"{bucket!r} is not a valid S3 bucket name: use 3-63 lower-case letters, digits, "
                "dots and dashes."
            ) from None
        raise AwsSetupError(
            explain(error, "s3:CreateBucket", f"create the bucket {bucket}")
        ) from None
    access.record("s3:CreateBucket", arn, GRANTED)
    try:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    except ClientError as error:
        if not _denied(error):
            raise AwsSetupError(
                explain(error, "s3:PutBucketPublicAccessBlock", f"block public access to {bucket}")
            ) from None
        access.record(
            "s3:PutBucketPublicAccessBlock",
            arn,
            DENIED,
            "tolerated: new buckets block public access by default since April 2023",
        )
    else:
        access.record("s3:PutBucketPublicAccessBlock", arn, GRANTED)
    return True


def _check_bucket_region(context: AwsContext, bucket: str) -> None:
    with explained("s3:GetBucketLocation", f"find the region of {bucket}"):
        reply = context.client("s3").get_bucket_location(Bucket=bucket)
    region = reply.get("LocationConstraint") or "us-east-1"
    if region != context.region:
        raise AwsSetupError(
            f"Your bucket {bucket} is in {region} but the workshop runs in {context.region}; "
            f"the jobs need a bucket in their own region. Set AWS_DEFAULT_REGION={region}, or "
            "set DR_AWS_BUCKET to a new name to get a bucket in this region."
        )


class PermissionDenied(AwsSetupError):
    """AWS refused one permission; the access log names it and the statement to add."""


def _call(access: AccessLog, action: str, resource: str, doing: str, call: Callable[[], Any]):
    """Run one IAM call, record whether it was granted, and explain a failure."""
    try:
        result = call()
    except ClientError as error:
        if _denied(error):
            access.record(action, resource, DENIED)
            raise PermissionDenied(explain(error, action, doing)) from None
        raise
    access.record(action, resource, GRANTED)
    return result


def ensure_job_role(
    context: AwsContext,
    bucket: str,
    repository_arn: str | None,
    access: AccessLog | None = None,
) -> tuple[str, str]:
    """The dedicated jobs' role, created or brought up to date; its ARN and what happened."""
    access = access if access is not None else AccessLog()
    iam = context.client("iam")
    name = role_name(context.region)
    arn = f"arn:{partition_of(context.region)}:iam::{context.account}:role/{name}"
    policy = job_policy(bucket, context.region, context.account, repository_arn)
    doing = f"create or update the jobs' role {name} (needs {ROLE_PERMISSIONS})"
    with explained("iam:GetRole", doing):
        try:
            role = _call(access, "iam:GetRole", arn, doing, lambda: iam.get_role(RoleName=name))
            role = role["Role"]
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            role = None
    with explained("iam:CreateRole", doing):
        if role is None:
            role = _call(
                access,
                "iam:CreateRole",
                arn,
                doing,
                lambda: iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust_policy()),
                    Description="Runs the DeepRacer workshop's SageMaker training jobs",
                    Tags=[WORKSHOP_TAG],
                ),
            )["Role"]
            outcome = "created"
        elif not trusts_sagemaker(role["AssumeRolePolicyDocument"]):
            _call(
                access,
                "iam:UpdateAssumeRolePolicy",
                arn,
                doing,
                lambda: iam.update_assume_role_policy(
                    RoleName=name, PolicyDocument=json.dumps(trust_policy())
                ),
            )
            outcome = "updated"
        else:
            outcome = "unchanged" if _current_policy(context, name) == policy else "updated"
        if outcome != "unchanged":
            _call(
                access,
                "iam:PutRolePolicy",
                arn,
                doing,
                lambda: iam.put_role_policy(
                    RoleName=name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps(policy)
                ),
            )
    return role["Arn"], outcome


def _current_policy(context: AwsContext, name: str) -> dict | None:
    try:
        reply = context.client("iam").get_role_policy(RoleName=name, PolicyName=ROLE_POLICY_NAME)
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise AwsSetupError(
            explain(error, "iam:GetRolePolicy", f"read the policy of {name}")
        ) from None
    document = reply["PolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def caller_role(context: AwsContext) -> dict | None:
    """The IAM role behind the caller (a SageMaker notebook's execution role), if any.

    Read with iam:GetRole, else found with iam:ListRoles (which AmazonSageMakerFullAccess
    grants), so the role's real ARN, with its path, is known either way.
    """
    arn = context.identity()["Arn"]
    if ":assumed-role/" not in arn:
        return None
    name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    iam = context.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if not _denied(error):
            raise AwsSetupError(explain(error, "iam:GetRole", f"read your role {name}")) from None
    with explained("iam:ListRoles", f"find your role {name}"):
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"] == name:
                    return role
    return None


def reusable_caller_role(
    context: AwsContext, bucket: str, repository_arn: str | None
) -> tuple[str | None, str]:
    """The caller's role when SageMaker may assume it and it grants what the jobs need.

    Returns the ARN (or None) and a sentence saying why.
    """
    try:
        role = caller_role(context)
    except AwsSetupError as error:
        return None, f"your role could not be inspected: {error}"
    if role is None:
        return None, "you are not signed in through an IAM role"
    name = role["RoleName"]
    if not trusts_sagemaker(role["AssumeRolePolicyDocument"]):
        return None, f"your role {name} does not trust sagemaker.amazonaws.com"
    needs = job_needs(bucket, context.region, context.account, repository_arn)
    try:
        missing = missing_permissions(context, role["Arn"], needs)
    except ClientError as error:
        return None, f"the policies of your role {name} could not be read ({error_code(error)})"
    if missing:
        shown = "; ".join(str(need) for need in missing[:5])
        return None, f"your role {name} lacks {len(missing)} permission(s) the jobs need: {shown}"
    return role["Arn"], f"your role {name} already has every permission the jobs need"


def fallback_caller_role(context: AwsContext) -> str | None:
    """The caller's execution role when SageMaker may assume it (its policies unread)."""
    try:
        role = caller_role(context)
    except AwsSetupError:
        return None
    if role is None or not trusts_sagemaker(role["AssumeRolePolicyDocument"]):
        return None
    return role["Arn"]


def choose_role(
    context: AwsContext,
    bucket: str,
    repository_arn: str | None,
    access: AccessLog,
    created: list[str],
    found: list[str],
) -> str:
    """The jobs' role: the caller's when it verifiably suffices, else the workshop's own, else
    (when no role may be created) the caller's execution role."""
    role_arn, reason = reusable_caller_role(context, bucket, repository_arn)
    if role_arn:
        found.append(f"role {role_arn} ({reason})")
        return role_arn
    try:
        role_arn, outcome = ensure_job_role(context, bucket, repository_arn, access)
    except PermissionDenied as error:
        own = fallback_caller_role(context)
        if own is None:
            raise AwsSetupError(f"{error}\n{access}") from None
        access.record(
            "iam:PassRole",
            own,
            GRANTED,
            "your execution role runs the jobs; AmazonSageMakerFullAccess lets it pass itself "
            "to SageMaker",
        )
        found.append(f"role {own} (your execution role: no role of the workshop's own may be "
                     "created)")
        return own
    updated = "; its policy was updated" if outcome == "updated" else ""
    entry = f"role {role_arn} (the jobs' own role, since {reason}{updated})"
    (created if outcome == "created" else found).append(entry)
    return role_arn


def setup_workshop(
    region: str | None = None,
    bucket: str | None = None,
    image_uri: str | None = None,
    *,
    image_mode: str | None = None,
    builder: ImageBuilder | None = None,
    env: Mapping[str, str] = os.environ,
    printer: Callable[[str], None] = print,
) -> SetupReport:
    """Create (or find) the bucket, the jobs' role and the image; save ``runs/aws.json``.

    ``bucket`` defaults to DR_AWS_BUCKET or ``sagemaker-deepracer-<region>-<account>``.
    ``image_mode`` (or DR_IMAGE_MODE): ``prebuilt`` runs AWS's PyTorch training image (no Docker;
    the default unless ``image_uri`` is an image in your own ECR), ``engine`` the repository's
    Dockerfile, built and pushed where Docker runs. ``image_uri`` (or DR_IMAGE_URI) overrides the
    mode's image. A role in DR_AWS_ROLE_ARN is used as given; otherwise the notebook's own role
    is reused when it grants what the jobs need, else a least-privilege role is created, else
    (no IAM rights, as with AmazonSageMakerFullAccess) the notebook's own role runs the jobs.
    """
    context = connect(region)
    access = AccessLog()
    created: list[str] = []
    found: list[str] = []
    bucket = (
        bucket or env.get("DR_AWS_BUCKET") or default_bucket_name(context.account, context.region)
    )
    (created if ensure_bucket(context, bucket, access) else found).append(f"bucket s3://{bucket}")

    instance_type = env.get("DR_INSTANCE_TYPE") or DEFAULT_INSTANCE_TYPE
    image_uri = image_uri or env.get("DR_IMAGE_URI")
    mode = choose_mode(image_mode or env.get("DR_IMAGE_MODE"), image_uri, context.account)
    if mode == ENGINE:
        image_uri = image_uri or ensure_image(context, builder, printer)
        repository_arn = check_image(context, image_uri).repository_arn
    else:
        image_uri = image_uri or prebuilt_image_uri(context.region, instance_type)
        repository_arn = _prebuilt_repository(context, image_uri)
    found.append(f"image {image_uri}")

    role_arn = env.get("DR_AWS_ROLE_ARN")
    if role_arn:
        found.append(f"role {role_arn} (from DR_AWS_ROLE_ARN)")
    else:
        role_arn = choose_role(context, bucket, repository_arn, access, created, found)

    settings = AwsSettings(
        region=context.region,
        bucket=bucket,
        role_arn=role_arn,
        image_uri=image_uri,
        instance_type=instance_type,
        image_mode=mode,
        job_mode=env.get("DR_JOB_MODE") or ONE_JOB,
        rollout_instance_type=env.get("DR_ROLLOUT_INSTANCE_TYPE", ""),
    )
    save_settings(settings)
    return SetupReport(settings, created, found, access)


def _prebuilt_repository(context: AwsContext, uri: str) -> str | None:
    """The ECR repository ARN of a prebuilt image, checked to be in the jobs' region."""
    image = parse_ecr_uri(uri)
    if image is None:
        raise AwsSetupError(
            f"The image {uri!r} is not in Amazon ECR; SageMaker jobs pull their image from ECR. "
            "Unset DR_IMAGE_URI to use AWS's PyTorch training image of your region."
        )
    if image.region != context.region:
        raise AwsSetupError(
            f"The image {uri} is in {image.region} but the jobs run in {context.region}; use the "
            f"PyTorch training image of {context.region} (unset DR_IMAGE_URI)."
        )
    return image.repository_arn
