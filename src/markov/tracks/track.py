"""A track in one driving direction: the geometry every reward parameter is computed from.

Follows docs/simulator-contract.md §2.1 and §10: lines are reversed as a whole for ``reverse_dir``,
``waypoints`` keep the raw row numbering of the route file (closing duplicate included), and
internal geometry drops repeated points.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import Polygon

from markov.tracks.geometry import Polyline, signed_area
from markov.tracks.route import is_closed_route, validate_route


@dataclass(frozen=True)
class TrackWidth:
    """Width of the road at a centre-line point, with the border points it was measured between."""

    width: float
    inner_point: tuple[float, float]
    outer_point: tuple[float, float]


class Track:
    """Track geometry for one driving direction (forward file order, or reversed)."""

    def __init__(self, route: np.ndarray, name: str, reverse: bool = False) -> None:
        self.route = validate_route(route, name)
        self.name = name
        self.reverse = reverse
        self.closed = is_closed_route(self.route)
        rows = self.route[::-1] if reverse else self.route
        self.center = Polyline(rows[:, 0:2], self.closed)
        self.inner = Polyline(rows[:, 2:4], self.closed)
        self.outer = Polyline(rows[:, 4:6], self.closed)
        self.length = self.center.length
        self.waypoints: list[tuple[float, float]] = [(float(x), float(y)) for x, y in rows[:, 0:2]]
        forward_area = signed_area(self.route[:, 0:2]) if self.closed else 1.0
        self.is_ccw = (forward_area > 0) != reverse if self.closed else True
        self._waypoint_ndists = self._waypoint_positions()

    def reversed(self) -> Track:
        """The same track driven the other way."""
        return Track(self.route, self.name, reverse=not self.reverse)

    @cached_property
    def road_polygon(self) -> Polygon:
        """The drivable surface: outer border with the inner border as a hole (or a strip)."""
        if self.closed:
            polygon = Polygon(self.outer.points, holes=[self.inner.points])
        else:
            polygon = Polygon(np.vstack([self.inner.points, self.outer.points[::-1]]))
        polygon = polygon if polygon.is_valid else shapely.make_valid(polygon)
        shapely.prepare(polygon)
        return polygon

    @cached_property
    def inner_polygon(self) -> Polygon:
        """The inner half of the road: centre line with the inner border as a hole."""
        if self.closed:
            polygon = Polygon(self.center.points, holes=[self.inner.points])
        else:
            polygon = Polygon(np.vstack([self.inner.points, self.center.points[::-1]]))
        polygon = polygon if polygon.is_valid else shapely.make_valid(polygon)
        shapely.prepare(polygon)
        return polygon

    @cached_property
    def inner_lane(self) -> Polyline:
        """Mid-line of the inner half of the road, ``(inner + center) / 2`` row by row."""
        rows = self.route[::-1] if self.reverse else self.route
        return Polyline((rows[:, 2:4] + rows[:, 0:2]) / 2.0, self.closed)

    @cached_property
    def outer_lane(self) -> Polyline:
        """Mid-line of the outer half of the road, ``(outer + center) / 2`` row by row."""
        rows = self.route[::-1] if self.reverse else self.route
        return Polyline((rows[:, 4:6] + rows[:, 0:2]) / 2.0, self.closed)

    def points_on_road(self, points: np.ndarray) -> np.ndarray:
        """For each (x, y) row, whether it lies strictly inside the road polygon."""
        return shapely.contains_xy(self.road_polygon, points[:, 0], points[:, 1])

    def width_at(self, center_x: float, center_y: float) -> TrackWidth:
        """Road width measured through a centre-line point, as the simapp measures it."""
        near_in = self.inner.project(center_x, center_y)
        near_out = self.outer.project(center_x, center_y)
        width = float(np.hypot(near_in.x - near_out.x, near_in.y - near_out.y))
        return TrackWidth(width, (near_in.x, near_in.y), (near_out.x, near_out.y))

    def closest_waypoints(self, ndist: float) -> list[int]:
        """``[previous, next]`` waypoint indices around a normalised centre-line position."""
        count = len(self.waypoints)
        nxt = bisect_right(self._waypoint_ndists, ndist)
        prev = nxt - 1
        if prev == -1:
            prev = count - 1
        if nxt == count:
            nxt = 0
        return [prev, nxt]

    def start_pose(self, start_ndist: float) -> tuple[float, float, float]:
        """Car-origin pose on the centre line at a normalised distance, facing along the road."""
        arc = start_ndist * self.length
        if not np.isfinite(arc):
            arc = 0.0
        x, y = self.center.interpolate(arc)
        return x, y, self.center.direction_at(arc)

    def lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre, inner and outer point arrays of this direction (repeats dropped)."""
        return self.center.points, self.inner.points, self.outer.points

    def _waypoint_positions(self) -> list[float]:
        ndists = self.center.project_many(np.asarray(self.waypoints[:-1])) / self.length
        return [*ndists.tolist(), 1.0]

    def __repr__(self) -> str:
        direction = "reversed" if self.reverse else "forward"
        shape = "loop" if self.closed else "open"
        return f"Track({self.name!r}, {direction}, {shape}, length={self.length:.3f} m)"
