"""Where an experiment's SageMaker jobs stand, and their recent CloudWatch log lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from workshop_helpers.backends.aws.naming import JobName, job_stem, parse_job_name
from workshop_helpers.backends.aws.session import AwsSetupError, error_code, explain

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
STATES = {
    "InProgress": "running",
    "Stopping": "running",
    "Completed": "completed",
    "Failed": "failed",
    "Stopped": "stopped",
    "Deleting": "stopped",
}
"""The notebook's state of each TrainingJobStatus."""
SECONDARY_STATES = {
    "Pending": "starting",
    "Starting": "starting",
    "LaunchingMLInstances": "starting",
    "PreparingTrainingStack": "starting",
    "Downloading": "starting",
    "DownloadingTrainingImage": "starting",
    "Interrupted": "starting",
    "Restarting": "starting",
    "Training": "running",
    "Uploading": "running",
    "Updating": "running",
    "Stopping": "running",
    "Completed": "completed",
    "Failed": "failed",
    "Stopped": "stopped",
    "MaxRuntimeExceeded": "stopped",
    "MaxWaitTimeExceeded": "stopped",
}
"""The notebook's state of each SecondaryStatus while a job is InProgress (a Spot job that was
interrupted waits for capacity, then restarts from its last checkpoint: starting again)."""
SECONDARY_NOTES = {
    "Interrupted": "Spot capacity was reclaimed; the job restarts from its last checkpoint",
    "Restarting": "restarting after a Spot interruption, from the last checkpoint",
    "MaxWaitTimeExceeded": "Spot capacity did not come back within MaxWaitTimeInSeconds",
}
ACTIVE = frozenset({"InProgress", "Stopping"})


@dataclass(frozen=True)
class JobInfo:
    """A job's SageMaker status and the details a notebook shows."""

    job: JobName
    status: str
    secondary: str
    failure_reason: str
    environment: dict[str, str]
    seconds: float | None = None
    """How long the job ran (start to end), once it has ended."""

    @property
    def active(self) -> bool:
        """True while SageMaker may still charge for the job."""
        return self.status in ACTIVE

    @property
    def state(self) -> str:
        """The backend state: starting, running, completed, failed or stopped."""
        if self.status == "InProgress":
            return SECONDARY_STATES.get(self.secondary, "running")
        return STATES.get(self.status, "running")

    @property
    def detail(self) -> str:
        """The secondary status, with what it means where that is not obvious."""
        note = SECONDARY_NOTES.get(self.secondary)
        return f"{self.secondary}: {note}" if note else self.secondary


def describe(sagemaker: Any, job: JobName) -> JobInfo | None:
    """The job's status (None when no such job exists)."""
    try:
        reply = sagemaker.describe_training_job(TrainingJobName=job.name)
    except ClientError as error:
        if error_code(error) in ("ValidationException", "ResourceNotFound"):
            return None
        raise AwsSetupError(
            explain(error, "sagemaker:DescribeTrainingJob", f"look up the job {job.name}")
        ) from None
    started, ended = reply.get("TrainingStartTime"), reply.get("TrainingEndTime")
    return JobInfo(
        job,
        reply["TrainingJobStatus"],
        reply.get("SecondaryStatus", ""),
        reply.get("FailureReason", ""),
        reply.get("Environment", {}),
        (ended - started).total_seconds() if started and ended else None,
    )


def experiment_jobs(sagemaker: Any, experiment_id: str) -> list[JobName]:
    """Every job this experiment has started, found by its deterministic names."""
    found: list[JobName] = []
    try:
        pages = sagemaker.get_paginator("list_training_jobs").paginate(
            NameContains=job_stem(experiment_id)
        )
        for page in pages:
            for summary in page["TrainingJobSummaries"]:
                job = parse_job_name(experiment_id, summary["TrainingJobName"])
                if job is not None:
                    found.append(job)
    except ClientError as error:
        raise AwsSetupError(
            explain(error, "sagemaker:ListTrainingJobs", f"list the jobs of {experiment_id}")
        ) from None
    return sorted(found, key=lambda job: (job.kind, job.attempt, job.index, job.evaluation_id))


def recent_log_lines(logs: Any, job_name: str, lines: int) -> list[str] | None:
    """The last ``lines`` log lines of a job from CloudWatch (None when it has no log yet)."""
    try:
        streams = logs.describe_log_streams(
            logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/"
        )
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise AwsSetupError(
            explain(error, "logs:DescribeLogStreams", f"read the log of {job_name}")
        ) from None
    collected: list[str] = []
    for stream in streams.get("logStreams", []):
        try:
            reply = logs.get_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=stream["logStreamName"],
                limit=lines,
                startFromHead=False,
            )
        except ClientError as error:
            raise AwsSetupError(
                explain(error, "logs:GetLogEvents", f"read the log of {job_name}")
            ) from None
        collected += [event["message"].rstrip("\n") for event in reply["events"]]
    return collected[-lines:] if streams.get("logStreams") else None
