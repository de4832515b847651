"""The reward function's ``params`` dict, computed exactly as the simapp computes it.

Every position-based key uses the front reference point 0.14 m ahead of the car origin
(docs/simulator-contract.md §2.2-§2.5); ``speed`` and ``steering_angle`` are the commanded values.
``build_reward_params`` is the one builder: the env calls it on every step, the reward heatmap
for each grid cell and the log replay for each simtrace row, each with a ``CarPose`` from
``pose_from_origin`` or ``pose_from_front``. The keys' meanings: ``reward_params_glossary``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markov.environment.car_geometry import front_point, origin_of_front_point, wheel_positions
from markov.environment.objects import TrackObjects
from markov.environment.sensors.camera import (
    CAMERA_PITCH,
    CAMERA_X,
    CAMERA_Z,
    HORIZONTAL_FOV,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    STEREO_OFFSET,
)
from markov.environment.sensors.suite import STEREO_CAMERAS
from markov.tracks import Track

# The frustum the simapp tests ``object_in_camera`` against (markov/cameras/frustum.py).
FRUSTUM_NEAR_M = 0.2
FRUSTUM_FAR_M = 300.0
_HALF_WIDTH_SLOPE = math.tan(0.5 * HORIZONTAL_FOV)
_HALF_HEIGHT_SLOPE = _HALF_WIDTH_SLOPE * IMAGE_HEIGHT / IMAGE_WIDTH


@dataclass(frozen=True)
class PoseGeometry:
    """Where the front point is relative to the track at one pose."""

    front_x: float
    front_y: float
    ndist: float
    distance_from_center: float
    center_x: float
    center_y: float
    track_width: float
    is_left_of_center: bool
    closest_waypoints: list[int]
    closest_waypoint: int


def measure_pose(track: Track, front_x: float, front_y: float) -> PoseGeometry:
    """Project the front point onto the track and derive the geometric params."""
    near = track.center.project(front_x, front_y)
    ndist = near.arc_length / track.length
    width = track.width_at(near.x, near.y)
    d_in = math.hypot(front_x - width.inner_point[0], front_y - width.inner_point[1])
    d_out = math.hypot(front_x - width.outer_point[0], front_y - width.outer_point[1])
    prev_idx, next_idx = track.closest_waypoints(ndist)
    px, py = track.waypoints[prev_idx]
    nx, ny = track.waypoints[next_idx]
    nearer_next = math.hypot(front_x - nx, front_y - ny) < math.hypot(front_x - px, front_y - py)
    return PoseGeometry(
        front_x=front_x,
        front_y=front_y,
        ndist=ndist,
        distance_from_center=near.distance,
        center_x=near.x,
        center_y=near.y,
        track_width=width.width,
        is_left_of_center=(d_in < d_out) != (not track.is_ccw),
        closest_waypoints=[prev_idx, next_idx],
        closest_waypoint=next_idx if nearer_next else prev_idx,
    )


@dataclass(frozen=True)
class CarPose:
    """The car at one step as its params see it: origin, heading, front point, wheels."""

    x: float
    y: float
    yaw: float
    heading: float
    """Degrees within (-180, 180], as ``params["heading"]`` shows it."""
    geometry: PoseGeometry
    all_wheels_on_track: bool
    is_offtrack: bool
    """All four wheel centres off the road."""


def pose_from_origin(track: Track, x: float, y: float, yaw: float) -> CarPose:
    """The pose of a car whose origin is at (x, y) with heading ``yaw`` (rad): the env's view."""
    return _car_pose(
        track, x, y, yaw, heading_degrees(yaw), measure_pose(track, *front_point(x, y, yaw))
    )


def pose_from_front(
    track: Track, geometry: PoseGeometry, yaw: float, heading: float | None = None
) -> CarPose:
    """The pose of a car whose front point is ``geometry``'s, with heading ``yaw`` (rad).

    ``heading`` (degrees) is the value to show as ``params["heading"]`` when it is known
    already, e.g. logged in a simtrace; by default it is ``yaw`` in degrees.
    """
    x, y = origin_of_front_point(geometry.front_x, geometry.front_y, yaw)
    shown = heading_degrees(yaw) if heading is None else heading
    return _car_pose(track, x, y, yaw, shown, geometry)


def _car_pose(
    track: Track, x: float, y: float, yaw: float, heading: float, geometry: PoseGeometry
) -> CarPose:
    on_road = track.points_on_road(wheel_positions(x, y, yaw))
    return CarPose(
        x=x,
        y=y,
        yaw=yaw,
        heading=heading,
        geometry=geometry,
        all_wheels_on_track=bool(on_road.all()),
        is_offtrack=not bool(on_road.any()),
    )


def build_reward_params(
    track: Track,
    pose: CarPose,
    *,
    progress: float,
    steps: float,
    speed: float,
    steering_angle: float,
    sim_time: float,
    is_crashed: bool = False,
    all_wheels_on_track: bool | None = None,
    objects: TrackObjects | None = None,
    camera_offsets: Sequence[float] = (0.0,),
) -> dict:
    """The params dict in the simapp's key set, types and units (§2.3) for a car at ``pose``.

    ``all_wheels_on_track`` replaces the pose's own when given (a log's recorded value).
    Without ``objects`` the object keys hold their no-object defaults; with them, the values
    ``object_reward_params`` computes for the cameras at ``camera_offsets``.
    """
    geometry = pose.geometry
    on_track = pose.all_wheels_on_track if all_wheels_on_track is None else all_wheels_on_track
    params = {
        "all_wheels_on_track": bool(on_track),
        "x": geometry.front_x,
        "y": geometry.front_y,
        "heading": pose.heading,
        "distance_from_center": geometry.distance_from_center,
        "is_left_of_center": geometry.is_left_of_center,
        "progress": progress,
        "steps": float(steps),
        "speed": float(speed),
        "steering_angle": float(steering_angle),
        "track_width": geometry.track_width,
        "track_length": track.length,
        "waypoints": track.waypoints,
        "closest_waypoints": list(geometry.closest_waypoints),
        "is_offtrack": pose.is_offtrack,
        "is_crashed": bool(is_crashed),
        "is_reversed": track.reverse,
        "projection_distance": geometry.ndist * track.length,
        "closest_objects": [0, 0],
        "objects_location": [],
        "objects_distance": [],
        "objects_distance_from_center": [],
        "objects_left_of_center": [],
        "objects_heading": [],
        "objects_speed": [],
        "object_in_camera": False,
        "sim_time": sim_time,
    }
    if objects is not None:
        model_arc = geometry.ndist * track.length
        params.update(
            object_reward_params(objects, model_arc, pose.x, pose.y, pose.yaw, camera_offsets)
        )
    return params


def copy_reward_params(params: dict) -> dict:
    """A private copy of a params dict built here, knowing its layout (fast, every step).

    Lists are copied; ``waypoints`` holds immutable tuples, ``objects_location`` small lists.
    """
    copied = dict(params)
    for key, value in params.items():
        if type(value) is list:
            nested = bool(value) and type(value[0]) is list
            copied[key] = [list(item) for item in value] if nested else value.copy()
    return copied


def heading_degrees(yaw_rad: float) -> float:
    """Yaw in degrees within (-180, 180]."""
    degrees = math.degrees(math.atan2(math.sin(yaw_rad), math.cos(yaw_rad)))
    return 180.0 if degrees == -180.0 else degrees


def frustum_camera_offsets(sensors: Sequence[str]) -> tuple[float, ...]:
    """Lateral offsets (m) of the cameras whose frustums ``object_in_camera`` tests.

    Two stereo lenses at +-0.03 m with STEREO_CAMERAS, otherwise the single front camera (also
    for lidar-only cars, as in the simapp).
    """
    return (STEREO_OFFSET, -STEREO_OFFSET) if STEREO_CAMERAS in sensors else (0.0,)


def object_reward_params(
    objects: TrackObjects,
    model_arc: float,
    car_x: float,
    car_y: float,
    car_yaw: float,
    camera_offsets: Sequence[float],
) -> dict:
    """The object keys of the params dict (§2.3) for the front point at ``model_arc`` metres
    along the centre line and the car origin pose ``(car_x, car_y, car_yaw)``.

    Lists are fresh copies in insertion order (obstacles, then bot cars); headings in radians.
    """
    closest = objects.closest(model_arc)
    return {
        "closest_objects": closest,
        "objects_location": [[x, y] for x, y in zip(objects.xs, objects.ys, strict=True)],
        "objects_distance": objects.distances.copy(),
        "objects_distance_from_center": objects.center_offsets.copy(),
        "objects_left_of_center": objects.left_of_center.copy(),
        "objects_heading": objects.headings,
        "objects_speed": objects.speeds.copy(),
        "object_in_camera": in_camera_frustum(
            objects.floor_points(closest[1]), car_x, car_y, car_yaw, camera_offsets
        ),
    }


def in_camera_frustum(
    points: Sequence[tuple[float, float, float]],
    car_x: float,
    car_y: float,
    car_yaw: float,
    camera_offsets: Sequence[float],
) -> bool:
    """Whether any world point (x, y, z) lies strictly inside a camera frustum of the car.

    Each camera sits at (0.14529, offset, 0.13033) m in the car frame, pitched down 0.2618 rad,
    with a 1.13 rad horizontal field of view, a 4:3 image, and clip planes at 0.2 m and 300 m.
    """
    c, s = math.cos(car_yaw), math.sin(car_yaw)
    sp, cp = math.sin(CAMERA_PITCH), math.cos(CAMERA_PITCH)
    for offset in camera_offsets:
        cam_x = car_x + CAMERA_X * c - offset * s
        cam_y = car_y + CAMERA_X * s + offset * c
        for px, py, pz in points:
            rx, ry, rz = px - cam_x, py - cam_y, pz - CAMERA_Z
            ahead = rx * c + ry * s  # horizontal distance along the heading
            depth = cp * ahead - sp * rz
            if not FRUSTUM_NEAR_M < depth < FRUSTUM_FAR_M:
                continue
            across = rx * s - ry * c  # to the camera's right
            up = sp * ahead + cp * rz
            if abs(across) < depth * _HALF_WIDTH_SLOPE and abs(up) < depth * _HALF_HEIGHT_SLOPE:
                return True
    return False
