"""Deterministic SageMaker job names, tags and console links for an experiment's jobs.

A job's name is derived from the experiment id and its role, so a re-run finds the jobs it
started before instead of starting them again:

* ``<stem>-trainer`` and ``<stem>-rollout-<i>`` for the first training attempt, then
  ``<stem>-trainer-a<n>`` / ``<stem>-rollout-<i>-a<n>`` for attempt n (a restart after a failed
  or stopped training; SageMaker never reuses a job name);
* ``<stem>-eval-<evaluation id>`` for an evaluation.

``<stem>`` is the experiment id, shortened with a hash when needed to keep names within
SageMaker's 63 characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_STEM = 36
EXPERIMENT_TAG = "deepracer-workshop:experiment"
ROLE_TAG = "deepracer-workshop:role"
TRAINER = "trainer"
ROLLOUT = "rollout"
EVALUATION = "evaluation"

_SUFFIX = re.compile(r"(?:(?P<trainer>trainer)|rollout-(?P<index>\d+))(?:-a(?P<attempt>\d+))?")
_EVALUATION_ID = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,19}")


@dataclass(frozen=True)
class JobName:
    """What a job name says: the job's kind, its rollout index, attempt or evaluation id."""

    name: str
    kind: str
    index: int = 0
    attempt: int = 1
    evaluation_id: str = ""

    @property
    def label(self) -> str:
        """The name notebooks use: ``trainer``, ``rollout-<i>`` or ``evaluation-<id>``."""
        if self.kind == TRAINER:
            return TRAINER
        if self.kind == ROLLOUT:
            return f"{ROLLOUT}-{self.index}"
        return f"{EVALUATION}-{self.evaluation_id}"


def job_stem(experiment_id: str) -> str:
    """The experiment id, or a shortened id plus a hash of it when it is long."""
    if len(experiment_id) <= MAX_STEM:
        return experiment_id
    digest = hashlib.sha256(experiment_id.encode()).hexdigest()[:8]
    return f"{experiment_id[: MAX_STEM - 9].rstrip('-')}-{digest}"


def _attempt_suffix(attempt: int) -> str:
    return "" if attempt == 1 else f"-a{attempt}"


def trainer_job(experiment_id: str, attempt: int = 1) -> JobName:
    """The trainer's job of one training attempt."""
    name = f"{job_stem(experiment_id)}-{TRAINER}{_attempt_suffix(attempt)}"
    return JobName(name, TRAINER, attempt=attempt)


def rollout_job(experiment_id: str, index: int, attempt: int = 1) -> JobName:
    """Rollout worker ``index``'s job of one training attempt."""
    name = f"{job_stem(experiment_id)}-{ROLLOUT}-{index}{_attempt_suffix(attempt)}"
    return JobName(name, ROLLOUT, index=index, attempt=attempt)


def evaluation_job(experiment_id: str, evaluation_id: str) -> JobName:
    """The job of one evaluation; ids are letters, digits and single dashes (at most 20)."""
    if not _EVALUATION_ID.fullmatch(evaluation_id):
        raise ValueError(
            f"evaluation id {evaluation_id!r} cannot be part of a SageMaker job name; use at "
            "most 20 letters, digits and single dashes (or leave it empty for a time stamp)"
        )
    name = f"{job_stem(experiment_id)}-eval-{evaluation_id}"
    return JobName(name, EVALUATION, evaluation_id=evaluation_id)


def parse_job_name(experiment_id: str, name: str) -> JobName | None:
    """What ``name`` says about a job of this experiment (None for any other job)."""
    head = f"{job_stem(experiment_id)}-"
    if not name.startswith(head):
        return None
    suffix = name[len(head) :]
    if suffix.startswith("eval-") and _EVALUATION_ID.fullmatch(suffix[5:]):
        return JobName(name, EVALUATION, evaluation_id=suffix[5:])
    match = _SUFFIX.fullmatch(suffix)
    if match is None:
        return None
    attempt = int(match["attempt"] or 1)
    if match["trainer"]:
        return JobName(name, TRAINER, attempt=attempt)
    return JobName(name, ROLLOUT, index=int(match["index"]), attempt=attempt)


def tags(experiment_id: str, job: JobName) -> list[dict[str, str]]:
    """The tags every job carries: the experiment id and the job's role."""
    return [
        {"Key": EXPERIMENT_TAG, "Value": experiment_id},
        {"Key": ROLE_TAG, "Value": job.label},
    ]


def console_link(region: str, name: str) -> str:
    """The job's page in the SageMaker console."""
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{name}"
