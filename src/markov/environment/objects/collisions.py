"""Whether the agent touched an object (docs/simulator-contract.md §9.3).

The agent crashes into the first object (in insertion order: obstacles, bot cars, other racers)
whose rectangle strictly contains a corner of the agent's footprint. Another racer is hit when
the two footprints overlap with a positive area (a separating-axis test): two equally wide cars
in exact line, as lockstep cars often are, overlap without either having a corner strictly
inside the other. A car that the agent touches while ahead of it is not the agent's crash
(§9.2). These run every step on a handful of objects: scalar arithmetic beats numpy here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from markov.environment.car_geometry import (
    BOT_CAR_LENGTH_M,
    BOT_CAR_WIDTH_M,
    FRONT_POINT_OFFSET_M,
    footprint_corners,
)

if TYPE_CHECKING:
    from markov.environment.objects.track_objects import TrackObjects


def first_collision(objects: TrackObjects, x: float, y: float, yaw: float) -> int:
    """Index of the first object the agent (car origin ``x, y``, heading ``yaw``) touches, or
    -1: an obstacle or bot car whose rectangle strictly contains an agent footprint corner,
    else another racer whose footprint overlaps the agent's."""
    corners = None
    xs, ys, reach_sq = objects.xs, objects.ys, objects.reach_sq
    for i in range(objects.count - objects.other_car_count):
        ox, oy = xs[i], ys[i]
        if (ox - x) ** 2 + (oy - y) ** 2 >= reach_sq[i]:
            continue
        if corners is None:
            corners = footprint_corners(x, y, yaw).tolist()
        c, s = objects.cos[i], objects.sin[i]
        half_length, half_width = objects.half_lengths[i], objects.half_widths[i]
        for cx, cy in corners:
            rx, ry = cx - ox, cy - oy
            if abs(rx * c + ry * s) < half_length and abs(ry * c - rx * s) < half_width:
                return i
    if objects.other_car_count:
        return _first_other_car_overlap(objects, x, y, yaw)
    return -1


def _first_other_car_overlap(objects: TrackObjects, x: float, y: float, yaw: float) -> int:
    """Index of the first other racer whose footprint overlaps the agent's footprint with a
    positive area (no separating axis among the four rectangle sides), or -1."""
    ca, sa = math.cos(yaw), math.sin(yaw)
    hl, hw = 0.5 * BOT_CAR_LENGTH_M, 0.5 * BOT_CAR_WIDTH_M
    for i in range(objects.count - objects.other_car_count, objects.count):
        dx, dy = objects.xs[i] - x, objects.ys[i] - y
        if dx * dx + dy * dy >= objects.reach_sq[i]:
            continue
        cb, sb = objects.cos[i], objects.sin[i]
        hlb, hwb = objects.half_lengths[i], objects.half_widths[i]
        parallel, crossing = abs(ca * cb + sa * sb), abs(ca * sb - sa * cb)
        if (
            abs(dx * ca + dy * sa) < hl + hlb * parallel + hwb * crossing
            and abs(dy * ca - dx * sa) < hw + hlb * crossing + hwb * parallel
            and abs(dx * cb + dy * sb) < hlb + hl * parallel + hw * crossing
            and abs(dy * cb - dx * sb) < hwb + hl * crossing + hw * parallel
        ):
            return i
    return -1


def agent_is_ahead(objects: TrackObjects, index: int, agent_ndist: float) -> bool:
    """Whether the agent (front point at ``agent_ndist``) is ahead of car ``index``.

    Both are compared by normalised centre-line position of their front points, on the
    circle: "ahead" means less than half a lap in front.
    """
    bot_ndist = (objects.distances[index] + FRONT_POINT_OFFSET_M) / objects.length % 1.0
    gap = (agent_ndist - bot_ndist) % 1.0
    return 0.0 < gap < 0.5
