"""The local runner's rules for jobs that cannot watch each other, applied when polled.

On one machine ``markov.runners.local`` stops every worker when the trainer fails, and fails
the run when every rollout worker has gone while the trainer still waits for episodes. SageMaker
jobs run on separate instances, so the AWS backend applies the same rules each time a notebook
asks for the jobs' state:

* the trainer failed or was stopped, and rollout jobs still run: stop them (they would wait for
  checkpoints until their MaxRuntimeInSeconds);
* no rollout job runs any more and the trainer has not written ``.finished``: stop the trainer
  (it would wait for episodes until its time limit).

A rollout job that dies is not replaced (a new job needs minutes to start); the trainer goes on
with the other workers once ``ROLLOUT_TIMEOUT_S`` has passed, as it does locally. A rollout job
that failed for a reason a restart cannot fix (its FailureReason says so; see
``markov.runners.failure_report``) ends the training at once, with that reason, as it does locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from markov.runners.failure_report import is_deterministic_reason
from workshop_helpers.backends.aws.status import JobInfo


@dataclass(frozen=True)
class Decision:
    """Jobs to stop, and why."""

    stop: list[JobInfo]
    reason: str


def decide(trainer: JobInfo, rollouts: list[JobInfo], training_finished: bool) -> Decision | None:
    """What to stop now, if anything."""
    running = [job for job in rollouts if job.active]
    if trainer.status in ("Failed", "Stopped") and running:
        return Decision(running, f"the trainer is {trainer.status.lower()}")
    hopeless = [job for job in rollouts if is_deterministic_reason(job.failure_reason)]
    if hopeless and (trainer.active or running):
        others = [job for job in [trainer, *running] if job.active]
        return Decision(others, hopeless[0].failure_reason)
    if trainer.active and rollouts and not running and not training_finished:
        failed = [job for job in rollouts if job.failure_reason]
        cause = f" ({failed[-1].failure_reason})" if failed else ""
        return Decision([trainer], f"no rollout worker is left to play episodes{cause}")
    return None
