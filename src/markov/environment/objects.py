"""Obstacles and bot cars on a track: placement, motion and collisions
(docs/simulator-contract.md §9).

Placement (§9.1, §9.2). Centre-line distances are ``linspace(start, L - 1.0, N)``; obstacles start
at ``MIN_DISTANCE_BETWEEN_OBSTACLES`` percent of ``L``, bot cars at
``MIN_DISTANCE_BETWEEN_BOT_CARS`` metres. Lanes alternate inner, outer, inner, ... When
randomised, each distance (in random order) is redrawn uniformly between its neighbours +- the
minimum gap and each lane is drawn at random. ``OBJECT_POSITIONS`` ("ndist,lane") overrides the
obstacle count and randomisation. An obstacle stands on the lane point nearest to its centre-line
point and faces along that lane segment. Everything is re-placed on every ``reset`` with the
environment's seeded generator.

Bot cars (§9.2) drive at ``BOT_CAR_SPEED`` along smooth lane curves parameterised by centre-line
distance: ``d(t) = (d0 + v * tau) mod L`` with the driving time
``tau = max(t - crashes * PENALTY_SECONDS, 0)``, ``t`` the time since the episode started. A bot
car that runs into the agent pauses all bot cars for ``PENALTY_SECONDS`` (``pause_bots``), after
which they continue from where they stopped. With ``IS_LANE_CHANGE`` each car waits
U(``LOWER_LANE_CHANGE_TIME``, ``UPPER_LANE_CHANGE_TIME``) seconds of driving time, then blends onto
the other lane over ``LANE_CHANGE_DISTANCE`` metres of centre-line distance (a smoothstep blend
of the two lane curves, so position and heading stay continuous), and so on.

Other racers (head-to-head races): ``set_other_cars`` puts the other cars of a race after the
obstacles and bot cars, with the bot-car footprint; the race sets their poses every step.

Collisions (§9.3): the agent crashes into the first object (in insertion order: obstacles, bot
cars, other racers) whose rectangle strictly contains a corner of the agent's footprint. Another
racer is hit when the two footprints overlap with a positive area (a separating-axis test): two
equally wide cars in exact line, as lockstep cars often are, overlap without either having a
corner strictly inside the other. A car that the agent touches while ahead of it is not the
agent's crash (§9.2): a bot car then pauses, another racer is crashed in its own environment.

The per-step paths (``advance``, ``first_collision``) use scalar arithmetic on a handful of
objects, which is cheaper than numpy at these sizes; per-episode work uses numpy and shapely.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np
import shapely

from markov.environment.car_geometry import (
    BOT_CAR_DIMENSION,
    BOT_CAR_LENGTH_M,
    BOT_CAR_WIDTH_M,
    FRONT_POINT_OFFSET_M,
    footprint_corners,
)
from markov.environment.sensors.camera import CAMERA_PITCH, CAMERA_X, HORIZONTAL_FOV
from markov.environment.sensors.lidar import LIDAR_MAX_ANGLE, LIDAR_X
from markov.environment.sensors.scene import (
    BOT_CAR_SIZE,
    BOX_OBSTACLE_RGB,
    BOX_OBSTACLE_SIZE,
    BoxObject,
    bot_car,
    box_obstacle,
)
from markov.environment.world_config import INNER_LANE, WorldConfig, WorldConfigError
from markov.tracks import Track, load_track
from markov.tracks.lanes import CenterProjector, LaneCurve

BOX_OBSTACLE_DIMENSION = (0.4, 0.5)
"""Collision rectangle of a box obstacle: 0.4 m across and 0.5 m along its yaw (markov)."""

OBSTACLE_RGB_BY_TYPE = {
    "box_obstacle": BOX_OBSTACLE_RGB,
    "deepracer_box_obstacle": (95, 60, 165),
    "amazon_box_obstacle": (145, 100, 55),
}
"""Colour per ``OBSTACLE_TYPE``; the types only differ in looks (same collision box)."""

OBSTACLE_Z_M = 0.1
BOT_CAR_Z_M = 0.0
"""Heights of the object poses; ``object_in_camera`` tests their floor rectangles there."""

CLOSEST_OBJECT_GAP_M = 1.0
"""An object this close (along the centre line) to a start or respawn point moves the car."""

LAST_PLACEMENT_MARGIN_M = 1.0
"""The last object stands at least this far before the end of the lap (``L - 1.0``)."""

"""Centre-line spacing of the precomputed lane-curve samples."""

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


class ObjectPlacementError(WorldConfigError):
    """The configured objects do not fit on the track."""


# ------------------------------------------------------------------------------------ placement
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


# ---------------------------------------------------------------------------------- lane curves
class TrackObjects:
    """The obstacles, bot cars and other racers of one race on one track direction.

    Per-object state is kept in parallel lists indexed in insertion order (obstacles, bot cars,
    then other racers): ``xs``, ``ys``, ``yaws`` (radians), ``distances`` (centre-line projection,
    metres from waypoint 0 of this direction), ``center_offsets`` (distance to the centre line),
    ``left_of_center``, ``inner`` (which lane the object occupies), ``speeds`` and ``boxes`` (for
    sensors). ``order`` / ``sorted_distances`` sort the objects along the centre line.
    """

    def __init__(self, config: WorldConfig, track: Track) -> None:
        self.track = track
        self.length = track.length
        self.obstacle_count = config.obstacle_count
        self.bot_count = config.bot_car_count
        self.count = self.obstacle_count + self.bot_count
        self.other_car_count = 0
        self._config = config
        self._check_fit()

        parked_cars = config.is_obstacle_bot_car
        obstacle_size = BOT_CAR_DIMENSION if parked_cars else BOX_OBSTACLE_DIMENSION
        sizes = [obstacle_size] * self.obstacle_count + [BOT_CAR_DIMENSION] * self.bot_count
        self._half_widths = [0.5 * across for across, _ in sizes]
        self._half_lengths = [0.5 * along for _, along in sizes]
        agent_reach = 0.5 * math.hypot(BOT_CAR_LENGTH_M, BOT_CAR_WIDTH_M)
        self._reach_sq = [
            (agent_reach + math.hypot(hl, hw)) ** 2
            for hl, hw in zip(self._half_lengths, self._half_widths, strict=True)
        ]
        box_sizes = [BOT_CAR_SIZE if parked_cars else BOX_OBSTACLE_SIZE] * self.obstacle_count
        self._box_radius = [
            0.5 * math.hypot(length, width)
            for length, width, _ in box_sizes + [BOT_CAR_SIZE] * self.bot_count
        ]
        obstacle_z = BOT_CAR_Z_M if parked_cars else OBSTACLE_Z_M
        self._heights = [obstacle_z] * self.obstacle_count + [BOT_CAR_Z_M] * self.bot_count
        if parked_cars:
            self._make_obstacle_box = bot_car
        else:
            rgb = OBSTACLE_RGB_BY_TYPE[config.obstacle_type]
            self._make_obstacle_box = lambda x, y, yaw: box_obstacle(x, y, yaw, rgb)
        self.speeds = [config.bot_car_speed if self.bot_count else 0.0] * self.count
        self._left_is_inner = track.is_ccw
        self._fixed_obstacles: tuple | None = None
        if self.bot_count:
            self._lanes = (
                LaneCurve(track.center, track.inner_lane),
                LaneCurve(track.center, track.outer_lane),
            )
            self._projector = CenterProjector(track.center)
            self._lane_is_left = (track.is_ccw, not track.is_ccw)  # inner lane, outer lane
        self._rng = np.random.default_rng(0)
        self.reset(self._rng)

    # ---------------------------------------------------------------------- episode start
    def reset(self, rng: np.random.Generator) -> None:
        """Place the obstacles and bot cars for a new episode (bot clock back to 0); the other
        racers leave until ``set_other_cars`` brings them back."""
        self._rng = rng
        if self.other_car_count:
            self._resize_other_cars(0)
        xs, ys, yaws, distances, offsets, left, inner = self._obstacle_layout(rng)
        zeros = [0.0] * self.bot_count  # bot cars fill their slots in _reset_bots
        self.xs, self.ys, self.yaws = [*xs, *zeros], [*ys, *zeros], [*yaws, *zeros]
        self.distances, self.center_offsets = [*distances, *zeros], [*offsets, *zeros]
        self.left_of_center = [*left, *[False] * self.bot_count]
        self.inner = [*inner, *[True] * self.bot_count]
        self._cos = [math.cos(yaw) for yaw in self.yaws]
        self._sin = [math.sin(yaw) for yaw in self.yaws]
        self._obstacle_boxes = tuple(
            self._make_obstacle_box(x, y, yaw) for x, y, yaw in zip(xs, ys, yaws, strict=True)
        )
        self._obstacle_floor_points = [
            self._rectangle_points(i) for i in range(self.obstacle_count)
        ]
        self._bot_boxes: tuple[BoxObject, ...] | None = ()
        if self.bot_count:
            self._reset_bots(rng)
        else:
            self._sort()

    def _obstacle_layout(self, rng: np.random.Generator) -> tuple:
        """Poses and per-episode params of the obstacles (cached when not randomised)."""
        config = self._config
        randomized = config.randomize_obstacle_locations and not config.object_positions
        if self._fixed_obstacles is not None and not randomized:
            return self._fixed_obstacles
        count, track, length = self.obstacle_count, self.track, self.length
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
            self._fixed_obstacles = layout
        return layout

    def _static_params(self, xs: list[float], ys: list[float]) -> tuple:
        """Centre-line projection, distance from it and side of each obstacle (§2.3)."""
        if not xs:
            return [], [], []
        points = np.column_stack([xs, ys])
        center = self.track.center
        arcs = center.project_many(points)
        offsets = [
            math.hypot(x - cx, y - cy)
            for x, y, (cx, cy) in zip(xs, ys, (center.interpolate(a) for a in arcs), strict=True)
        ]
        inside = shapely.contains_xy(self.track.inner_polygon, points[:, 0], points[:, 1])
        left = [bool(flag) == self._left_is_inner for flag in inside]
        return arcs.tolist(), offsets, left

    def _reset_bots(self, rng: np.random.Generator) -> None:
        config = self._config
        count, randomized = self.bot_count, config.randomize_bot_car_locations
        start = config.min_distance_between_bot_cars
        end = self.length - LAST_PLACEMENT_MARGIN_M
        self._bot_start = spread_distances(start, end, count, start, randomized, rng)
        self._bot_lane = [0 if inner else 1 for inner in inner_lane_choices(count, randomized, rng)]
        self._speed = config.bot_car_speed
        self._change_distance = config.lane_change_distance
        self._crashes = 0
        self._paused_until = 0.0
        never = math.inf
        self._change_start = [never] * count
        self._change_end = [never] * count
        if config.is_lane_change:
            for k in range(count):
                self._schedule_lane_change(k, 0.0)
        self._move_bots(0.0)

    def _schedule_lane_change(self, k: int, after_tau: float) -> None:
        config = self._config
        delay = float(
            self._rng.uniform(config.lower_lane_change_time, config.upper_lane_change_time)
        )
        self._change_start[k] = after_tau + delay
        self._change_end[k] = self._change_start[k] + self._change_distance / self._speed

    # ----------------------------------------------------------------------------- motion
    def advance(self, elapsed_s: float) -> None:
        """Move the bot cars to ``elapsed_s`` seconds after the episode start."""
        if self.bot_count and elapsed_s >= self._paused_until:
            tau = elapsed_s - self._crashes * self._config.penalty_seconds
            self._move_bots(tau if tau > 0.0 else 0.0)

    def pause_bots(self, elapsed_s: float) -> None:
        """A bot car ran into the agent: all bot cars stop for PENALTY_SECONDS (§9.2)."""
        if elapsed_s >= self._paused_until:
            self._crashes += 1
            self._paused_until = elapsed_s + self._config.penalty_seconds

    @property
    def bots_paused_until(self) -> float:
        """Episode time (s) until which the bot cars stand still after hitting the agent."""
        return self._paused_until

    def _move_bots(self, tau: float) -> None:
        travel, speed = self._speed * tau, self._speed
        length, base = self.length, self.obstacle_count
        lanes, span, lane_is_left = self._lanes, self._change_distance, self._lane_is_left
        starts, ends, bot_lane = self._change_start, self._change_end, self._bot_lane
        xs, ys, yaws, cos, sin = self.xs, self.ys, self.yaws, self._cos, self._sin
        for k, start_d in enumerate(self._bot_start):
            while tau >= ends[k]:
                bot_lane[k] = 1 - bot_lane[k]
                self._schedule_lane_change(k, ends[k])
            lane = bot_lane[k]
            d = (start_d + travel) % length
            x, y, dx, dy, arc, offset = lanes[lane].sample(d)
            is_left, on_start_lane = lane_is_left[lane], True
            if tau > starts[k]:
                tx, ty, tdx, tdy, _, _ = lanes[1 - lane].sample(d)
                s = speed * (tau - starts[k]) / span
                weight = s * s * (3.0 - 2.0 * s)
                slope = 6.0 * s * (1.0 - s) / span
                dx += weight * (tdx - dx) + slope * (tx - x)
                dy += weight * (tdy - dy) + slope * (ty - y)
                x += weight * (tx - x)
                y += weight * (ty - y)
                arc, offset, is_left = self._projector.project(x, y, d)
                on_start_lane = weight < 0.5
            i = base + k
            norm = math.hypot(dx, dy)
            xs[i], ys[i], yaws[i] = x, y, math.atan2(dy, dx)
            cos[i], sin[i] = dx / norm, dy / norm
            self.distances[i], self.center_offsets[i] = arc, offset
            self.left_of_center[i] = is_left
            self.inner[i] = (lane == 0) == on_start_lane
        self._bot_boxes = None
        self._sort()

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
            self._cos[i], self._sin[i] = c, s
            self.distances[i], self.center_offsets[i] = near.arc_length, near.distance
            self.left_of_center[i], self.inner[i] = is_left, is_left == left_is_inner
        self._bot_boxes = None
        self._sort()

    def _resize_other_cars(self, count: int) -> None:
        """Make room for ``count`` other racers in every per-object list."""
        base = self.obstacle_count + self.bot_count
        half_length, half_width = 0.5 * BOT_CAR_LENGTH_M, 0.5 * BOT_CAR_WIDTH_M
        agent_reach = 0.5 * math.hypot(BOT_CAR_LENGTH_M, BOT_CAR_WIDTH_M)
        fills = [
            (self._half_widths, half_width),
            (self._half_lengths, half_length),
            (self._reach_sq, (agent_reach + math.hypot(half_length, half_width)) ** 2),
            (self._box_radius, 0.5 * math.hypot(BOT_CAR_SIZE[0], BOT_CAR_SIZE[1])),
            (self._heights, BOT_CAR_Z_M),
            (self.speeds, 0.0),
            (self.xs, 0.0),
            (self.ys, 0.0),
            (self.yaws, 0.0),
            (self._cos, 1.0),
            (self._sin, 0.0),
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
        """Index of the first object the agent (car origin ``x, y``, heading ``yaw``) touches, or
        -1: an obstacle or bot car whose rectangle strictly contains an agent footprint corner,
        else another racer whose footprint overlaps the agent's."""
        corners = None
        xs, ys = self.xs, self.ys
        for i in range(self.count - self.other_car_count):
            ox, oy = xs[i], ys[i]
            if (ox - x) ** 2 + (oy - y) ** 2 >= self._reach_sq[i]:
                continue
            if corners is None:
                corners = footprint_corners(x, y, yaw).tolist()
            c, s = self._cos[i], self._sin[i]
            half_length, half_width = self._half_lengths[i], self._half_widths[i]
            for cx, cy in corners:
                rx, ry = cx - ox, cy - oy
                if abs(rx * c + ry * s) < half_length and abs(ry * c - rx * s) < half_width:
                    return i
        if self.other_car_count:
            return self._first_other_car_overlap(x, y, yaw)
        return -1

    def _first_other_car_overlap(self, x: float, y: float, yaw: float) -> int:
        """Index of the first other racer whose footprint overlaps the agent's footprint with a
        positive area (no separating axis among the four rectangle sides), or -1."""
        ca, sa = math.cos(yaw), math.sin(yaw)
        hl, hw = 0.5 * BOT_CAR_LENGTH_M, 0.5 * BOT_CAR_WIDTH_M
        for i in range(self.count - self.other_car_count, self.count):
            dx, dy = self.xs[i] - x, self.ys[i] - y
            if dx * dx + dy * dy >= self._reach_sq[i]:
                continue
            cb, sb = self._cos[i], self._sin[i]
            hlb, hwb = self._half_lengths[i], self._half_widths[i]
            parallel, crossing = abs(ca * cb + sa * sb), abs(ca * sb - sa * cb)
            if (
                abs(dx * ca + dy * sa) < hl + hlb * parallel + hwb * crossing
                and abs(dy * ca - dx * sa) < hw + hlb * crossing + hwb * parallel
                and abs(dx * cb + dy * sb) < hlb + hl * parallel + hw * crossing
                and abs(dy * cb - dx * sb) < hwb + hl * crossing + hw * parallel
            ):
                return i
        return -1

    def crash(self, x: float, y: float, yaw: float, agent_ndist: float, elapsed_s: float) -> int:
        """The object the agent (car origin ``x, y``, heading ``yaw``, front point at
        ``agent_ndist``) crashed into, or -1 (§9.2, §9.3).

        Touching a car while ahead of it is no crash for the agent: a bot car that ran into the
        agent pauses the bot cars (``elapsed_s`` into the episode); another racer that did is
        crashed in its own environment.
        """
        hit = self.first_collision(x, y, yaw)
        if hit >= self.obstacle_count and self.agent_is_ahead(hit, agent_ndist):
            if hit < self.obstacle_count + self.bot_count:
                self.pause_bots(elapsed_s)
            return -1
        return hit

    def agent_is_ahead(self, index: int, agent_ndist: float) -> bool:
        """Whether the agent (front point at ``agent_ndist``) is ahead of car ``index``.

        Both are compared by normalised centre-line position of their front points, on the
        circle: "ahead" means less than half a lap in front.
        """
        bot_ndist = (self.distances[index] + FRONT_POINT_OFFSET_M) / self.length % 1.0
        gap = (agent_ndist - bot_ndist) % 1.0
        return 0.0 < gap < 0.5

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

    def floor_points(self, index: int) -> list[tuple[float, float, float]]:
        """Centre and collision-rectangle corners of an object at its pose height (metres)."""
        if index < self.obstacle_count:
            return self._obstacle_floor_points[index]
        return self._rectangle_points(index)

    def _rectangle_points(self, index: int) -> list[tuple[float, float, float]]:
        x, y, z = self.xs[index], self.ys[index], self._heights[index]
        c, s = self._cos[index], self._sin[index]
        hl, hw = self._half_lengths[index], self._half_widths[index]
        points = [(x, y, z)]
        for along, across in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw)):
            points.append((x + along * c - across * s, y + along * s + across * c, z))
        return points

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
        """The boxes that can change an observation from car pose ``(x, y, yaw)``.

        A box can show in a camera only if its footprint circle meets the ground wedge that the
        camera rays span. A lidar observation only changes within its clipping distance
        (``lidar_reach``; 0 = no lidar) and outside the unscanned wedge straight ahead. Leaving
        the other boxes out spares the sensors their work and leaves the observation as it is.
        """
        c, s = math.cos(yaw), math.sin(yaw)
        reach = lidar_reach + _LIDAR_NOISE_MARGIN_M if lidar_reach > 0.0 else -math.inf
        seen = []
        for i in range(self.count):
            rx, ry, radius = self.xs[i] - x, self.ys[i] - y, self._box_radius[i]
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
        boxes = self.boxes
        return [boxes[i] for i in seen]

    def _check_fit(self) -> None:
        check_objects_fit(self._config, self.track)


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
