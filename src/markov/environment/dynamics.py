"""The calibrated DeepRacer car model (docs/simulator-contract.md §5).

A kinematic bicycle with a 25 ms command latency, first-order lags on speed and steering and
a yaw-rate gain, fitted to real DeepRacer-on-AWS simtraces. Everything here is pure: `step`
maps a state and a physical command to the next state with no globals and no randomness, and
uses `math` only because it runs on every environment step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LATENCY_S = 0.025
"""Time after each step's start during which the previous physical command still acts."""
TAU_SPEED_S = 0.04
"""Time constant of the first-order lag from commanded to effective speed."""
TAU_STEER_S = 0.15
"""Time constant of the first-order lag from commanded to effective steering angle."""
YAW_GAIN = 0.8
"""Fraction of the ideal bicycle yaw rate that the simulated car achieves."""
WHEELBASE_M = 0.164
"""Bicycle-model wheelbase (URDF axle distance 0.16397 m, rounded as calibrated)."""
SUBSTEP_S = 1.0 / 120.0
"""Longest integration sub-step; 3 sub-steps make exactly the 25 ms latency."""
STEP_S = 1.0 / 15.0
"""One environment step: the simapp's 15 Hz camera period."""

MIN_STEERING_DEG = -30.0
MAX_STEERING_DEG = 30.0
MIN_SPEED_MPS = 0.1
MAX_SPEED_MPS = 4.0

STOP_COMMAND: tuple[float, float] = (0.0, 0.0)
"""Physical command of every non-RUN phase (PREPARE, PAUSE, PARK); pass it to `step` as is,
without `clip_physical_command`, which would raise the speed to the 0.1 m/s minimum."""

_TWO_PI = 2.0 * math.pi
_BOUNDARY_TOLERANCE_S = 1e-9


@dataclass(frozen=True, slots=True)
class CarState:
    """Pose and motion of the car origin (base_link, mid-wheelbase on the ground).

    `speed` and `steer` are the effective (lagged) speed in m/s and steering angle in rad.
    `cmd_speed` (m/s) and `cmd_steer` (rad) are the previous step's physical command, which
    keeps acting during the first `LATENCY_S` of the next step.
    """

    x: float
    y: float
    yaw: float
    speed: float = 0.0
    steer: float = 0.0
    cmd_speed: float = 0.0
    cmd_steer: float = 0.0


def wrap_angle(angle_rad: float) -> float:
    """Map an angle to (-pi, pi], the convention of the simapp's yaw."""
    wrapped = math.remainder(angle_rad, _TWO_PI)
    return math.pi if wrapped == -math.pi else wrapped


def clip_physical_command(steering_angle_deg: float, speed_mps: float) -> tuple[float, float]:
    """Clip a RUN-phase command to what the car executes (§4.4): ±30° and 0.1–4.0 m/s.

    Reward params and simtraces keep the unclipped values; only the car sees these.
    """
    if not (math.isfinite(steering_angle_deg) and math.isfinite(speed_mps)):
        raise ValueError(
            f"action command must be finite, got steering_angle={steering_angle_deg!r} deg and "
            f"speed={speed_mps!r} m/s; check the policy output and the action space bounds"
        )
    steering = min(max(steering_angle_deg, MIN_STEERING_DEG), MAX_STEERING_DEG)
    speed = min(max(speed_mps, MIN_SPEED_MPS), MAX_SPEED_MPS)
    return steering, speed


def step(
    state: CarState, steering_angle_deg: float, speed_mps: float, dt: float = STEP_S
) -> CarState:
    """Advance the car by `dt` seconds under a new physical command (§5.3).

    The command is the physical one: clipped with `clip_physical_command` in RUN, or
    `STOP_COMMAND` in other phases. The time is split into ceil(dt * 120) equal sub-steps
    (8 for the default 1/15 s, so the latency ends on a sub-step boundary). Sub-steps that
    start before `LATENCY_S` use the previous command in `state`; the returned state stores
    the new command as the previous one for the next step. A `dt` shorter than the latency
    therefore delays every command by one whole step.
    """
    if not dt > 0.0:
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}; use 1/15")
    substeps = math.ceil(dt / SUBSTEP_S - _BOUNDARY_TOLERANCE_S)
    h = dt / substeps
    latency_substeps = math.ceil(LATENCY_S / h - _BOUNDARY_TOLERANCE_S)
    speed_gain = 1.0 - math.exp(-h / TAU_SPEED_S)
    steer_gain = 1.0 - math.exp(-h / TAU_STEER_S)
    yaw_factor = YAW_GAIN / WHEELBASE_M

    new_steer = math.radians(steering_angle_deg)
    command_speed, command_steer = state.cmd_speed, state.cmd_steer
    x, y, yaw = state.x, state.y, state.yaw
    speed, steer = state.speed, state.steer
    for index in range(substeps):
        if index == latency_substeps:
            command_speed, command_steer = speed_mps, new_steer
        speed += speed_gain * (command_speed - speed)
        steer += steer_gain * (command_steer - steer)
        yaw_rate = yaw_factor * speed * math.tan(steer)
        x += speed * math.cos(yaw) * h
        y += speed * math.sin(yaw) * h
        yaw += yaw_rate * h
    return CarState(x, y, wrap_angle(yaw), speed, steer, speed_mps, new_steer)
