"""Stop an experiment's jobs and, on request, delete what the workshop created in AWS.

Nothing is deleted unless asked for. Each step is tried even when an earlier one failed; the
report lists what was done and what could not be done (with AWS's reason), so a learner can
finish by hand in the console.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from workshop_helpers.backends.aws.config import AwsSettings
from workshop_helpers.backends.aws.image import REPOSITORY
from workshop_helpers.backends.aws.session import AwsContext, AwsSetupError, error_code
from workshop_helpers.backends.aws.setup import role_name
from workshop_helpers.backends.aws.status import describe, experiment_jobs
from workshop_helpers.experiment import Experiment

DATA_CHOICES = (None, "experiments", "all")
STOP_WAIT_S = 600.0
"""How long clean-up waits for stopped jobs to end before it deletes their data."""
POLL_S = 2.0


@dataclass
class CleanupReport:
    """What was cleaned up, and what could not be."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attempt(self, description: str, action: Callable[[], object]) -> None:
        """Run one step and record its outcome."""
        try:
            action()
        except (ClientError, BotoCoreError, AwsSetupError) as error:
            code = error_code(error) if isinstance(error, ClientError) else ""
            self.failed.append(f"{description}: {code or type(error).__name__}: {error}")
        else:
            self.done.append(description)

    def __str__(self) -> str:
        lines = [f"  done        {item}" for item in self.done]
        lines += [f"  NOT DONE    {item}" for item in self.failed]
        return "\n".join(["Clean-up:", *lines]) if lines else "Clean-up: nothing to do."


def stop_experiment_jobs(context: AwsContext, experiment_id: str, report: CleanupReport) -> None:
    """Stop every job of the experiment that is still running."""
    sagemaker = context.client("sagemaker")
    for job in experiment_jobs(sagemaker, experiment_id):
        info = describe(sagemaker, job)
        if info is not None and info.status == "InProgress":
            report.attempt(
                f"stop job {job.name}",
                lambda job=job: sagemaker.stop_training_job(TrainingJobName=job.name),
            )


def active_jobs(context: AwsContext, experiment_ids: Iterable[str]) -> list[str]:
    """Names of the experiments' jobs that are still running or stopping."""
    sagemaker = context.client("sagemaker")
    names = []
    for experiment_id in experiment_ids:
        for job in experiment_jobs(sagemaker, experiment_id):
            info = describe(sagemaker, job)
            if info is not None and info.active:
                names.append(job.name)
    return names


def wait_for_jobs_to_end(
    context: AwsContext, experiment_ids: list[str], timeout_s: float = STOP_WAIT_S
) -> list[str]:
    """Wait until the experiments' jobs have ended; returns those still active at the end."""
    deadline = time.monotonic() + timeout_s
    while True:
        active = active_jobs(context, experiment_ids)
        if not active or time.monotonic() >= deadline:
            return active
        time.sleep(POLL_S)


def delete_prefix(context: AwsContext, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix/``; returns how many."""
    return _delete_objects(context, bucket, f"{prefix.strip('/')}/")


def delete_bucket(context: AwsContext, bucket: str) -> int:
    """Delete every object of the bucket and the bucket; returns how many objects."""
    count = _delete_objects(context, bucket, "")
    context.client("s3").delete_bucket(Bucket=bucket)
    return count


def _delete_objects(context: AwsContext, bucket: str, prefix: str) -> int:
    s3 = context.client("s3")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            errors = reply.get("Errors", [])
            if errors:
                first = errors[0]
                raise AwsSetupError(
                    f"{len(errors)} object(s) were not deleted, e.g. {first['Key']}: "
                    f"{first.get('Code')} {first.get('Message', '')}"
                )
            count += len(keys)
    return count


def delete_job_role(context: AwsContext) -> None:
    """Delete the workshop's own jobs' role with its policies."""
    iam = context.client("iam")
    name = role_name(context.region)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=name)


def stop_jobs_and_delete(
    context: AwsContext,
    settings: AwsSettings,
    experiments: Iterable[Experiment] = (),
    *,
    delete_data: str | None = None,
    delete_role: bool = False,
    delete_repository: bool = False,
) -> CleanupReport:
    """Stop the experiments' jobs; optionally delete their data, the role and the image.

    Data is deleted only once the stopped jobs have ended (at most ``STOP_WAIT_S``).

    ``delete_data``: None keeps S3 as it is, ``"experiments"`` deletes the given experiments'
    prefixes, ``"all"`` deletes every object of the workshop bucket and the bucket itself.
    ``delete_role`` deletes only the role the set-up created, never a role of your own.
    ``delete_repository`` deletes the ECR repository of the engine image with its images.
    """
    if delete_data not in DATA_CHOICES:
        raise ValueError(f"delete_data is {delete_data!r}; use None, 'experiments' or 'all'")
    report = CleanupReport()
    chosen = list(experiments)
    for experiment in chosen:
        report.attempt(
            f"stop the jobs of {experiment.id}",
            lambda experiment=experiment: stop_experiment_jobs(context, experiment.id, report),
        )
    bucket = settings.bucket
    if delete_data is not None:
        still = wait_for_jobs_to_end(context, [experiment.id for experiment in chosen])
        if still:
            report.failed.append(
                f"delete data: skipped, {', '.join(still)} still stopping (they could write "
                "again); run the clean-up again in a few minutes"
            )
            delete_data = None
    if delete_data == "experiments":
        for experiment in chosen:
            report.attempt(
                f"delete s3://{bucket}/{experiment.prefix}/",
                lambda experiment=experiment: delete_prefix(context, bucket, experiment.prefix),
            )
    elif delete_data == "all":
        report.attempt(f"delete the bucket s3://{bucket}", lambda: delete_bucket(context, bucket))
    if delete_role:
        own = role_name(context.region)
        if settings.role_arn.rsplit("/", 1)[-1] == own:
            report.attempt(f"delete the role {own}", lambda: delete_job_role(context))
        else:
            report.failed.append(
                f"delete the role {settings.role_arn}: kept, the workshop did not create it"
            )
    if delete_repository:
        report.attempt(
            f"delete the ECR repository {REPOSITORY}",
            lambda: context.client("ecr").delete_repository(repositoryName=REPOSITORY, force=True),
        )
    return report
