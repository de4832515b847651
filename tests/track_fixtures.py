"""Route arrays for tests: synthetic circles and strips, a generated official-like closed track,
and the optional official route files.

Route rows are ``[center_x, center_y, inner_x, inner_y, outer_x, outer_y]`` as in DeepRacer's
``.npy`` files: the inner border is the one towards the inside of the loop, so it is on the
driver's left on a counter-clockwise lap and on the right on a clockwise one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

OFFICIAL_WIDTH_M = 1.067
"""Road width of most official tracks (reInvent2019_track)."""
OFFICIAL_SPACING_M = 0.25
"""Centre-line waypoint spacing of the generated track; official files use 0.1 to 0.3 m."""
REPO = Path(__file__).resolve().parents[1]


def circle_route(
    radius: float = 3.0, width: float = 1.067, points: int = 121, clockwise: bool = False
) -> np.ndarray:
    """A closed circular route (first row == last row), counter-clockwise unless asked."""
    angles = np.linspace(0.0, 2.0 * np.pi, points)
    if clockwise:
        angles = -angles
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    route = np.hstack([unit * radius, unit * (radius - width / 2), unit * (radius + width / 2)])
    route[-1] = route[0]
    return route


def straight_route(length: float = 10.0, width: float = 1.067, points: int = 41) -> np.ndarray:
    """An open straight route along +x."""
    xs = np.linspace(0.0, length, points)
    zeros = np.zeros_like(xs)
    half = width / 2
    return np.stack([xs, zeros, xs, zeros + half, xs, zeros - half], axis=1)


def kidney_route(
    clockwise: bool = False,
    width: float = OFFICIAL_WIDTH_M,
    spacing: float = OFFICIAL_SPACING_M,
    repeated_row: int | None = 40,
) -> np.ndarray:
    """A closed kidney-shaped route laid out like an official track file.

    The centre line ``r(t) = 3.2 (1 + 0.12 cos t + 0.28 cos 2t)`` (metres) has two convex ends,
    one tighter (2 m radius) than the other, and a concave stretch on each long side, so a
    driver turns both ways within a lap; it is about 21.7 m long, resampled at ``spacing``
    metres. ``clockwise`` gives the same loop in the other file order (the inner border stays
    inside the loop, as in the official ``_cw`` files). ``repeated_row`` repeats one centre
    row, as several official files do (None: no repeat). The first row equals the last.
    """
    t = np.linspace(0.0, 2.0 * np.pi, 4001)
    radius = 3.2 * (1.0 + 0.12 * np.cos(t) + 0.28 * np.cos(2.0 * t))
    dense = np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(dense, axis=0).T))])
    count = max(round(arc[-1] / spacing), 8)
    at = np.linspace(0.0, arc[-1], count + 1)
    center = np.stack([np.interp(at, arc, dense[:, 0]), np.interp(at, arc, dense[:, 1])], axis=1)
    center[-1] = center[0]
    tangent = np.roll(center[:-1], -1, axis=0) - np.roll(center[:-1], 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    left = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)  # inside of a ccw loop
    left = np.vstack([left, left[:1]])
    half = width / 2
    route = np.hstack([center, center + half * left, center - half * left])
    if clockwise:
        route = route[::-1].copy()
    if repeated_row is not None:
        route = np.insert(route, repeated_row, route[repeated_row], axis=0)
    return route


def official_tracks_dir() -> Path:
    """Where optional official route files are read: $DR_TRACKS_DIR, else ../shared/tracks."""
    configured = os.environ.get("DR_TRACKS_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "tracks"


OFFICIAL_FILES_DIR = official_tracks_dir()
"""The folder as it was when the tests started (tests may change DR_TRACKS_DIR later)."""


def official_route(name: str) -> np.ndarray:
    """An official route array by name, or skip: these files are not in the repository."""
    path = OFFICIAL_FILES_DIR / f"{name}.npy"
    if not path.is_file():
        pytest.skip(
            f"optional check on the official {name}.npy: not in {OFFICIAL_FILES_DIR} "
            "(set DR_TRACKS_DIR to a folder of official route files to run it)"
        )
    return np.load(path, allow_pickle=False)
