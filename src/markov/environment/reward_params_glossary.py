"""What each key of the reward function's ``params`` holds: type, unit and meaning.

One entry per key ``build_reward_params`` produces, in its order (docs/simulator-contract.md §2.3).
The notebooks show it next to live values (``workshop_helpers.reward_testing.params_table``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParamInfo:
    """One params key: its Python type as delivered, its unit, and what it means."""

    name: str
    type: str
    unit: str
    meaning: str


REWARD_PARAMS_GLOSSARY: dict[str, ParamInfo] = {
    info.name: info
    for info in (
        ParamInfo(
            "all_wheels_on_track", "bool", "", "True while all four wheel centres are on the road."
        ),
        ParamInfo(
            "x",
            "float",
            "m",
            "x position in metres of the car's reference point, 0.14 m ahead of its centre.",
        ),
        ParamInfo(
            "y",
            "float",
            "m",
            "y position in metres of the car's reference point, 0.14 m ahead of its centre.",
        ),
        ParamInfo(
            "heading",
            "float",
            "degrees, (-180, 180]",
            "Direction the car points, in degrees from the +x axis (counter-clockwise +).",
        ),
        ParamInfo(
            "distance_from_center",
            "float",
            "m",
            "Metres from the reference point to the nearest centre-line point.",
        ),
        ParamInfo(
            "is_left_of_center",
            "bool",
            "",
            "True when the reference point is left of the centre line.",
        ),
        ParamInfo(
            "progress",
            "float",
            "percent",
            "Percent of the lap driven since this episode's start point (0 to 100).",
        ),
        ParamInfo(
            "steps",
            "float",
            "count",
            "Steps taken in this episode (15 per second), counting the first preparation step.",
        ),
        ParamInfo("speed", "float", "m/s", "Speed in m/s that the chosen action commands."),
        ParamInfo(
            "steering_angle",
            "float",
            "degrees, + = left",
            "Steering angle in degrees that the chosen action commands (+ = left).",
        ),
        ParamInfo(
            "track_width", "float", "m", "Width of the road in metres at the car's position."
        ),
        ParamInfo("track_length", "float", "m", "Length of the centre line in metres."),
        ParamInfo(
            "waypoints",
            "list of (float, float)",
            "m",
            "Centre-line points (x, y) of the track in driving order.",
        ),
        ParamInfo(
            "closest_waypoints",
            "[int, int]",
            "index into waypoints",
            "Indices of the waypoints just behind and just ahead of the car.",
        ),
        ParamInfo("is_offtrack", "bool", "", "True when no wheel touches the road any more."),
        ParamInfo("is_crashed", "bool", "", "True when the car has hit an obstacle or a bot car."),
        ParamInfo(
            "is_reversed",
            "bool",
            "",
            "True when the track is driven against its usual direction.",
        ),
        ParamInfo(
            "projection_distance",
            "float",
            "m",
            "Metres along the centre line from its first point to the car.",
        ),
        ParamInfo(
            "closest_objects",
            "[int, int]",
            "index into the object lists",
            "Indices of the objects just behind and just ahead of the car.",
        ),
        ParamInfo(
            "objects_location",
            "list of [float, float]",
            "m",
            "Positions (x, y) of the obstacles and bot cars.",
        ),
        ParamInfo(
            "objects_distance",
            "list of float",
            "m",
            "Distance of each object along the centre line from its first point.",
        ),
        ParamInfo(
            "objects_distance_from_center",
            "list of float",
            "m",
            "Distance of each object from the centre line, in metres.",
        ),
        ParamInfo(
            "objects_left_of_center",
            "list of bool",
            "",
            "For each object, whether it is left of the centre line.",
        ),
        ParamInfo(
            "objects_heading",
            "list of float",
            "radians",
            "Heading of each object in radians (0 for boxes).",
        ),
        ParamInfo(
            "objects_speed", "list of float", "m/s", "Speed of each object in m/s (0 for boxes)."
        ),
        ParamInfo(
            "object_in_camera",
            "bool",
            "",
            "True when the next object ahead is in the front camera's view.",
        ),
        ParamInfo("sim_time", "float", "s", "Simulation time in seconds at the start of the step."),
    )
}
"""Params key -> its ``ParamInfo``, in the order of the params dict."""
