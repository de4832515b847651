"""Scripted drivers: controllers that need no model, for demos, tests and reward-function checks.

``CenterLineDriver`` follows the centre line with pure pursuit; ``ZigZagDriver`` weaves across it;
``OffTrackDriver`` steers steadily off the road. Each returns an action of the env's own action
space, so the same scripted car works with discrete and continuous spaces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from markov.environment.action_space import ContinuousActionSpace, DiscreteActionSpace
from markov.environment.dynamics import WHEELBASE_M, CarState
from markov.tracks import Track


def pure_pursuit_steering(track: Track, car: CarState, lookahead_m: float = 0.6) -> float:
    """Steering angle (degrees, + = left) that points the car at a centre-line point ahead."""
    near = track.center.project(car.x, car.y)
    tx, ty = track.center.interpolate(near.arc_length + lookahead_m)
    angle = math.atan2(ty - car.y, tx - car.x) - car.yaw
    angle = math.atan2(math.sin(angle), math.cos(angle))
    distance = math.hypot(tx - car.x, ty - car.y)
    steering = math.atan2(2.0 * WHEELBASE_M * math.sin(angle), max(distance, 1e-6))
    return math.degrees(steering) / 0.8  # the car turns with a yaw gain of 0.8


def action_for(
    action_space: DiscreteActionSpace | ContinuousActionSpace, steering_deg: float, speed: float
) -> Any:
    """The action of ``action_space`` whose command is closest to (steering, speed)."""
    if isinstance(action_space, DiscreteActionSpace):
        commands = np.array([action_space.command(i) for i in range(action_space.size)])
        cost = np.abs(commands[:, 0] - steering_deg) / 30.0 + np.abs(commands[:, 1] - speed) / 4.0
        return int(cost.argmin())
    box = action_space.gym_space
    if action_space.algorithm == "sac":
        return np.clip(np.array([steering_deg, speed], dtype=np.float32), box.low, box.high)
    return np.array(
        [
            _to_unit(steering_deg, action_space.steering_low, action_space.steering_high),
            _to_unit(speed, action_space.speed_low, action_space.speed_high),
        ],
        dtype=np.float32,
    )


def _to_unit(value: float, low: float, high: float) -> float:
    """Inverse of the [-1, 1] -> [low, high] scaling, clipped to the box."""
    if high == low:
        return 0.0
    return min(max(2.0 * (value - low) / (high - low) - 1.0, -1.0), 1.0)


class CenterLineDriver:
    """Pure pursuit along the centre line at a fixed speed."""

    def __init__(self, speed: float = 1.0, lookahead_m: float = 0.6) -> None:
        self.speed = speed
        self.lookahead_m = lookahead_m

    def command(self, track: Track, car: CarState) -> tuple[float, float]:
        """(steering degrees, speed m/s) for this pose."""
        return pure_pursuit_steering(track, car, self.lookahead_m), self.speed

    def act(self, env: Any) -> Any:
        """An action of ``env``'s action space for the car's current pose."""
        base = env.unwrapped
        return action_for(base.actions, *self.command(base.track, base.car))


class ZigZagDriver(CenterLineDriver):
    """Follows the centre line but adds a steering swing that makes the car weave."""

    def __init__(self, speed: float = 1.0, amplitude_deg: float = 20.0, period_steps: int = 12):
        super().__init__(speed)
        self.amplitude_deg = amplitude_deg
        self.period_steps = period_steps
        self._step = 0

    def command(self, track: Track, car: CarState) -> tuple[float, float]:
        self._step += 1
        swing = self.amplitude_deg * math.sin(2.0 * math.pi * self._step / self.period_steps)
        steering, speed = super().command(track, car)
        return steering + swing, speed


class OffTrackDriver(CenterLineDriver):
    """Holds a constant steering angle so the car soon leaves the road."""

    def __init__(self, speed: float = 1.0, steering_deg: float = -30.0) -> None:
        super().__init__(speed)
        self.steering_deg = steering_deg

    def command(self, track: Track, car: CarState) -> tuple[float, float]:
        return self.steering_deg, self.speed
