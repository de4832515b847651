"""The AWS settings of the workshop: region, bucket, job role, image and instance type.

``setup_workshop()`` saves them in ``runs/aws.json``; environment variables override the file:

=======================  ================================================================
``AWS_DEFAULT_REGION``   the region (``AWS_REGION`` is read too)
``DR_AWS_BUCKET``        the S3 bucket that holds every experiment's prefix
``DR_AWS_ROLE_ARN``      the IAM role the SageMaker jobs run as
``DR_IMAGE_MODE``        ``prebuilt`` (default: AWS's PyTorch CPU training image runs the
                         experiment's bundle, no Docker needed) or ``engine`` (the
                         repository's Dockerfile, built and pushed to ECR)
``DR_IMAGE_URI``         the jobs' image, overriding the mode's default
``DR_JOB_MODE``          ``one-job`` (default: trainer and rollout workers share one job)
                         or ``multi-job`` (a trainer job and one job per rollout worker)
``DR_INSTANCE_TYPE``     the jobs' instance type (default ``ml.c5.2xlarge``)
``DR_ROLLOUT_INSTANCE_TYPE``  the rollout jobs' instance type in multi-job mode (default:
                         ``DR_INSTANCE_TYPE``)
``DR_USE_SPOT``          ``true`` for Managed Spot training (cheaper; may be interrupted and
                         resumes from the last checkpoint)
``DR_MAX_RUNTIME_S``     MaxRuntimeInSeconds of every job (default: the training budget +
                         a start-up margin)
=======================  ================================================================
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import boto3

from workshop_helpers.backends.aws.session import AwsSetupError
from workshop_helpers.paths import runs_dir

SETTINGS_FILE = "aws.json"
DEFAULT_INSTANCE_TYPE = "ml.c5.2xlarge"
PREBUILT = "prebuilt"
ENGINE = "engine"
IMAGE_MODES = (PREBUILT, ENGINE)
ONE_JOB = "one-job"
MULTI_JOB = "multi-job"
JOB_MODES = (ONE_JOB, MULTI_JOB)
SETUP_HINT = (
    "run the AWS set-up cell of notebook 00 "
    "(workshop_helpers.backends.aws.setup.setup_workshop()) or "
    "set the environment variables DR_AWS_BUCKET, DR_AWS_ROLE_ARN and DR_IMAGE_URI"
)
ENVIRONMENT = {
    "bucket": "DR_AWS_BUCKET",
    "role_arn": "DR_AWS_ROLE_ARN",
    "image_uri": "DR_IMAGE_URI",
    "instance_type": "DR_INSTANCE_TYPE",
    "image_mode": "DR_IMAGE_MODE",
    "job_mode": "DR_JOB_MODE",
    "rollout_instance_type": "DR_ROLLOUT_INSTANCE_TYPE",
}


@dataclass(frozen=True)
class AwsSettings:
    """Where and how the workshop's SageMaker jobs run."""

    region: str
    bucket: str
    role_arn: str
    image_uri: str
    instance_type: str = DEFAULT_INSTANCE_TYPE
    max_runtime_s: int | None = None
    image_mode: str = PREBUILT
    job_mode: str = ONE_JOB
    rollout_instance_type: str = ""
    use_spot: bool = False

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("image_mode (DR_IMAGE_MODE)", self.image_mode, IMAGE_MODES),
            ("job_mode (DR_JOB_MODE)", self.job_mode, JOB_MODES),
        ):
            if value not in choices:
                raise AwsSetupError(f"{name} is {value!r}; use one of {', '.join(choices)}.")

    @property
    def store_url(self) -> str:
        """The experiments' model store, ``s3://<bucket>``."""
        return f"s3://{self.bucket}"

    @property
    def rollout_instance(self) -> str:
        """The rollout jobs' instance type (multi-job mode)."""
        return self.rollout_instance_type or self.instance_type

    @property
    def partition(self) -> str:
        """The ARN partition of the region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
        return partition_of(self.region)


def partition_of(region: str) -> str:
    """The ARN partition a region belongs to, from botocore's endpoint data (no network)."""
    return boto3.Session().get_partition_for_region(region)


def settings_path() -> Path:
    """``runs/aws.json``."""
    return runs_dir() / SETTINGS_FILE


def save_settings(settings: AwsSettings) -> Path:
    """Write the settings to ``runs/aws.json`` (no credentials are in them)."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    return path


def saved_values() -> dict[str, object]:
    """The values in ``runs/aws.json`` (empty when there is no such file)."""
    path = settings_path()
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AwsSetupError(
            f"{path} is not valid JSON ({error}); delete it and {SETUP_HINT}."
        ) from None
    names = {field.name for field in fields(AwsSettings)}
    return {key: value for key, value in values.items() if key in names}


def load_settings(env: Mapping[str, str] = os.environ) -> AwsSettings:
    """The settings from ``runs/aws.json`` with the environment variables on top."""
    values = saved_values()
    for name, variable in ENVIRONMENT.items():
        if env.get(variable):
            values[name] = env[variable]
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    if region:
        values["region"] = region
    if env.get("DR_MAX_RUNTIME_S"):
        values["max_runtime_s"] = _runtime(env["DR_MAX_RUNTIME_S"])
    if env.get("DR_USE_SPOT"):
        values["use_spot"] = _flag("DR_USE_SPOT", env["DR_USE_SPOT"])
    missing = [
        name for name in ("region", "bucket", "role_arn", "image_uri") if not values.get(name)
    ]
    if missing:
        raise AwsSetupError(
            f"The AWS backend is not set up ({', '.join(missing)} unknown): {SETUP_HINT}."
        )
    settings = AwsSettings(**values)  # type: ignore[arg-type]
    return replace(settings, instance_type=settings.instance_type or DEFAULT_INSTANCE_TYPE)


def workshop_store_url(env: Mapping[str, str] = os.environ) -> str:
    """``s3://<bucket>`` for new AWS experiments, from DR_AWS_BUCKET or ``runs/aws.json``."""
    bucket = env.get("DR_AWS_BUCKET") or saved_values().get("bucket")
    if not bucket:
        raise AwsSetupError(f"No workshop bucket is known yet: {SETUP_HINT}.")
    return f"s3://{bucket}"


def _flag(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise AwsSetupError(f"{name} is {raw!r}; set it to true or false.")


def _runtime(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 60:
        raise AwsSetupError(
            f"DR_MAX_RUNTIME_S is {raw!r}; set it to a whole number of seconds, at least 60."
        )
    return value
