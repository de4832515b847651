"""When a training's workers must be stopped because another worker ended: the one rule that the
local runner (processes it polls) and the AWS backend (SageMaker jobs it polls) both apply.

* The trainer failed (or was stopped): stop the rollout workers, which would otherwise wait for
  checkpoints until their time limit; the training has failed.
* A rollout worker failed in a way a restart cannot fix (``markov.workers.failure``): stop the
  others; the training has failed for that reason.
* No rollout worker runs any more while the trainer runs and has not finished: stop the trainer,
  which would otherwise wait for episodes until its time limit.

The rule says what to stop and why; each runner words the reason, and decides what to do with
a worker that crashed for a passing reason (the local runner restarts it, AWS does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class StopCause(Enum):
    """Why workers are stopped."""

    TRAINER_FAILED = "the trainer failed or was stopped"
    LASTING_FAILURE = "a rollout worker failed, and a restart would fail the same way"
    NO_ROLLOUT_WORKER_LEFT = "no rollout worker is left to play episodes"


@dataclass(frozen=True)
class WorkerView:
    """What the rule needs to know of one worker (a process or a job)."""

    name: str
    running: bool
    failed: bool = False
    """It ended with an error, or was stopped."""
    lasting_failure: bool = False
    """It failed for a reason a restart cannot fix (bad reward function, bad settings, ...)."""


@dataclass(frozen=True)
class StopDecision:
    """The workers to stop (those still running, by name), why, and which worker caused it."""

    cause: StopCause
    stop: tuple[str, ...]
    culprit: str


def workers_to_stop(
    trainer: WorkerView, rollouts: Sequence[WorkerView], training_finished: bool
) -> StopDecision | None:
    """What to stop now, if anything. A decision may stop nothing (``stop == ()``) when the
    workers it would stop have ended already: the training has failed all the same."""
    running = tuple(worker.name for worker in rollouts if worker.running)
    if trainer.failed:
        return StopDecision(StopCause.TRAINER_FAILED, running, trainer.name)
    lasting = [worker for worker in rollouts if worker.lasting_failure]
    if lasting and (trainer.running or running):
        others = ((trainer.name,) if trainer.running else ()) + running
        return StopDecision(StopCause.LASTING_FAILURE, others, lasting[0].name)
    if trainer.running and rollouts and not running and not training_finished:
        return StopDecision(StopCause.NO_ROLLOUT_WORKER_LEFT, (trainer.name,), trainer.name)
    return None
