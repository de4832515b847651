"""Polylines with fast nearest-point projection and arc-length interpolation.

These are the ``project`` / ``interpolate`` primitives of docs/simulator-contract.md §2.1,
vectorised with NumPy because the simulator calls them several times per step.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

DUPLICATE_POINT_TOLERANCE_M = 1e-9


def drop_repeated_points(points: np.ndarray) -> np.ndarray:
    """Remove consecutive points closer than 1e-9 m (as the simapp does for its geometry)."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep = np.concatenate(([True], steps > DUPLICATE_POINT_TOLERANCE_M))
    return points[keep]


@dataclass(frozen=True)
class Projection:
    """The nearest point of a polyline to a query point."""

    arc_length: float
    x: float
    y: float
    distance: float
    segment: int


class Polyline:
    """An open polyline or a closed ring (first point == last point), in metres."""

    def __init__(self, points: np.ndarray, closed: bool) -> None:
        pts = drop_repeated_points(np.asarray(points, dtype=np.float64))
        if closed and not np.array_equal(pts[0], pts[-1]):
            pts = np.vstack([pts, pts[:1]])
        if len(pts) < 2:
            raise ValueError("a polyline needs at least two distinct points")
        self.points = pts
        self.closed = closed
        self._ax = np.ascontiguousarray(pts[:-1, 0])
        self._ay = np.ascontiguousarray(pts[:-1, 1])
        self._dx = np.diff(pts[:, 0])
        self._dy = np.diff(pts[:, 1])
        seg_sq = self._dx * self._dx + self._dy * self._dy
        self._inv_seg_sq = 1.0 / seg_sq
        self.segment_lengths = np.sqrt(seg_sq)
        self.cumulative = np.concatenate(([0.0], np.cumsum(self.segment_lengths)))
        self._cumulative_list = self.cumulative.tolist()
        self._points_list = pts.tolist()
        self.length = float(self.cumulative[-1])

    def project(self, x: float, y: float) -> Projection:
        """Nearest point on the polyline (global search over every segment)."""
        px = x - self._ax
        py = y - self._ay
        t = (px * self._dx + py * self._dy) * self._inv_seg_sq
        np.clip(t, 0.0, 1.0, out=t)
        ex = px - t * self._dx
        ey = py - t * self._dy
        dist_sq = ex * ex + ey * ey
        i = int(dist_sq.argmin())
        ti = float(t[i])
        arc = self._cumulative_list[i] + ti * float(self.segment_lengths[i])
        if self.closed and arc >= self.length:
            arc = 0.0
        return Projection(
            arc_length=arc,
            x=float(self._ax[i] + ti * self._dx[i]),
            y=float(self._ay[i] + ti * self._dy[i]),
            distance=float(np.sqrt(dist_sq[i])),
            segment=i,
        )

    def project_many(self, points: np.ndarray) -> np.ndarray:
        """Arc lengths of the nearest points for an (M, 2) array of query points."""
        px = points[:, :1] - self._ax
        py = points[:, 1:2] - self._ay
        t = np.clip((px * self._dx + py * self._dy) * self._inv_seg_sq, 0.0, 1.0)
        dist_sq = (px - t * self._dx) ** 2 + (py - t * self._dy) ** 2
        seg = dist_sq.argmin(axis=1)
        arc = self.cumulative[seg] + t[np.arange(len(points)), seg] * self.segment_lengths[seg]
        if self.closed:
            arc = np.where(arc >= self.length, 0.0, arc)
        return arc

    def interpolate(self, arc_length: float) -> tuple[float, float]:
        """Point at ``arc_length`` along the line (wrapped on rings, clamped on open lines)."""
        s = self._wrap(arc_length)
        i = min(bisect_right(self._cumulative_list, s) - 1, len(self._cumulative_list) - 2)
        i = max(i, 0)
        seg_len = self._cumulative_list[i + 1] - self._cumulative_list[i]
        t = (s - self._cumulative_list[i]) / seg_len
        (x0, y0), (x1, y1) = self._points_list[i], self._points_list[i + 1]
        return x0 + t * (x1 - x0), y0 + t * (y1 - y0)

    def direction_at(self, arc_length: float) -> float:
        """Heading (radians) of the segment that starts at or contains ``arc_length``."""
        s = self._wrap(arc_length)
        i = min(bisect_right(self._cumulative_list, s) - 1, len(self._cumulative_list) - 2)
        i = max(i, 0)
        return float(np.arctan2(self._dy[i], self._dx[i]))

    def _wrap(self, arc_length: float) -> float:
        if self.closed:
            return arc_length % self.length
        return min(max(arc_length, 0.0), self.length)


def signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a closed ring: positive when its points run counter-clockwise."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
