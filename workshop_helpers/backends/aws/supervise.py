"""The training's stop rule (``markov.runners.stop_rule``, the one the local runner applies) for
SageMaker jobs, which run on separate instances and cannot watch each other: the AWS backend
applies it each time a notebook asks for the jobs' state, and stops what it says.

A rollout job that dies is not replaced (a new job needs minutes to start); the trainer goes on
with the other workers once ``ROLLOUT_TIMEOUT_S`` has passed, as it does locally. A rollout job
that failed for a reason a restart cannot fix (its FailureReason says so; see
``markov.runners.failure_report``) ends the training at once, with that reason, as it does locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from markov.runners.failure_report import is_deterministic_reason
from markov.runners.stop_rule import StopCause, WorkerView, workers_to_stop
from workshop_helpers.backends.aws.status import JobInfo

FAILED_STATUSES = ("Failed", "Stopped")


@dataclass(frozen=True)
class Decision:
    """Jobs to stop, and why."""

    stop: list[JobInfo]
    reason: str


def decide(trainer: JobInfo, rollouts: list[JobInfo], training_finished: bool) -> Decision | None:
    """What to stop now, if anything (``training_finished``: the trainer wrote ``.finished``)."""
    decision = workers_to_stop(
        WorkerView(trainer.job.name, trainer.active, trainer.status in FAILED_STATUSES),
        [
            WorkerView(
                job.job.name,
                job.active,
                bool(job.failure_reason),
                is_deterministic_reason(job.failure_reason),
            )
            for job in rollouts
        ],
        training_finished,
    )
    if decision is None or not decision.stop:
        return None
    jobs = {job.job.name: job for job in [trainer, *rollouts]}
    stop = [jobs[name] for name in decision.stop]
    if decision.cause is StopCause.TRAINER_FAILED:
        return Decision(stop, f"the trainer is {trainer.status.lower()}")
    if decision.cause is StopCause.LASTING_FAILURE:
        return Decision(stop, jobs[decision.culprit].failure_reason)
    failed = [job for job in rollouts if job.failure_reason]
    cause = f" ({failed[-1].failure_reason})" if failed else ""
    return Decision(stop, f"no rollout worker is left to play episodes{cause}")
