"""Discrete and continuous DeepRacer action spaces (docs/simulator-contract.md §4).

An action space turns a policy action into the commanded (unclipped) steering angle in
degrees and speed in m/s. Those commanded values go into the reward params and simtraces;
the physical clip to ±30° and 0.1–4.0 m/s happens later, in `dynamics.clip_physical_command`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

TRAINING_ALGORITHMS = ("clipped_ppo", "sac")


def _finite_float(value: Any, what: str) -> float:
    """Convert `value` to a finite float or raise a ValueError that names `what`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class DiscreteActionSpace:
    """A fixed list of (steering degrees, speed m/s) actions chosen by index."""

    actions: tuple[tuple[float, float], ...]
    gym_space: spaces.Discrete = field(init=False, repr=False, compare=False)

    def __init__(self, actions: Sequence[tuple[float, float]]) -> None:
        if len(actions) == 0:
            raise ValueError(
                "a discrete action space needs at least one (steering_angle, speed) action; "
                "got an empty list"
            )
        normalised = []
        for index, action in enumerate(actions):
            if len(action) != 2:
                raise ValueError(
                    f"action {index} must be a (steering_angle, speed) pair, got {action!r}"
                )
            steering, speed = action
            normalised.append(
                (
                    _finite_float(steering, f"action {index} steering_angle"),
                    _finite_float(speed, f"action {index} speed"),
                )
            )
        object.__setattr__(self, "actions", tuple(normalised))
        object.__setattr__(self, "gym_space", spaces.Discrete(len(normalised)))

    @property
    def is_discrete(self) -> bool:
        """Always True: the policy picks an index."""
        return True

    @property
    def size(self) -> int:
        """Number of actions, the width of the policy's categorical head."""
        return len(self.actions)

    @property
    def default_action(self) -> int:
        """Index of the first straight (steering 0) action, else 0, as in the simapp."""
        for index, (steering, _speed) in enumerate(self.actions):
            if steering == 0.0:
                return index
        return 0

    def _index(self, action: Any) -> int:
        """Validate a policy action and return it as a plain int index."""
        try:
            index = int(action)
        except (TypeError, ValueError):
            index = -1
        if index != action or not 0 <= index < len(self.actions):
            raise ValueError(
                f"discrete action must be an integer index in 0..{len(self.actions) - 1}, "
                f"got {action!r}"
            )
        return index

    def command(self, action: Any) -> tuple[float, float]:
        """Return the commanded (steering degrees, speed m/s) of an action index."""
        return self.actions[self._index(action)]

    def simtrace_action(self, action: Any) -> int:
        """Return the simtrace `action` column: the index."""
        return self._index(action)

    def describe(self) -> list[dict[str, Any]]:
        """One row per action (index, steering_angle, speed) for tables and widgets."""
        return [
            {"index": index, "steering_angle": steering, "speed": speed}
            for index, (steering, speed) in enumerate(self.actions)
        ]


@dataclass(frozen=True)
class ContinuousActionSpace:
    """A steering x speed box; PPO acts in [-1, 1]^2, SAC directly in the box.

    Actions are ordered [steering, speed], as in the simapp.
    """

    steering_low: float
    steering_high: float
    speed_low: float
    speed_high: float
    algorithm: str = "clipped_ppo"
    gym_space: spaces.Box = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.algorithm not in TRAINING_ALGORITHMS:
            raise ValueError(
                f"algorithm must be one of {', '.join(TRAINING_ALGORITHMS)}, got {self.algorithm!r}"
            )
        for name in ("steering_low", "steering_high", "speed_low", "speed_high"):
            object.__setattr__(self, name, _finite_float(getattr(self, name), name))
        for quantity in ("steering", "speed"):
            low, high = getattr(self, f"{quantity}_low"), getattr(self, f"{quantity}_high")
            if low > high:
                raise ValueError(
                    f"{quantity}_low ({low}) is greater than {quantity}_high ({high}); "
                    "swap the two bounds"
                )
        if self.algorithm == "sac":
            space = spaces.Box(
                low=np.array([self.steering_low, self.speed_low], dtype=np.float32),
                high=np.array([self.steering_high, self.speed_high], dtype=np.float32),
                dtype=np.float32,
            )
        else:
            space = spaces.Box(low=-1.0, high=1.0, shape=(2,), dtype=np.float32)
        object.__setattr__(self, "gym_space", space)

    @property
    def is_discrete(self) -> bool:
        """Always False: the policy outputs two real numbers."""
        return False

    @property
    def size(self) -> int:
        """Number of action dimensions: steering and speed."""
        return 2

    @property
    def default_action(self) -> np.ndarray:
        """The centre of `gym_space`: straight ahead at the middle speed."""
        return ((self.gym_space.low + self.gym_space.high) / 2.0).astype(np.float32)

    def command(self, action: Any) -> tuple[float, float]:
        """Return the commanded (steering degrees, speed m/s) of a policy output.

        PPO: the output is clipped to [-1, 1] and scaled linearly onto the box.
        SAC: the output is already in box units and is clipped to the box.
        """
        if len(action) != 2:
            raise ValueError(
                f"continuous action must have 2 values [steering, speed], got {action!r}"
            )
        raw_steering = _finite_float(action[0], "continuous action steering value")
        raw_speed = _finite_float(action[1], "continuous action speed value")
        if self.algorithm == "sac":
            return (
                min(max(raw_steering, self.steering_low), self.steering_high),
                min(max(raw_speed, self.speed_low), self.speed_high),
            )
        steering = min(max(raw_steering, -1.0), 1.0)
        speed = min(max(raw_speed, -1.0), 1.0)
        return (
            self.steering_low + (steering + 1.0) * (self.steering_high - self.steering_low) / 2.0,
            self.speed_low + (speed + 1.0) * (self.speed_high - self.speed_low) / 2.0,
        )

    def simtrace_action(self, action: Any) -> str:
        """Return the simtrace `action` column, e.g. "[-25.0 1.331]" (no comma, no quoting)."""
        steering, speed = self.command(action)
        return f"[{steering} {speed}]"

    def describe(self) -> list[dict[str, Any]]:
        """One row per dimension (quantity, low, high, unit) for tables and widgets."""
        return [
            {
                "quantity": "steering_angle",
                "low": self.steering_low,
                "high": self.steering_high,
                "unit": "degrees",
            },
            {"quantity": "speed", "low": self.speed_low, "high": self.speed_high, "unit": "m/s"},
        ]


ActionSpace = DiscreteActionSpace | ContinuousActionSpace
