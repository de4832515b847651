"""The obstacles, bot cars and other racers of one race on one track direction.

The rules are docs/simulator-contract.md §9.

``TrackObjects`` holds every object's state in parallel lists and answers the environment's
questions; placement (``placement``), bot-car motion (``bot_cars``), collisions
(``collisions``) and what the sensors get (``sensing``) each live in their own module.
Everything is re-placed on every ``reset`` with the environment's seeded generator.

Other racers (head-to-head races): ``set_other_cars`` puts the other cars of a race after the
obstacles and bot cars, with the bot-car footprint; the race sets their poses every step.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

from markov.environment.car_geometry import BOT_CAR_DIMENSION, BOT_CAR_LENGTH_M, BOT_CAR_WIDTH_M
from markov.environment.objects import collisions, sensing
from markov.environment.objects.bot_cars import BotCarMotion
from markov.environment.objects.placement import (
    BOX_OBSTACLE_DIMENSION,
    CLOSEST_OBJECT_GAP_M,
    ObstacleLayout,
    check_objects_fit,
)
from markov.environment.objects.sensing import BOT_CAR_Z_M, OBSTACLE_RGB_BY_TYPE, OBSTACLE_Z_M
from markov.environment.sensors.scene import (
    BOT_CAR_SIZE,
    BOX_OBSTACLE_SIZE,
    BoxObject,
    bot_car,
    box_obstacle,
)
from markov.environment.world_config import WorldConfig
from markov.tracks import Track

_AGENT_REACH_M = 0.5 * math.hypot(BOT_CAR_LENGTH_M, BOT_CAR_WIDTH_M)


class TrackObjects:
    """The obstacles, bot cars and other racers of one race on one track direction.

    Per-object state is kept in parallel lists indexed in insertion order (obstacles, bot cars,
    then other racers): ``xs``, ``ys``, ``yaws`` (radians), ``cos`` / ``sin`` of the yaws,
    ``distances`` (centre-line projection, metres from waypoint 0 of this direction),
    ``center_offsets`` (distance to the centre line), ``left_of_center``, ``inner`` (which lane
    the object occupies), ``speeds``, the collision rectangles (``half_lengths``,
    ``half_widths``, ``reach_sq``), ``box_radius`` and ``heights`` (for sensors). ``order`` /
    ``sorted_distances`` sort the objects along the centre line.
    """

    def __init__(self, config: WorldConfig, track: Track) -> None:
        self.track = track
        self.length = track.length
        self.obstacle_count = config.obstacle_count
        self.bot_count = config.bot_car_count
        self.count = self.obstacle_count + self.bot_count
        self.other_car_count = 0
        check_objects_fit(config, track)
        self._set_shapes(config)
        self.speeds = [config.bot_car_speed if self.bot_count else 0.0] * self.count
        self._left_is_inner = track.is_ccw
        self._layout = ObstacleLayout(config, track)
        self._bots = BotCarMotion(config, track, self.obstacle_count) if self.bot_count else None
        self.reset(np.random.default_rng(0))

    def _set_shapes(self, config: WorldConfig) -> None:
        """Collision rectangles, sensor radii, heights and box makers per object."""
        parked_cars = config.is_obstacle_bot_car
        obstacle_size = BOT_CAR_DIMENSION if parked_cars else BOX_OBSTACLE_DIMENSION
        sizes = [obstacle_size] * self.obstacle_count + [BOT_CAR_DIMENSION] * self.bot_count
        self.half_widths = [0.5 * across for across, _ in sizes]
        self.half_lengths = [0.5 * along for _, along in sizes]
        self.reach_sq = [
            (_AGENT_REACH_M + math.hypot(hl, hw)) ** 2
            for hl, hw in zip(self.half_lengths, self.half_widths, strict=True)
        ]
        box_sizes = [BOT_CAR_SIZE if parked_cars else BOX_OBSTACLE_SIZE] * self.obstacle_count
        self.box_radius = [
            0.5 * math.hypot(length, width)
            for length, width, _ in box_sizes + [BOT_CAR_SIZE] * self.bot_count
        ]
        obstacle_z = BOT_CAR_Z_M if parked_cars else OBSTACLE_Z_M
        self.heights = [obstacle_z] * self.obstacle_count + [BOT_CAR_Z_M] * self.bot_count
        if parked_cars:
            self._make_obstacle_box = bot_car
        else:
            rgb = OBSTACLE_RGB_BY_TYPE[config.obstacle_type]
            self._make_obstacle_box = lambda x, y, yaw: box_obstacle(x, y, yaw, rgb)

    # ---------------------------------------------------------------------- episode start
    def reset(self, rng: np.random.Generator) -> None:
        """Place the obstacles and bot cars for a new episode (bot clock back to 0); the other
        racers leave until ``set_other_cars`` brings them back."""
        if self.other_car_count:
            self._resize_other_cars(0)
        xs, ys, yaws, distances, offsets, left, inner = self._layout.place(rng)
        zeros = [0.0] * self.bot_count  # bot cars fill their slots in BotCarMotion.reset
        self.xs, self.ys, self.yaws = [*xs, *zeros], [*ys, *zeros], [*yaws, *zeros]
        self.distances, self.center_offsets = [*distances, *zeros], [*offsets, *zeros]
        self.left_of_center = [*left, *[False] * self.bot_count]
        self.inner = [*inner, *[True] * self.bot_count]
        self.cos = [math.cos(yaw) for yaw in self.yaws]
        self.sin = [math.sin(yaw) for yaw in self.yaws]
        self._obstacle_boxes = tuple(
            self._make_obstacle_box(x, y, yaw) for x, y, yaw in zip(xs, ys, yaws, strict=True)
        )
        self._obstacle_floor_points = [
            sensing.rectangle_points(self, i) for i in range(self.obstacle_count)
        ]
        self._bot_boxes: tuple[BoxObject, ...] | None = ()
        if self._bots is not None:
            self._bots.reset(rng, self)
            self._bot_boxes = None
        self._sort()

    # ----------------------------------------------------------------------------- motion
    def advance(self, elapsed_s: float) -> None:
        """Move the bot cars to ``elapsed_s`` seconds after the episode start."""
        if self._bots is not None:
            tau = self._bots.driving_time(elapsed_s)
            if tau is not None:
                self._bots.move(tau, self)
                self._bot_boxes = None
                self._sort()

    def pause_bots(self, elapsed_s: float) -> None:
        """A bot car ran into the agent: all bot cars stop for PENALTY_SECONDS (§9.2)."""
        self._bots.pause(elapsed_s)

    @property
    def bots_paused_until(self) -> float:
        """Episode time (s) until which the bot cars stand still after hitting the agent."""
        return 0.0 if self._bots is None else self._bots.paused_until

    def set_other_cars(self, poses: Sequence[tuple[float, float, float, float]]) -> None:
        """Put the other racers of a head-to-head race at ``(x, y, yaw, speed)`` (car origin,
        metres, radians, m/s), replacing the previous ones: bot-car sized, after the obstacles
        and bot cars."""
        if len(poses) != self.other_car_count:
            self._resize_other_cars(len(poses))
        center = self.track.center
        points = center.points
        left_is_inner = self._left_is_inner
        base = self.obstacle_count + self.bot_count
        for i, (x, y, yaw, speed) in enumerate(poses, start=base):
            near = center.project(x, y)
            (ax, ay), (bx, by) = points[near.segment], points[near.segment + 1]
            is_left = bool((bx - ax) * (y - ay) - (by - ay) * (x - ax) > 0.0)
            c, s = math.cos(yaw), math.sin(yaw)
            self.xs[i], self.ys[i], self.yaws[i], self.speeds[i] = x, y, math.atan2(s, c), speed
            self.cos[i], self.sin[i] = c, s
            self.distances[i], self.center_offsets[i] = near.arc_length, near.distance
            self.left_of_center[i], self.inner[i] = is_left, is_left == left_is_inner
        self._bot_boxes = None
        self._sort()

    def _resize_other_cars(self, count: int) -> None:
        """Make room for ``count`` other racers in every per-object list."""
        base = self.obstacle_count + self.bot_count
        half_length, half_width = 0.5 * BOT_CAR_LENGTH_M, 0.5 * BOT_CAR_WIDTH_M
        fills = [
            (self.half_widths, half_width),
            (self.half_lengths, half_length),
            (self.reach_sq, (_AGENT_REACH_M + math.hypot(half_length, half_width)) ** 2),
            (self.box_radius, 0.5 * math.hypot(BOT_CAR_SIZE[0], BOT_CAR_SIZE[1])),
            (self.heights, BOT_CAR_Z_M),
            (self.speeds, 0.0),
            (self.xs, 0.0),
            (self.ys, 0.0),
            (self.yaws, 0.0),
            (self.cos, 1.0),
            (self.sin, 0.0),
            (self.distances, 0.0),
            (self.center_offsets, 0.0),
            (self.left_of_center, False),
            (self.inner, True),
        ]
        for values, fill in fills:
            del values[base:]
            values.extend([fill] * count)
        self.other_car_count = count
        self.count = base + count
        self._bot_boxes = None
        self._sort()

    def _sort(self) -> None:
        self.order = sorted(range(self.count), key=self.distances.__getitem__)
        self.sorted_distances = [self.distances[i] for i in self.order]

    # -------------------------------------------------------------------------- queries
    @property
    def headings(self) -> list[float]:
        """``objects_heading``: yaw (radians) of each car, 0.0 for obstacles."""
        return [0.0] * self.obstacle_count + self.yaws[self.obstacle_count :]

    def is_bot(self, index: int) -> bool:
        """Whether object ``index`` is a moving car (a bot car or another racer), not a static
        obstacle."""
        return index >= self.obstacle_count

    def closest(self, arc: float) -> list[int]:
        """``closest_objects``: [previous, next] object along the centre line from ``arc`` m."""
        count = self.count
        nxt = bisect_right(self.sorted_distances, arc)
        prev = nxt - 1 if nxt > 0 else count - 1
        if nxt == count:
            nxt = 0
        return [self.order[prev], self.order[nxt]]

    def first_collision(self, x: float, y: float, yaw: float) -> int:
        """The first object the agent (car origin ``x, y``, heading ``yaw``) touches, or -1."""
        return collisions.first_collision(self, x, y, yaw)

    def crash(self, x: float, y: float, yaw: float, agent_ndist: float, elapsed_s: float) -> int:
        """The object the agent (car origin ``x, y``, heading ``yaw``, front point at
        ``agent_ndist``) crashed into, or -1 (§9.2, §9.3).

        Touching a car while ahead of it is no crash for the agent: a bot car that ran into the
        agent pauses the bot cars (``elapsed_s`` into the episode); another racer that did is
        crashed in its own environment.
        """
        hit = collisions.first_collision(self, x, y, yaw)
        if hit >= self.obstacle_count and collisions.agent_is_ahead(self, hit, agent_ndist):
            if hit < self.obstacle_count + self.bot_count:
                self.pause_bots(elapsed_s)
            return -1
        return hit

    def agent_is_ahead(self, index: int, agent_ndist: float) -> bool:
        """Whether the agent (front point at ``agent_ndist``) is ahead of car ``index``."""
        return collisions.agent_is_ahead(self, index, agent_ndist)

    def nearest(self, arc: float, obstacles_only: bool) -> int:
        """The object within CLOSEST_OBJECT_GAP_M of centre-line distance ``arc``, or -1."""
        best, best_gap = -1, CLOSEST_OBJECT_GAP_M
        length, closed = self.length, self.track.closed
        for i in range(self.obstacle_count if obstacles_only else self.count):
            gap = abs(self.distances[i] - arc)
            if closed:
                gap = min(gap % length, length - gap % length)
            if gap < best_gap:
                best, best_gap = i, gap
        return best

    # ---------------------------------------------------------------------- sensor data
    def floor_points(self, index: int) -> list[tuple[float, float, float]]:
        """Centre and collision-rectangle corners of an object at its pose height (metres)."""
        if index < self.obstacle_count:
            return self._obstacle_floor_points[index]
        return sensing.rectangle_points(self, index)

    @property
    def boxes(self) -> tuple[BoxObject, ...]:
        """Every object as a box for the sensors and the top-down view, in insertion order."""
        if self._bot_boxes is None:
            self._bot_boxes = tuple(
                bot_car(self.xs[i], self.ys[i], self.yaws[i])
                for i in range(self.obstacle_count, self.count)
            )
        return self._obstacle_boxes + self._bot_boxes

    def boxes_seen(
        self, x: float, y: float, yaw: float, camera: bool, lidar_reach: float
    ) -> Sequence[BoxObject]:
        """The boxes that can change an observation from car pose ``(x, y, yaw)``."""
        return sensing.boxes_seen(self, x, y, yaw, camera, lidar_reach)
