"""The reward function's ``params`` dict, computed exactly as the simapp computes it.

Every position-based key uses the front reference point 0.14 m ahead of the car origin
(simulator-contract.md §2.2-§2.5); ``speed`` and ``steering_angle`` are the commanded values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markov.tracks import Track


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


def build_reward_params(
    *,
    track: Track,
    geometry: PoseGeometry,
    heading_rad: float,
    all_wheels_on_track: bool,
    is_offtrack: bool,
    is_crashed: bool,
    progress: float,
    steps: float,
    speed: float,
    steering_angle: float,
    sim_time: float,
) -> dict:
    """The params dict in the simapp's key set, types and units (§2.3); no objects yet."""
    return {
        "all_wheels_on_track": bool(all_wheels_on_track),
        "x": geometry.front_x,
        "y": geometry.front_y,
        "heading": heading_degrees(heading_rad),
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
        "is_offtrack": bool(is_offtrack),
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
