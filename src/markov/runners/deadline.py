"""One wall-clock deadline shared by every job of a training.

Jobs on separate instances start minutes apart, so a time limit counted from each job's own
start would let a late trainer outlive its rollout workers, or be stopped before it exports.
The backend therefore gives every job the same absolute deadline (``DR_DEADLINE_EPOCH``, Unix
seconds) and each job turns it into its own limits when it starts:

* ``MAX_TRAINING_TIME_S`` (the trainer's budget, counted from its start) becomes at most the
  time left before the deadline minus ``EXPORT_MARGIN_S``, so the last iteration and the final
  export end before the deadline whatever the trainer's start time;
* ``READY_TIMEOUT_S`` (how long a rollout worker waits for the first checkpoint) never reaches
  past the deadline.

SageMaker's MaxRuntimeInSeconds is the deadline plus a margin, a backstop only.
"""

from __future__ import annotations

from collections.abc import MutableMapping

DEADLINE_VARIABLE = "DR_DEADLINE_EPOCH"
EXPORT_MARGIN_S = 180.0
"""Kept free before the deadline: one more policy update plus the final export and upload."""
MIN_TRAINING_S = 1.0


class DeadlineError(ValueError):
    """DR_DEADLINE_EPOCH is not a number."""


def deadline_of(env: MutableMapping[str, str]) -> float | None:
    """The shared deadline (Unix seconds), or None when the job has none."""
    raw = env.get(DEADLINE_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise DeadlineError(
            f"{DEADLINE_VARIABLE} is {raw!r}; it must be a Unix time in seconds."
        ) from None


def apply_deadline(env: MutableMapping[str, str], now: float) -> float | None:
    """Cap the job's own limits to the shared deadline; returns the seconds left, or None."""
    deadline = deadline_of(env)
    if deadline is None:
        return None
    left = deadline - now
    training = max(left - EXPORT_MARGIN_S, MIN_TRAINING_S)
    configured = env.get("MAX_TRAINING_TIME_S", "").strip()
    if configured:
        training = min(training, float(configured))
    env["MAX_TRAINING_TIME_S"] = f"{training:.0f}"
    ready = env.get("READY_TIMEOUT_S", "").strip()
    if ready:
        env["READY_TIMEOUT_S"] = f"{max(min(float(ready), left), MIN_TRAINING_S):.0f}"
    return left
