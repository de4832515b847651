"""Tracks: route files, built-in tracks and official DeepRacer tracks, with their geometry.

``load_track(name_or_path)`` accepts a path to a ``.npy`` route file, a built-in track name, or an
official DeepRacer track name (looked up in ``DR_TRACKS_DIR``, the local cache, or downloaded).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from markov.tracks.builtin import BUILTIN_TRACKS, builtin_route
from markov.tracks.official import (
    OFFICIAL_TRACKS,
    WORKSHOP_TRACKS,
    TrackNotFoundError,
    resolve_route_file,
)
from markov.tracks.route import RouteFileError, load_route_file, validate_route
from markov.tracks.track import Track

__all__ = [
    "BUILTIN_TRACKS",
    "OFFICIAL_TRACKS",
    "WORKSHOP_TRACKS",
    "RouteFileError",
    "Track",
    "TrackNotFoundError",
    "available_tracks",
    "load_track",
    "validate_route",
]


def load_track(name_or_path: str | os.PathLike[str]) -> Track:
    """Load a track (forward direction) by path, built-in name or official name."""
    text = os.fspath(name_or_path)
    if text.endswith(".npy") or os.sep in text or "/" in text:
        path = Path(text).expanduser().resolve()
        return _load_path(str(path), path.stat().st_mtime_ns if path.exists() else 0)
    if text in BUILTIN_TRACKS:
        return _load_builtin(text)
    path = resolve_route_file(text)
    return _load_path(str(path), path.stat().st_mtime_ns)


def available_tracks() -> list[str]:
    """Built-in tracks first, then the official tracks this package knows by name."""
    return [*BUILTIN_TRACKS, *OFFICIAL_TRACKS]


@lru_cache(maxsize=32)
def _load_builtin(name: str) -> Track:
    return Track(builtin_route(name), name)


@lru_cache(maxsize=32)
def _load_path(path: str, _mtime_ns: int) -> Track:
    return Track(load_route_file(path), Path(path).stem)
