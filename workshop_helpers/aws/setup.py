"""One-time AWS set-up: the workshop bucket, the jobs' IAM role and the engine image.

``setup_workshop()`` is safe to run again: it creates only what is missing and reports what it
found. Its result is saved in ``runs/aws.json`` for ``AwsBackend.from_environment()``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from workshop_helpers.aws.config import DEFAULT_INSTANCE_TYPE, AwsSettings, save_settings
from workshop_helpers.aws.image import ImageBuilder, check_image, ensure_image
from workshop_helpers.aws.permissions import (
    job_needs,
    job_policy,
    missing_permissions,
    trust_policy,
    trusts_sagemaker,
)
from workshop_helpers.aws.session import (
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

    def __str__(self) -> str:
        lines = [f"AWS set-up in {self.settings.region}:"]
        lines += [f"  created  {item}" for item in self.created]
        lines += [f"  found    {item}" for item in self.found]
        return "\n".join(lines)


def default_bucket_name(account: str, region: str) -> str:
    """``deepracer-workshop-<account>-<region>``: one bucket per account and region."""
    return f"deepracer-workshop-{account}-{region}"


def role_name(region: str) -> str:
    """The jobs' role of one region (its policy names that region's bucket)."""
    return f"deepracer-workshop-jobs-{region}"


def ensure_bucket(context: AwsContext, bucket: str) -> bool:
    """Create ``bucket`` in the context's region unless this account owns it; True if created."""
    s3 = context.client("s3")
    with explained("s3:ListAllMyBuckets", "list your S3 buckets"):
        owned = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
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
    with explained("s3:PutBucketPublicAccessBlock", f"block public access to {bucket}"):
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
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


def ensure_job_role(
    context: AwsContext, bucket: str, repository_arn: str | None
) -> tuple[str, str]:
    """The dedicated jobs' role, created or brought up to date; its ARN and what happened."""
    iam = context.client("iam")
    name = role_name(context.region)
    policy = job_policy(bucket, context.region, context.account, repository_arn)
    doing = f"create or update the jobs' role {name} (needs {ROLE_PERMISSIONS})"
    with explained("iam:GetRole", doing):
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            role = None
    if role is None:
        with explained("iam:CreateRole", doing):
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_policy()),
                Description="Runs the DeepRacer workshop's SageMaker training jobs",
                Tags=[WORKSHOP_TAG],
            )["Role"]
        outcome = "created"
    elif not trusts_sagemaker(role["AssumeRolePolicyDocument"]):
        with explained("iam:UpdateAssumeRolePolicy", doing):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy()))
        outcome = "updated"
    else:
        outcome = "unchanged" if _current_policy(context, name) == policy else "updated"
    if outcome != "unchanged":
        with explained("iam:PutRolePolicy", doing):
            iam.put_role_policy(
                RoleName=name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps(policy)
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
    """The IAM role behind the caller (a SageMaker notebook's execution role), if any."""
    arn = context.identity()["Arn"]
    if ":assumed-role/" not in arn:
        return None
    name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    with explained("iam:GetRole", f"read your role {name}"):
        return context.client("iam").get_role(RoleName=name)["Role"]


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


def setup_workshop(
    region: str | None = None,
    bucket: str | None = None,
    image_uri: str | None = None,
    *,
    builder: ImageBuilder | None = None,
    env: Mapping[str, str] = os.environ,
    printer: Callable[[str], None] = print,
) -> SetupReport:
    """Create (or find) the bucket, the jobs' role and the image; save ``runs/aws.json``.

    ``bucket`` defaults to DR_AWS_BUCKET or ``deepracer-workshop-<account>-<region>``;
    ``image_uri`` to DR_IMAGE_URI, else the image is built and pushed where Docker runs. A role
    in DR_AWS_ROLE_ARN is used as given; otherwise the notebook's own role is reused when it
    already grants what the jobs need, else a least-privilege role is created.
    """
    context = connect(region)
    created: list[str] = []
    found: list[str] = []
    bucket = (
        bucket or env.get("DR_AWS_BUCKET") or default_bucket_name(context.account, context.region)
    )
    (created if ensure_bucket(context, bucket) else found).append(f"bucket s3://{bucket}")

    image_uri = image_uri or env.get("DR_IMAGE_URI") or ensure_image(context, builder, printer)
    image = check_image(context, image_uri)
    found.append(f"image {image_uri}")

    role_arn = env.get("DR_AWS_ROLE_ARN")
    if role_arn:
        found.append(f"role {role_arn} (from DR_AWS_ROLE_ARN)")
    else:
        role_arn, reason = reusable_caller_role(context, bucket, image.repository_arn)
        if role_arn:
            found.append(f"role {role_arn} ({reason})")
        else:
            role_arn, outcome = ensure_job_role(context, bucket, image.repository_arn)
            updated = "; its policy was updated" if outcome == "updated" else ""
            entry = f"role {role_arn} (the jobs' own role, since {reason}{updated})"
            (created if outcome == "created" else found).append(entry)

    settings = AwsSettings(
        region=context.region,
        bucket=bucket,
        role_arn=role_arn,
        image_uri=image_uri,
        instance_type=env.get("DR_INSTANCE_TYPE") or DEFAULT_INSTANCE_TYPE,
    )
    save_settings(settings)
    return SetupReport(settings, created, found)
