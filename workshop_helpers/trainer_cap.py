"""The trainer's cap on steps per iteration, in laps: how many episodes an iteration can use.

The trainer keeps at most ``max_memory_steps`` transitions per iteration (10,000 for the
shallow network, 3,000 for the others; docs/simulator-contract.md §6.5). Episodes are taken in order
and the rest are simulated but skipped, so on a long track the cap, not the number of workers,
bounds the useful ``num_episodes_between_training`` (the episodes of all workers together).
"""

from __future__ import annotations

from dataclasses import dataclass

from markov.environment.dynamics import STEP_S
from markov.presets.preset import max_memory_steps
from markov.tracks import load_track


@dataclass(frozen=True)
class StepCap:
    """How many full-lap episodes of one track fit under the trainer's cap."""

    world_name: str
    track_length_m: float
    speed_mps: float
    steps_per_lap: int
    cap_steps: int

    @property
    def full_lap_episodes(self) -> int:
        """Episodes of one full lap each that one iteration trains on."""
        return self.cap_steps // self.steps_per_lap

    def __repr__(self) -> str:
        return (
            f"{self.world_name}: {self.track_length_m:.1f} m, a lap at {self.speed_mps:g} m/s "
            f"takes {self.steps_per_lap} steps; the trainer keeps {self.cap_steps} steps per "
            f"iteration, so it uses at most {self.full_lap_episodes} full-lap episodes per "
            "iteration, from all workers together"
        )


def step_cap(world_name: str, neural_network: str, speed_mps: float = 1.0) -> StepCap:
    """The cap of ``neural_network`` measured in laps of ``world_name`` at ``speed_mps``."""
    if not speed_mps > 0:
        raise ValueError(f"speed_mps is {speed_mps!r}; use an average speed > 0 in m/s")
    length = load_track(world_name).length
    steps = max(1, round(length / speed_mps / STEP_S))
    return StepCap(world_name, length, speed_mps, steps, max_memory_steps(neural_network))
