"""Obstacles and bot cars on a track (docs/simulator-contract.md §9), one module per job.

``placement`` (where objects start, whether they fit), ``bot_cars`` (how bot cars drive),
``collisions`` (whether the agent touched one), ``sensing`` (what sensors and views get) and
``track_objects`` (``TrackObjects``: the state of one race's objects and the questions the
environment asks).
"""

from markov.environment.objects.placement import (
    BOX_OBSTACLE_DIMENSION,
    CLOSEST_OBJECT_GAP_M,
    LAST_PLACEMENT_MARGIN_M,
    ObjectPlacementError,
    check_objects_fit,
    inner_lane_choices,
    lane_pose,
    spread_distances,
)
from markov.environment.objects.sensing import OBSTACLE_RGB_BY_TYPE
from markov.environment.objects.track_objects import TrackObjects

__all__ = [
    "BOX_OBSTACLE_DIMENSION",
    "CLOSEST_OBJECT_GAP_M",
    "LAST_PLACEMENT_MARGIN_M",
    "OBSTACLE_RGB_BY_TYPE",
    "ObjectPlacementError",
    "TrackObjects",
    "check_objects_fit",
    "inner_lane_choices",
    "lane_pose",
    "spread_distances",
]
