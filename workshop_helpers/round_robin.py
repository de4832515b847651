"""Check that several rollout workers still cover the whole lap with their start positions.

After each training episode a worker moves its start forward by ``ROUND_ROBIN_ADVANCE_DIST`` of
a lap. With ``n`` episodes per iteration split over ``w`` workers, each worker plays about
``n / w`` episodes, so the starts of one iteration cover ``(n / w) * ROUND_ROBIN_ADVANCE_DIST``
laps. DRfC's advice (docs/file-formats.md §9) is to make that exactly 1.0: every part of the track
gets a start in every iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LAP_TOLERANCE = 1e-3
"""How close to 1.0 lap counts as a full lap (an advance such as 1/7 is written rounded)."""
ADVANCE_DECIMALS = 6


@dataclass(frozen=True)
class RoundRobinCheck:
    """The lap coverage of one setting and, when it is not 1.0, a setting that fixes it."""

    num_episodes_between_training: int
    num_workers: int
    round_robin_advance_dist: float
    per_worker: list[int]
    laps_per_iteration: float
    ok: bool
    suggested_episodes: int
    suggested_advance_dist: float

    def __repr__(self) -> str:
        split = ", ".join(str(count) for count in self.per_worker)
        setting = (
            f"{self.num_episodes_between_training} episodes over {self.num_workers} worker(s) "
            f"({split}) x ROUND_ROBIN_ADVANCE_DIST {self.round_robin_advance_dist:g} = "
            f"{self.laps_per_iteration:.3g} lap per worker and iteration"
        )
        if self.ok:
            return f"Round robin OK: {setting}."
        return (
            f"Round robin does not cover the lap exactly: {setting}. "
            f"Fix: num_episodes_between_training={self.suggested_episodes} and "
            f'ROUND_ROBIN_ADVANCE_DIST="{self.suggested_advance_dist:g}".'
        )


def episodes_per_worker(num_episodes: int, num_workers: int) -> list[int]:
    """Episodes each worker plays per iteration: ``floor(n / w)``, plus one for the first
    ``n mod w`` workers (workers beyond ``n`` play none)."""
    _check_count("num_episodes", num_episodes)
    _check_count("num_workers", num_workers)
    share, remainder = divmod(num_episodes, num_workers)
    return [share + (1 if worker < remainder else 0) for worker in range(num_workers)]


def check_round_robin(
    num_episodes_between_training: int, num_workers: int, round_robin_advance_dist: float
) -> RoundRobinCheck:
    """Check ``(episodes / workers) * ROUND_ROBIN_ADVANCE_DIST = 1.0`` and suggest a fix.

    The fix keeps the episode count when the workers share it evenly and changes only the
    advance distance; otherwise it moves the episode count to the nearest multiple of the
    workers (at least one episode each) and gives the matching advance distance.
    """
    _check_count("num_episodes_between_training", num_episodes_between_training)
    _check_count("num_workers", num_workers)
    advance = round_robin_advance_dist
    if isinstance(advance, bool) or not isinstance(advance, int | float) or not 0 < advance <= 1:
        raise ValueError(
            f"round_robin_advance_dist is {advance!r}; it is a fraction of a lap: use a number "
            "in (0, 1], e.g. 0.05"
        )
    laps = num_episodes_between_training / num_workers * advance
    even = num_episodes_between_training % num_workers == 0
    per_worker_episodes = max(round(num_episodes_between_training / num_workers), 1)
    return RoundRobinCheck(
        num_episodes_between_training=num_episodes_between_training,
        num_workers=num_workers,
        round_robin_advance_dist=advance,
        per_worker=episodes_per_worker(num_episodes_between_training, num_workers),
        laps_per_iteration=laps,
        ok=even and math.isclose(laps, 1.0, abs_tol=LAP_TOLERANCE),
        suggested_episodes=per_worker_episodes * num_workers,
        suggested_advance_dist=round(1.0 / per_worker_episodes, ADVANCE_DECIMALS),
    )


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} is {value!r}; use a whole number >= 1")
