"""What the sensors and the top-down view get of the objects: boxes, and which of them can
change an observation from a car pose."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from markov.environment.sensors.camera import CAMERA_PITCH, CAMERA_X, HORIZONTAL_FOV
from markov.environment.sensors.lidar import LIDAR_MAX_ANGLE, LIDAR_X
from markov.environment.sensors.scene import BOX_OBSTACLE_RGB, BoxObject

if TYPE_CHECKING:
    from markov.environment.objects.track_objects import TrackObjects

OBSTACLE_RGB_BY_TYPE = {
    "box_obstacle": BOX_OBSTACLE_RGB,
    "deepracer_box_obstacle": (95, 60, 165),
    "amazon_box_obstacle": (145, 100, 55),
}
"""Colour per ``OBSTACLE_TYPE``; the types only differ in looks (same collision box)."""

OBSTACLE_Z_M = 0.1
BOT_CAR_Z_M = 0.0
"""Heights of the object poses; ``object_in_camera`` tests their floor rectangles there."""

_LIDAR_NOISE_MARGIN_M = 0.1
_LIDAR_BLIND_HALF_ANGLE = math.pi - LIDAR_MAX_ANGLE - 1e-6  # the first ray is at +30 deg
_STEREO_MARGIN_M = 0.03
_CAMERA_SPREAD = math.tan(0.5 * HORIZONTAL_FOV) / (
    math.cos(CAMERA_PITCH) - 0.75 * math.tan(0.5 * HORIZONTAL_FOV) * math.sin(CAMERA_PITCH)
)
"""Widest lateral/forward ratio of any camera ray projected on the ground (bottom image corners)."""
_EDGE_SCALE = math.hypot(1.0, _CAMERA_SPREAD)


def _lidar_can_hit(ahead: float, left: float, radius: float, reach: float) -> bool:
    """Whether a lidar ray can meet a circle (centre ``ahead``, ``left`` of the laser, metres)
    closer than ``reach``: the rays skip the wedge of +-_LIDAR_BLIND_HALF_ANGLE straight ahead."""
    distance = math.hypot(ahead, left)
    if distance >= reach + radius:
        return False
    if distance <= radius or ahead <= 0.0:
        return True
    return abs(math.atan2(left, ahead)) + math.asin(radius / distance) >= _LIDAR_BLIND_HALF_ANGLE


def boxes_seen(
    objects: TrackObjects, x: float, y: float, yaw: float, camera: bool, lidar_reach: float
) -> Sequence[BoxObject]:
    """The boxes that can change an observation from car pose ``(x, y, yaw)``.

    A box can show in a camera only if its footprint circle meets the ground wedge that the
    camera rays span. A lidar observation only changes within its clipping distance
    (``lidar_reach``; 0 = no lidar) and outside the unscanned wedge straight ahead. Leaving
    the other boxes out spares the sensors their work and leaves the observation as it is.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    reach = lidar_reach + _LIDAR_NOISE_MARGIN_M if lidar_reach > 0.0 else -math.inf
    seen = []
    for i in range(objects.count):
        rx, ry, radius = objects.xs[i] - x, objects.ys[i] - y, objects.box_radius[i]
        ahead, left = rx * c + ry * s, ry * c - rx * s
        if _lidar_can_hit(ahead - LIDAR_X, left, radius, reach):
            seen.append(i)
        elif camera:
            forward = ahead - CAMERA_X
            lateral = abs(left) - _STEREO_MARGIN_M
            if forward > -radius and lateral - forward * _CAMERA_SPREAD < radius * _EDGE_SCALE:
                seen.append(i)
    if not seen:
        return ()
    boxes = objects.boxes
    return [boxes[i] for i in seen]


def rectangle_points(objects: TrackObjects, index: int) -> list[tuple[float, float, float]]:
    """Centre and collision-rectangle corners of object ``index`` at its pose height."""
    x, y, z = objects.xs[index], objects.ys[index], objects.heights[index]
    c, s = objects.cos[index], objects.sin[index]
    hl, hw = objects.half_lengths[index], objects.half_widths[index]
    points = [(x, y, z)]
    for along, across in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw)):
        points.append((x + along * c - across * s, y + along * s + across * c, z))
    return points
