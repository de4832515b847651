"""The episode status of a step: the simtrace ``episode_status`` column (docs/file-formats.md §7).

``EpisodeStatus`` is a ``str`` enum: a member equals, hashes, prints and serialises (CSV, JSON)
as its raw text, so the files and the metrics stay what they were with plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class EpisodeStatus(StrEnum):
    """Raw statuses in the simapp's order; the environment writes the first eight."""

    PREPARE = "prepare"
    IN_PROGRESS = "in_progress"
    OFF_TRACK = "off_track"
    LAP_COMPLETE = "lap_complete"
    CRASHED = "crashed"
    PAUSE = "pause"
    REVERSED = "reversed"
    TIME_UP = "time_up"
    IMMOBILIZED = "immobilized"
    PARK = "park"


RESET_STATUSES = (
    EpisodeStatus.CRASHED,
    EpisodeStatus.OFF_TRACK,
    EpisodeStatus.REVERSED,
    EpisodeStatus.IMMOBILIZED,
)
"""The reset rules: a status that costs a reset (or ends the episode when none are left)."""

NON_RUN_STATUSES = (EpisodeStatus.PREPARE, EpisodeStatus.PAUSE, EpisodeStatus.PARK)
"""Statuses of steps in which the car does not drive and the reward function is not called
(reward 0); analysis leaves them out."""

STATUS_LABELS: dict[EpisodeStatus, str] = {
    EpisodeStatus.LAP_COMPLETE: "Lap complete",
    EpisodeStatus.CRASHED: "Crashed",
    EpisodeStatus.OFF_TRACK: "Off track",
    EpisodeStatus.IMMOBILIZED: "Immobilized",
    EpisodeStatus.IN_PROGRESS: "In progress",
    EpisodeStatus.PAUSE: "Pause",
    EpisodeStatus.REVERSED: "Reversed",
    EpisodeStatus.PARK: "Park",
    EpisodeStatus.TIME_UP: "Time Up",
    EpisodeStatus.PREPARE: "Prepare",
}
"""The label the metrics JSON uses for each raw status (docs/file-formats.md §5)."""
