"""The DeepRacer simulator: track geometry, car dynamics, reward params, rules and sensors.

``DeepRacerRacetrackEnv`` is also registered with Gymnasium as ``"DeepRacer-v0"``. The env class
is imported on first use, so the small pure modules (``dynamics``, ``action_space``, ...) import
without pulling in the renderer.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["DeepRacerRacetrackEnv"]

if "DeepRacer-v0" not in gym.registry:
    gym.register(
        id="DeepRacer-v0",
        entry_point="markov.environment.deepracer_racetrack_env:DeepRacerRacetrackEnv",
    )


def __getattr__(name: str) -> Any:
    if name == "DeepRacerRacetrackEnv":
        from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv

        return DeepRacerRacetrackEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
