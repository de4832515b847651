"""Which track each logged step was driven on (multi-config runs give workers their own tracks
or directions), and the sections a track is cut into for the per-section counts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from markov.tracks import Track
from workshop_helpers.plotting import as_track

TrackSource = Track | str | os.PathLike[str]
Tracks = TrackSource | Mapping[int, TrackSource]
"""One track for every row, or each worker's own track as ``{worker: track}`` (a multi-config
run, whose workers may drive other tracks or directions; ``settings.RunSettings.tracks``)."""


@dataclass(frozen=True)
class TrackPart:
    """The rows that one track's workers drove, with that track (direction included)."""

    track: Track
    workers: tuple[int, ...]
    rows: pd.DataFrame

    @property
    def title(self) -> str:
        """E.g. ``Workshop_Kidney (worker 1)`` or ``Workshop_Oval, reversed (workers 0, 2)``."""
        direction = ", reversed" if self.track.reverse else ""
        if not self.workers:
            return f"{self.track.name}{direction}"
        label = "worker" if len(self.workers) == 1 else "workers"
        return f"{self.track.name}{direction} ({label} {', '.join(map(str, self.workers))})"


def split_by_track(df: pd.DataFrame, tracks: Tracks) -> list[TrackPart]:
    """The rows of ``df`` grouped by the track their worker drove, in worker order.

    With one track every row is on it. With ``{worker: track}`` each row goes with its
    ``worker``'s track; workers on the same track and direction share a part. A track whose
    workers have no rows gets no part.
    """
    if not isinstance(tracks, Mapping):
        workers = tuple(sorted(int(w) for w in df["worker"].unique())) if "worker" in df else ()
        return [TrackPart(as_track(tracks), workers, df)]
    if "worker" not in df.columns:
        raise ValueError(
            "the frame has no 'worker' column to pick each row's track; load it with load_run "
            "or pass one track"
        )
    by_worker = {int(worker): as_track(track) for worker, track in tracks.items()}
    present = sorted(int(w) for w in df["worker"].unique()) if len(df) else []
    missing = [worker for worker in present if worker not in by_worker]
    if missing:
        raise ValueError(
            f"tracks has no track for worker(s) {missing}; pass {{worker: track}} for every "
            f"worker of the run (known: {sorted(by_worker)})"
        )
    groups: dict[tuple[str, bool], list[int]] = {}
    for worker in present:
        track = by_worker[worker]
        groups.setdefault((track.name, track.reverse), []).append(worker)
    return [
        TrackPart(by_worker[workers[0]], tuple(workers), df[df["worker"].isin(workers)])
        for workers in groups.values()
    ]


def track_sections(steps: pd.DataFrame, track: Tracks, sections: int = 4) -> pd.Series:
    """Each step's track section on its worker's track: the distinct waypoints split into
    ``sections`` equal runs along the driving direction (a loop's closing duplicate point is not
    counted), using each step's ``closest_waypoint``."""
    numbers = [
        section_numbers(part.rows["closest_waypoint"], part.track, sections)
        for part in split_by_track(steps, track)
    ]
    if not numbers:
        return pd.Series(dtype=np.int64, name="section")
    return pd.concat(numbers).reindex(steps.index)


def section_numbers(closest_waypoint: pd.Series, track: Track, sections: int) -> pd.Series:
    """The section of each ``closest_waypoint`` on one track, numbered as ``track_sections``."""
    waypoints = len(track.waypoints) - (1 if track.closed else 0)
    section = (closest_waypoint * sections // waypoints).clip(upper=sections - 1)
    return section.astype(int).rename("section")


def section_starts(track: Track, sections: int) -> list[int]:
    """The first waypoint of every section, with the numbering of ``track_sections``."""
    waypoints = len(track.waypoints) - (1 if track.closed else 0)
    return [math.ceil(s * waypoints / sections) for s in range(sections)]
