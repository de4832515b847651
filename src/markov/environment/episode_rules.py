"""Progress and the reset rules of one episode (docs/simulator-contract.md §2.4 and §6.3)."""

from __future__ import annotations

import math

from markov.environment.episode_status import EpisodeStatus

IMMOBILIZED_DISTANCE_M = 0.0003
IMMOBILIZED_STEPS = 15


def compute_progress(current_ndist: float, start_ndist: float, prev_progress: float) -> float:
    """Percent of the lap since the start, with the ±50 wrap guards of the simapp."""
    progress = 100.0 * (current_ndist - start_ndist)
    if progress <= 0.0:
        progress += 100.0
    if prev_progress > progress + 50.0:
        progress += 100.0
    if progress > prev_progress + 50.0:
        progress -= 100.0
    return min(progress, 100.0)


class ResetRules:
    """Counters behind the reversed and immobilized rules; evaluates every rule each RUN step."""

    def __init__(self, reverse_count_limit: int = 15) -> None:
        self.reverse_count_limit = reverse_count_limit
        self.reverse_steps = 0
        self.immobile_steps = 0

    def clear(self) -> None:
        """Forget the history (new episode or respawn)."""
        self.reverse_steps = 0
        self.immobile_steps = 0

    def evaluate(
        self,
        *,
        progress: float,
        prev_progress: float,
        off_track: bool,
        crashed: bool,
        moved_m: float,
    ) -> EpisodeStatus:
        """This step's status; lap_complete > crashed > off_track > reversed > immobilized."""
        self.reverse_steps = self.reverse_steps + 1 if progress < prev_progress else 0
        self.immobile_steps = self.immobile_steps + 1 if moved_m <= IMMOBILIZED_DISTANCE_M else 0
        if progress >= 100.0:
            return EpisodeStatus.LAP_COMPLETE
        if crashed:
            return EpisodeStatus.CRASHED
        if off_track:
            return EpisodeStatus.OFF_TRACK
        if self.reverse_steps >= self.reverse_count_limit:
            return EpisodeStatus.REVERSED
        if self.immobile_steps >= IMMOBILIZED_STEPS:
            return EpisodeStatus.IMMOBILIZED
        return EpisodeStatus.IN_PROGRESS


def distance_moved(x0: float, y0: float, x1: float, y1: float) -> float:
    """Displacement of the car origin between two consecutive steps."""
    return math.hypot(x1 - x0, y1 - y0)
