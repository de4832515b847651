"""Training and evaluation metrics JSON files (docs/file-formats.md §5, §6) and their names
(§8.3, §9).

Both writers keep the episode list in memory and rewrite the whole file atomically after every
episode, as the simapp does, so a notebook reading the file mid-run always gets valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markov.environment.episode_status import STATUS_LABELS, EpisodeStatus
from markov.formats.checkpoints import BEST_MODEL_METRICS
from markov.formats.layout import RunLayout
from markov.store import ModelStore

TRAINING_METRICS_VERSION = 2.0
PHASES = ("training", "evaluation")
RESET_COUNT_FIELDS: dict[str, str] = {
    EpisodeStatus.CRASHED: "crash_count",
    EpisodeStatus.IMMOBILIZED: "immobilized_count",
    EpisodeStatus.OFF_TRACK: "off_track_count",
    EpisodeStatus.REVERSED: "reversed_count",
}


class MetricsFormatError(ValueError):
    """A metrics value or file does not follow docs/file-formats.md §5 / §6."""


def episode_status_to_label(status: str) -> str:
    """The metrics label for a raw simtrace status ('lap_complete' -> 'Lap complete').

    A value that already is a label is returned unchanged.
    """
    if status in STATUS_LABELS:
        return STATUS_LABELS[status]
    if status in STATUS_LABELS.values():
        return status
    raise MetricsFormatError(
        f"episode status {status!r} is unknown; use a raw status ({', '.join(STATUS_LABELS)}) "
        f"or a label ({', '.join(STATUS_LABELS.values())})"
    )


def training_metrics_key(prefix: str, worker: int) -> str:
    """`<prefix>/metrics/TrainingMetrics.json`, with `_<i>` before `.json` for worker i > 0."""
    return RunLayout(prefix).training_metrics(worker)


def evaluation_metrics_key(prefix: str, timestamp: datetime | str) -> str:
    """`<prefix>/metrics/EvaluationMetrics-<YYYYmmddHHMMSS>.json` (the DRfC name)."""
    return RunLayout(prefix).evaluation_metrics(timestamp)


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MetricsFormatError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MetricsFormatError(f"{name} must be an integer >= 1 (1-based), got {value!r}")
    return value


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MetricsFormatError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _times_ms(start_time_s: float, end_time_s: float) -> tuple[int, int]:
    start = _finite("start_time_s", start_time_s)
    end = _finite("end_time_s", end_time_s)
    if start < 0 or end < start:
        raise MetricsFormatError(
            f"episode times must satisfy 0 <= start_time_s <= end_time_s, got start "
            f"{start_time_s!r} and end {end_time_s!r}; pass simulation times in seconds"
        )
    return round(start * 1000), round(end * 1000)


def _completion(value: float) -> int:
    progress = _finite("completion_percentage", value)
    if progress < 0 or int(progress) > 100:
        raise MetricsFormatError(
            f"completion_percentage must be the progress in percent (0..100), got {value!r}"
        )
    return int(progress)


class TrainingMetricsWriter:
    """One worker's training metrics file (§5): metrics list, version 2.0, best_model_metric."""

    def __init__(
        self,
        store: ModelStore,
        key: str,
        best_model_metric: str = "progress",
        *,
        keep_existing: bool = False,
    ) -> None:
        """``keep_existing`` continues the entries already in the file (a restarted worker)."""
        if best_model_metric not in BEST_MODEL_METRICS:
            raise MetricsFormatError(
                f"best_model_metric {best_model_metric!r} is not supported; use one of "
                f"{BEST_MODEL_METRICS}"
            )
        self._store = store
        self.key = key
        self._best_model_metric = best_model_metric
        self._entries: list[dict[str, Any]] = []
        if keep_existing and store.exists(key):
            self._entries = list(read_training_metrics(store, key).metrics)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The entries written so far (oldest first)."""
        return list(self._entries)

    def add_episode(
        self,
        reward_score: float,
        start_time_s: float,
        end_time_s: float,
        episode: int,
        trial: int,
        phase: str,
        completion_percentage: float,
        episode_status_label: str,
    ) -> dict[str, Any]:
        """Append one episode's entry, rewrite the file, and return the entry as written.

        `reward_score` is the episode's total reward, `start_time_s`/`end_time_s` the
        simulation times at reset and end, `completion_percentage` the progress in percent and
        `episode_status_label` a raw status or its label.
        """
        if phase not in PHASES:
            raise MetricsFormatError(f"phase must be one of {PHASES}, got {phase!r}")
        start_ms, end_ms = _times_ms(start_time_s, end_time_s)
        entry = {
            "reward_score": round(_finite("reward_score", reward_score)),
            "metric_time": end_ms,
            "start_time": start_ms,
            "elapsed_time_in_milliseconds": end_ms - start_ms,
            "episode": _positive_int("episode", episode),
            "trial": _positive_int("trial", trial),
            "phase": phase,
            "completion_percentage": _completion(completion_percentage),
            "episode_status": episode_status_to_label(episode_status_label),
        }
        self._entries.append(entry)
        document = {
            "metrics": self._entries,
            "version": TRAINING_METRICS_VERSION,
            "best_model_metric": self._best_model_metric,
        }
        self._store.put_json(self.key, document, indent=None)
        return entry


def count_reset_statuses(step_statuses: Iterable[str]) -> dict[str, int]:
    """The evaluation counts of §6 from an episode's raw per-step statuses.

    Returns crash_count, immobilized_count, off_track_count and reversed_count, ready to pass
    to EvaluationMetricsWriter.add_episode(**counts).
    """
    counts = dict.fromkeys(RESET_COUNT_FIELDS.values(), 0)
    for status in step_statuses:
        field_name = RESET_COUNT_FIELDS.get(status)
        if field_name is not None:
            counts[field_name] += 1
    return counts


class EvaluationMetricsWriter:
    """An evaluation run's metrics file (§6): {"metrics": [...]}, deliberately without version."""

    def __init__(self, store: ModelStore, key: str) -> None:
        self._store = store
        self.key = key
        self._entries: list[dict[str, Any]] = []

    def add_episode(
        self,
        start_time_s: float,
        end_time_s: float,
        completion_percentage: float,
        episode_status: str,
        crash_count: int = 0,
        immobilized_count: int = 0,
        off_track_count: int = 0,
        reversed_count: int = 0,
    ) -> dict[str, Any]:
        """Append one evaluation trial (trial = previous + 1), rewrite the file, return the entry.

        reset_count is the sum of the four counts.
        """
        start_ms, end_ms = _times_ms(start_time_s, end_time_s)
        counts = {
            "crash_count": _count("crash_count", crash_count),
            "immobilized_count": _count("immobilized_count", immobilized_count),
            "off_track_count": _count("off_track_count", off_track_count),
            "reversed_count": _count("reversed_count", reversed_count),
        }
        entry = {
            "completion_percentage": _completion(completion_percentage),
            "metric_time": end_ms,
            "start_time": start_ms,
            "elapsed_time_in_milliseconds": end_ms - start_ms,
            "episode_status": episode_status_to_label(episode_status),
            **counts,
            "reset_count": sum(counts.values()),
            "trial": len(self._entries) + 1,
        }
        self._entries.append(entry)
        self._store.put_json(self.key, {"metrics": self._entries}, indent=None)
        return entry


@dataclass(frozen=True)
class TrainingMetricsFile:
    """A parsed training metrics file; `version` is None for files that predate it."""

    metrics: list[dict[str, Any]]
    version: float | None
    best_model_metric: str


def read_training_metrics(store: ModelStore, key: str) -> TrainingMetricsFile:
    """Read a training metrics file, tolerating files without version or best_model_metric."""
    document = store.get_json(key)
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, list) or not all(isinstance(item, dict) for item in metrics):
        raise MetricsFormatError(
            f"training metrics '{key}' in {store.url} has no 'metrics' list of objects; "
            "it is not a training_metrics.json file"
        )
    version = document.get("version")
    return TrainingMetricsFile(
        metrics=metrics,
        version=float(version) if isinstance(version, int | float) else None,
        best_model_metric=str(document.get("best_model_metric", "progress")),
    )
