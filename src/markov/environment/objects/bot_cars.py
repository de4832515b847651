"""How bot cars drive (docs/simulator-contract.md §9.2).

Bot cars drive at ``BOT_CAR_SPEED`` along smooth lane curves parameterised by centre-line
distance: ``d(t) = (d0 + v * tau) mod L`` with the driving time
``tau = max(t - crashes * PENALTY_SECONDS, 0)``, ``t`` the time since the episode started. A bot
car that runs into the agent pauses all bot cars for ``PENALTY_SECONDS`` (``pause``), after
which they continue from where they stopped. With ``IS_LANE_CHANGE`` each car waits
U(``LOWER_LANE_CHANGE_TIME``, ``UPPER_LANE_CHANGE_TIME``) seconds of driving time, then blends onto
the other lane over ``LANE_CHANGE_DISTANCE`` metres of centre-line distance (a smoothstep blend
of the two lane curves, so position and heading stay continuous), and so on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from markov.environment.objects.placement import (
    LAST_PLACEMENT_MARGIN_M,
    inner_lane_choices,
    spread_distances,
)
from markov.environment.world_config import WorldConfig
from markov.tracks import Track
from markov.tracks.lanes import CenterProjector, LaneCurve

if TYPE_CHECKING:
    from markov.environment.objects.track_objects import TrackObjects


class BotCarMotion:
    """The bot cars' starts, lane-change schedule and pauses; writes their poses, from slot
    ``first`` on, into the objects' per-object lists."""

    def __init__(self, config: WorldConfig, track: Track, first: int) -> None:
        self._config = config
        self.count = config.bot_car_count
        self._first = first
        self._length = track.length
        self._lanes = (
            LaneCurve(track.center, track.inner_lane),
            LaneCurve(track.center, track.outer_lane),
        )
        self._projector = CenterProjector(track.center)
        self._lane_is_left = (track.is_ccw, not track.is_ccw)  # inner lane, outer lane
        self._speed = config.bot_car_speed
        self._change_distance = config.lane_change_distance
        self.paused_until = 0.0

    def reset(self, rng: np.random.Generator, objects: TrackObjects) -> None:
        """Draw the starts, lanes and first lane changes of a new episode and put the cars
        there (bot clock back to 0)."""
        config = self._config
        count, randomized = self.count, config.randomize_bot_car_locations
        start = config.min_distance_between_bot_cars
        end = self._length - LAST_PLACEMENT_MARGIN_M
        self._rng = rng
        self._start = spread_distances(start, end, count, start, randomized, rng)
        self._lane = [0 if inner else 1 for inner in inner_lane_choices(count, randomized, rng)]
        self._crashes = 0
        self.paused_until = 0.0
        never = math.inf
        self._change_start = [never] * count
        self._change_end = [never] * count
        if config.is_lane_change:
            for k in range(count):
                self._schedule_lane_change(k, 0.0)
        self.move(0.0, objects)

    def driving_time(self, elapsed_s: float) -> float | None:
        """Seconds the cars have driven ``elapsed_s`` after the episode start; None while
        they are paused."""
        if elapsed_s < self.paused_until:
            return None
        tau = elapsed_s - self._crashes * self._config.penalty_seconds
        return tau if tau > 0.0 else 0.0

    def pause(self, elapsed_s: float) -> None:
        """A bot car ran into the agent: all bot cars stop for PENALTY_SECONDS (§9.2)."""
        if elapsed_s >= self.paused_until:
            self._crashes += 1
            self.paused_until = elapsed_s + self._config.penalty_seconds

    def _schedule_lane_change(self, k: int, after_tau: float) -> None:
        config = self._config
        delay = float(
            self._rng.uniform(config.lower_lane_change_time, config.upper_lane_change_time)
        )
        self._change_start[k] = after_tau + delay
        self._change_end[k] = self._change_start[k] + self._change_distance / self._speed

    def move(self, tau: float, objects: TrackObjects) -> None:
        """Write every bot car's pose after ``tau`` seconds of driving into ``objects``."""
        travel, speed = self._speed * tau, self._speed
        length, base = self._length, self._first
        lanes, span, lane_is_left = self._lanes, self._change_distance, self._lane_is_left
        starts, ends, bot_lane = self._change_start, self._change_end, self._lane
        xs, ys, yaws, cos, sin = objects.xs, objects.ys, objects.yaws, objects.cos, objects.sin
        for k, start_d in enumerate(self._start):
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
            objects.distances[i], objects.center_offsets[i] = arc, offset
            objects.left_of_center[i] = is_left
            objects.inner[i] = (lane == 0) == on_start_lane
