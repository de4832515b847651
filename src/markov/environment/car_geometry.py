"""Where the car's reference points lie in the world (docs/simulator-contract.md §2.2, §3, §9.3).

All positions are 2-D, in metres, for a car origin at (x, y) with heading `yaw` (rad,
counter-clockwise from +x). In the car frame +x points forward and +y to the car's left.
"""

from __future__ import annotations

import math

import numpy as np

FRONT_POINT_OFFSET_M = 0.14
"""Distance of the reward/simtrace reference point ahead of the car origin."""

WHEEL_OFFSETS_M: tuple[tuple[float, float], ...] = (
    (-0.081663, 0.08105),  # left_rear_wheel
    (0.082311, 0.079601),  # left_front_wheel
    (-0.081663, -0.08105),  # right_rear_wheel
    (0.082311, -0.079601),  # right_front_wheel
)
"""Wheel centres in the car frame, in the order of `wheel_positions` (URDF values)."""

BOT_CAR_LENGTH_M = 0.32352
BOT_CAR_WIDTH_M = 0.1961
BOT_CAR_DIMENSION: tuple[float, float] = (BOT_CAR_WIDTH_M, BOT_CAR_LENGTH_M)
"""Collision footprint (width across, length along), centred on the car origin."""


def front_point(x: float, y: float, yaw: float) -> tuple[float, float]:
    """Return the point 0.14 m ahead of the car origin: the params' `x`, `y`."""
    return (
        x + FRONT_POINT_OFFSET_M * math.cos(yaw),
        y + FRONT_POINT_OFFSET_M * math.sin(yaw),
    )


def origin_of_front_point(front_x: float, front_y: float, yaw: float) -> tuple[float, float]:
    """Return the car origin whose front point (see `front_point`) is (front_x, front_y)."""
    return (
        front_x - FRONT_POINT_OFFSET_M * math.cos(yaw),
        front_y - FRONT_POINT_OFFSET_M * math.sin(yaw),
    )


def _place(x: float, y: float, yaw: float, offsets: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Rotate car-frame offsets by `yaw` and translate them to (x, y)."""
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    return np.array(
        [(x + dx * cos_yaw - dy * sin_yaw, y + dx * sin_yaw + dy * cos_yaw) for dx, dy in offsets]
    )


def wheel_positions(x: float, y: float, yaw: float) -> np.ndarray:
    """Return the four wheel centres, shape (4, 2).

    Order: left_rear, left_front, right_rear, right_front, as the simapp lists the links for
    `all_wheels_on_track`.
    """
    return _place(x, y, yaw, WHEEL_OFFSETS_M)


def footprint_corners(
    x: float,
    y: float,
    yaw: float,
    length: float = BOT_CAR_LENGTH_M,
    width: float = BOT_CAR_WIDTH_M,
) -> np.ndarray:
    """Return the corners of a length x width rectangle centred on (x, y), shape (4, 2).

    Order: front-left, rear-left, rear-right, front-right, which runs counter-clockwise, so
    the array is a valid polygon ring for the collision test.
    """
    half_length, half_width = length / 2.0, width / 2.0
    return _place(
        x,
        y,
        yaw,
        (
            (half_length, half_width),
            (-half_length, half_width),
            (-half_length, -half_width),
            (half_length, -half_width),
        ),
    )
