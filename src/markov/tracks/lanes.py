"""Lane curves: smooth paths along the road, parameterised by centre-line distance.

Bot cars drive along these (docs/simulator-contract.md §9.2): a periodic cubic Hermite curve through
the lane points with Catmull-Rom tangents, sampled densely, plus a fast projector from world
points to centre-line distance that searches only near the previous answer.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from markov.tracks.geometry import Polyline

LANE_CURVE_SPACING_M = 0.01
"""Spacing of the dense lane samples."""


class LaneCurve:
    """A lane as a smooth curve of centre-line distance ``d``: position, tangent and projection.

    The lane vertices sit at their projections onto the centre line; a cubic Hermite curve with
    Catmull-Rom tangents (periodic on loops) joins them, so position and heading are continuous.
    The curve is sampled once every ~1 cm of centre-line distance, together with the exact
    centre-line projection of each sample (its distance along and from the centre line);
    ``sample`` interpolates those samples linearly: a few scalar operations per call, with a
    sub-millimetre error, except that where the polyline projection jumps (on the inside of a
    centre-line corner) the jump is spread over one sample interval.
    """

    def __init__(self, center: Polyline, lane: Polyline) -> None:
        length = center.length
        closed = center.closed
        points = lane.points[:-1] if closed else lane.points
        knots, points = _increasing_knots(center.project_many(points), points, length, closed)
        tangents = _catmull_rom_tangents(knots, points, length, closed)
        if closed:
            knots = np.concatenate(([knots[-1] - length], knots, [knots[0] + length]))
            points = np.vstack([points[-1:], points, points[:1]])
            tangents = np.vstack([tangents[-1:], tangents, tangents[:1]])
        samples = max(math.ceil(length / LANE_CURVE_SPACING_M), 1)
        grid = np.linspace(0.0, length, samples + 1)
        position, derivative = _hermite(knots, points, tangents, grid)
        chunks = np.array_split(position, len(grid) // 1024 + 1)  # bounded temporary arrays
        arcs = np.concatenate([center.project_many(chunk) for chunk in chunks])
        nearest = np.column_stack(
            [np.interp(arcs, center.cumulative, center.points[:, axis]) for axis in (0, 1)]
        )
        shift = arcs - grid
        if closed:
            shift = (shift + 0.5 * length) % length - 0.5 * length
        self._length, self._closed = length, closed
        self._scale = samples / length
        self._last = samples - 1
        self._x, self._y = position[:, 0].tolist(), position[:, 1].tolist()
        self._dx, self._dy = derivative[:, 0].tolist(), derivative[:, 1].tolist()
        self._shift = shift.tolist()
        self._offset = np.hypot(*(position - nearest).T).tolist()

    def sample(self, d: float) -> tuple[float, float, float, float, float, float]:
        """``(x, y, dx/dd, dy/dd, arc, offset)`` at centre-line distance ``d`` (metres, in
        [0, L]): the lane point, its derivative, and the centre-line distance of its nearest
        centre-line point and the distance to it."""
        s = d * self._scale
        j = int(s)
        if j > self._last:
            j = self._last
        elif j < 0:
            j = 0
        f = s - j
        k = j + 1
        xs, ys, dxs, dys, shifts, offsets = (
            self._x, self._y, self._dx, self._dy, self._shift, self._offset
        )
        arc = d + shifts[j] + f * (shifts[k] - shifts[j])
        if self._closed:
            arc %= self._length
        return (
            xs[j] + f * (xs[k] - xs[j]),
            ys[j] + f * (ys[k] - ys[j]),
            dxs[j] + f * (dxs[k] - dxs[j]),
            dys[j] + f * (dys[k] - dys[j]),
            arc,
            offsets[j] + f * (offsets[k] - offsets[j]),
        )


def _increasing_knots(
    knots: np.ndarray, points: np.ndarray, length: float, closed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap projections around the start line and keep a strictly increasing subsequence."""
    knots = knots.copy()
    if closed:
        half = 0.5 * length
        i = 0
        while i < len(knots) and knots[i] > half:  # first vertices projected before the line
            knots[i] -= length
            i += 1
        i = len(knots) - 1
        while i > 0 and knots[i] < half:  # last vertices projected past the line
            knots[i] += length
            i -= 1
    keep = [0]
    for i in range(1, len(knots)):
        if knots[i] > knots[keep[-1]] + 1e-9 and (not closed or knots[i] < knots[0] + length):
            keep.append(i)
    return knots[keep], points[keep]


def _catmull_rom_tangents(
    knots: np.ndarray, points: np.ndarray, length: float, closed: bool
) -> np.ndarray:
    """dP/dd at each knot from its two neighbours (one-sided at the ends of an open lane)."""
    if closed:
        prev_u = np.concatenate(([knots[-1] - length], knots[:-1]))
        next_u = np.concatenate((knots[1:], [knots[0] + length]))
        prev_p = np.vstack([points[-1:], points[:-1]])
        next_p = np.vstack([points[1:], points[:1]])
    else:
        prev_u = np.concatenate(([knots[0]], knots[:-1]))
        next_u = np.concatenate((knots[1:], [knots[-1]]))
        prev_p = np.vstack([points[:1], points[:-1]])
        next_p = np.vstack([points[1:], points[-1:]])
    return (next_p - prev_p) / (next_u - prev_u)[:, None]


def _hermite(
    knots: np.ndarray, points: np.ndarray, tangents: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite position and derivative at ``at`` (clamped to the knot range)."""
    k = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, len(knots) - 2)
    span = knots[k + 1] - knots[k]
    t = np.clip((at - knots[k]) / span, 0.0, 1.0)[:, None]
    p0, p1 = points[k], points[k + 1]
    m0, m1 = tangents[k] * span[:, None], tangents[k + 1] * span[:, None]
    t2, t3 = t * t, t * t * t
    position = (2 * t3 - 3 * t2 + 1) * p0 + (t3 - 2 * t2 + t) * m0
    position += (3 * t2 - 2 * t3) * p1 + (t3 - t2) * m1
    derivative = (6 * t2 - 6 * t) * p0 + (3 * t2 - 4 * t + 1) * m0
    derivative += (6 * t - 6 * t2) * p1 + (3 * t2 - 2 * t) * m1
    derivative /= span[:, None]
    return position, derivative


class CenterProjector:
    """Nearest point of the centre line to a point whose projection is known to lie near a hint.

    A bot car knows its centre-line distance, so only the segment at that distance and its
    neighbours are searched (further while the nearest point sits on the end of the searched
    stretch). That gives the exact ``project`` result for a few scalar operations instead of a
    pass over every segment.
    """

    def __init__(self, center: Polyline) -> None:
        points = center.points
        dx, dy = np.diff(points[:, 0]), np.diff(points[:, 1])
        self._segments = list(
            zip(
                points[:-1, 0].tolist(),
                points[:-1, 1].tolist(),
                dx.tolist(),
                dy.tolist(),
                (1.0 / (dx * dx + dy * dy)).tolist(),
                center.cumulative[:-1].tolist(),
                center.segment_lengths.tolist(),
                strict=True,
            )
        )
        self._start = center.cumulative[:-1].tolist()
        self._closed = center.closed
        self._length = center.length

    def project(self, x: float, y: float, hint: float) -> tuple[float, float, bool]:
        """``(arc, distance, is_left)``: centre-line distance of the nearest point, the distance
        to it, and whether the point lies left of the centre line's direction there."""
        segments, closed = self._segments, self._closed
        count = len(segments)
        last = count - 1
        middle = bisect_right(self._start, hint) - 1
        low, high = middle - 1, middle + 1
        if not closed:
            low, high = max(low, 0), min(high, last)
        best_sq, best_arc, best_left, best_i, best_t = math.inf, 0.0, False, low, 0.0
        pending = range(low, high + 1)
        while pending:
            for i in pending:
                ax, ay, dx, dy, inv_sq, start, length = segments[i % count]
                rx, ry = x - ax, y - ay
                t = (rx * dx + ry * dy) * inv_sq
                t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
                ex, ey = rx - t * dx, ry - t * dy
                distance_sq = ex * ex + ey * ey
                if distance_sq < best_sq:
                    best_sq, best_arc, best_i, best_t = distance_sq, start + t * length, i, t
                    best_left = dx * ry - dy * rx > 0.0
            # While the nearest point is an end of the searched stretch, the line may come
            # closer beyond it: search on (at most once round a loop).
            pending = ()
            if high - low < last:
                if best_i == high and best_t == 1.0 and (closed or high < last):
                    high += 1
                    pending = (high,)
                elif best_i == low and best_t == 0.0 and (closed or low > 0):
                    low -= 1
                    pending = (low,)
        if closed:
            best_arc %= self._length
        return best_arc, math.sqrt(best_sq), best_left


# ------------------------------------------------------------------------------------ the world
