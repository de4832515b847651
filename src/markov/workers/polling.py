"""How often workers ask the model store for news and publish live frames, by store type.

On a folder a poll costs nothing, so the workers poll fast. On S3 every poll and every live
frame is a billed request: a LIST or PUT costs 12.5 times a GET, and at the local rates (a LIST
every 0.2 s by the trainer, three PUTs every 0.3 s by each rollout worker) the requests of a
2-worker run would add about a third to its compute cost. So on S3 the trainer backs off while
it waits (from ``poll_s`` up to ``max_poll_s``, back to ``poll_s`` as soon as something
arrives), rollout workers poll for checkpoints every ``wait_poll_s`` and publish live frames
every ``live_frame_s``. Environment variables override each figure:

==================  ===========================================================
``DR_POLL_S``        first wait between the trainer's polls for episodes
``DR_POLL_MAX_S``    longest wait between them (back-off cap)
``DR_WAIT_POLL_S``   wait between a rollout worker's polls for a checkpoint
``DR_LIVE_FRAME_S``  least time between two live-frame publications
==================  ===========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from markov.store import ModelStore

BACKOFF_FACTOR = 1.5


@dataclass(frozen=True)
class PollPlan:
    """The polling and publishing intervals of one store type, in seconds."""

    poll_s: float
    max_poll_s: float
    wait_poll_s: float
    live_frame_s: float


LOCAL_PLAN = PollPlan(poll_s=0.2, max_poll_s=0.2, wait_poll_s=0.5, live_frame_s=0.3)
S3_PLAN = PollPlan(poll_s=1.0, max_poll_s=5.0, wait_poll_s=2.0, live_frame_s=5.0)
OVERRIDES = {
    "poll_s": "DR_POLL_S",
    "max_poll_s": "DR_POLL_MAX_S",
    "wait_poll_s": "DR_WAIT_POLL_S",
    "live_frame_s": "DR_LIVE_FRAME_S",
}


class PollSettingError(ValueError):
    """A polling interval from the environment cannot be used."""


def plan_for_url(url: str, env: Mapping[str, str] = os.environ) -> PollPlan:
    """The plan of a store at ``url`` (S3 for ``s3://...``), with environment overrides."""
    plan = S3_PLAN if url.startswith("s3://") else LOCAL_PLAN
    values: dict[str, float] = {}
    for name, variable in OVERRIDES.items():
        raw = env.get(variable)
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if not value > 0:
            raise PollSettingError(
                f"{variable} is {raw!r}; set it to a number of seconds above 0 (or unset it)."
            )
        values[name] = value
    plan = replace(plan, **values)
    return replace(plan, max_poll_s=max(plan.max_poll_s, plan.poll_s))


def plan_for(store: ModelStore, env: Mapping[str, str] = os.environ) -> PollPlan:
    """The plan of ``store``."""
    return plan_for_url(store.url, env)


class Backoff:
    """Waits that grow by ``BACKOFF_FACTOR`` up to ``max_poll_s`` until something arrives."""

    def __init__(self, plan: PollPlan) -> None:
        self.plan = plan
        self._current = plan.poll_s
        self._seen: object = None

    def next_wait(self, progress: object = None) -> float:
        """The wait before the next poll; a ``progress`` value unlike the last one resets it."""
        if progress != self._seen:
            self._seen = progress
            self._current = self.plan.poll_s
        wait = self._current
        self._current = min(self._current * BACKOFF_FACTOR, self.plan.max_poll_s)
        return wait
