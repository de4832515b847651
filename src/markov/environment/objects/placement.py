"""Where obstacles and bot cars start (docs/simulator-contract.md §9.1, §9.2).

Centre-line distances are ``linspace(start, L - 1.0, N)``; obstacles start at
``MIN_DISTANCE_BETWEEN_OBSTACLES`` percent of ``L``, bot cars at ``MIN_DISTANCE_BETWEEN_BOT_CARS``
metres. Lanes alternate inner, outer, inner, ... When randomised, each distance (in random order)
is redrawn uniformly between its neighbours +- the minimum gap and each lane is drawn at random.
``OBJECT_POSITIONS`` ("ndist,lane") overrides the obstacle count and randomisation. An obstacle
stands on the lane point nearest to its centre-line point and faces along that lane segment.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from markov.environment.car_geometry import BOT_CAR_DIMENSION, BOT_CAR_LENGTH_M
from markov.environment.world_config import INNER_LANE, WorldConfig, WorldConfigError
from markov.tracks import Track, load_track

BOX_OBSTACLE_DIMENSION = (0.4, 0.5)
"""Collision rectangle of a box obstacle: 0.4 m across and 0.5 m along its yaw (markov)."""

CLOSEST_OBJECT_GAP_M = 1.0
"""An object this close (along the centre line) to a start or respawn point moves the car."""

LAST_PLACEMENT_MARGIN_M = 1.0
"""The last object stands at least this far before the end of the lap (``L - 1.0``)."""


class ObjectPlacementError(WorldConfigError):
    """The configured objects do not fit on the track."""


def spread_distances(
    start: float,
    end: float,
    count: int,
    gap: float,
    randomize: bool,
    rng: np.random.Generator,
) -> list[float]:
    """``linspace(start, end, count)``, optionally each redrawn between its neighbours +- gap."""
    distances = np.linspace(start, end, count)
    if randomize:
        for i in rng.permutation(count):
            low = start if i == 0 else distances[i - 1] + gap
            high = end if i == count - 1 else distances[i + 1] - gap
            if low < high:
                distances[i] = rng.uniform(low, high)
    return distances.tolist()


def inner_lane_choices(count: int, randomize: bool, rng: np.random.Generator) -> list[bool]:
    """Whether each object uses the inner lane: inner, outer, inner, ... or random."""
    if randomize:
        return (rng.integers(0, 2, count) == 0).tolist()
    return [i % 2 == 0 for i in range(count)]


def lane_pose(track: Track, arc: float, inner: bool) -> tuple[float, float, float]:
    """Pose on a lane at the lane point nearest to the centre-line point at ``arc`` metres."""
    lane = track.inner_lane if inner else track.outer_lane
    cx, cy = track.center.interpolate(arc)
    near = lane.project(cx, cy)
    return near.x, near.y, lane.direction_at(near.arc_length)


class ObstacleLayout:
    """The obstacles' poses and per-episode params for each episode; computed once when they
    are not randomised."""

    def __init__(self, config: WorldConfig, track: Track) -> None:
        self._config = config
        self._track = track
        self._left_is_inner = track.is_ccw
        self._fixed: tuple | None = None

    def place(self, rng: np.random.Generator) -> tuple:
        """``(xs, ys, yaws, distances, center_offsets, left_of_center, inner)`` lists."""
        config = self._config
        randomized = config.randomize_obstacle_locations and not config.object_positions
        if self._fixed is not None and not randomized:
            return self._fixed
        count, track, length = config.obstacle_count, self._track, self._track.length
        if not count:  # no obstacles in this race type, even with OBJECT_POSITIONS given
            return [], [], [], [], [], [], []
        if config.object_positions:
            distances = [ndist * length for ndist, _ in config.object_positions]
            inner = [lane == INNER_LANE for _, lane in config.object_positions]
        else:
            d_min = config.min_distance_between_obstacles / 100.0 * length
            end = length - LAST_PLACEMENT_MARGIN_M
            distances = spread_distances(d_min, end, count, d_min, randomized, rng)
            inner = inner_lane_choices(count, randomized, rng)
        poses = [lane_pose(track, d, lane) for d, lane in zip(distances, inner, strict=True)]
        xs = [pose[0] for pose in poses]
        ys = [pose[1] for pose in poses]
        layout = (xs, ys, [pose[2] for pose in poses], *self._static_params(xs, ys), inner)
        if not randomized:
            self._fixed = layout
        return layout

    def _static_params(self, xs: list[float], ys: list[float]) -> tuple:
        """Centre-line projection, distance from it and side of each obstacle (§2.3)."""
        if not xs:
            return [], [], []
        points = np.column_stack([xs, ys])
        center = self._track.center
        arcs = center.project_many(points)
        offsets = [
            math.hypot(x - cx, y - cy)
            for x, y, (cx, cy) in zip(xs, ys, (center.interpolate(a) for a in arcs), strict=True)
        ]
        inside = shapely.contains_xy(self._track.inner_polygon, points[:, 0], points[:, 1])
        left = [bool(flag) == self._left_is_inner for flag in inside]
        return arcs.tolist(), offsets, left


def _check_fit(count: int, start: float, end: float, gap: float, what: str, fix: str) -> None:
    """Raise when ``count`` objects ``gap`` apart do not fit between ``start`` and ``end``."""
    if count == 0:
        return
    fits = 0 if end < start else 1 + math.floor((end - start) / gap + 1e-9)
    if count > fits:
        raise ObjectPlacementError(
            f"{what}: only {fits} fit between {start:.2f} m and {end:.2f} m of the centre line "
            f"at least {gap:.2f} m apart; {fix}."
        )


def check_objects_fit(config: WorldConfig, track: Track | str) -> None:
    """Raise ObjectPlacementError, naming the keys and the fix, when the configured obstacles
    or bot cars do not fit on ``track`` (a Track or a WORLD_NAME, loaded only when needed)."""
    if not (config.obstacle_count or config.bot_car_count):
        return
    length = (track if isinstance(track, Track) else load_track(track)).length
    end = length - LAST_PLACEMENT_MARGIN_M
    if config.obstacle_count and not config.object_positions:
        d_min = config.min_distance_between_obstacles / 100.0 * length
        along = (BOT_CAR_DIMENSION if config.is_obstacle_bot_car else BOX_OBSTACLE_DIMENSION)[1]
        _check_fit(
            config.obstacle_count, d_min, end, max(d_min, along),
            f"NUMBER_OF_OBSTACLES is {config.obstacle_count} with "
            f"MIN_DISTANCE_BETWEEN_OBSTACLES {config.min_distance_between_obstacles} "
            f"(% of the {length:.2f} m track)",
            "lower NUMBER_OF_OBSTACLES or MIN_DISTANCE_BETWEEN_OBSTACLES",
        )
    if config.bot_car_count:
        start = config.min_distance_between_bot_cars
        _check_fit(
            config.bot_car_count, start, end, max(start, BOT_CAR_LENGTH_M),
            f"NUMBER_OF_BOT_CARS is {config.bot_car_count} with MIN_DISTANCE_BETWEEN_BOT_CARS "
            f"{start} m on the {length:.2f} m track",
            "lower NUMBER_OF_BOT_CARS or MIN_DISTANCE_BETWEEN_BOT_CARS",
        )
