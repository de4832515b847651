"""Simtrace CSV files: one row per simulation step, one file per iteration
(docs/file-formats.md §7).

Rows are formatted exactly like the simapp's (19 columns, Python str() floats, True/False), and
the folder layout is DRfC's (§8.3, §9) so that deepracer-utils loads a run folder unchanged.
The reader accepts the older 15- to 18-column variants by header name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from markov.environment.episode_status import EpisodeStatus
from markov.formats.layout import RunLayout, simtrace_iteration_key
from markov.formats.layout import format_run_timestamp as format_run_timestamp
from markov.store import ModelStore
from markov.store.base import normalize_prefix

SIMTRACE_COLUMNS: tuple[str, ...] = (
    "episode",
    "steps",
    "X",
    "Y",
    "yaw",
    "steer",
    "throttle",
    "action",
    "reward",
    "done",
    "all_wheels_on_track",
    "progress",
    "closest_waypoint",
    "track_len",
    "tstamp",
    "episode_status",
    "pause_duration",
    "obstacle_crash_counter",
    "wall_clock",
)
SIMTRACE_HEADER = ",".join(SIMTRACE_COLUMNS)
REQUIRED_READ_COLUMNS = SIMTRACE_COLUMNS[:15]
"""The oldest variant (2019 console logs) has only these; later columns may be missing."""

RAW_EPISODE_STATUSES: tuple[str, ...] = tuple(EpisodeStatus)

_INT_COLUMNS = frozenset({"episode", "closest_waypoint", "obstacle_crash_counter"})
_BOOL_COLUMNS = frozenset({"done", "all_wheels_on_track"})


class SimtraceFormatError(ValueError):
    """A simtrace row or file does not follow docs/file-formats.md §7."""


def _as_int(column: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SimtraceFormatError(f"simtrace column '{column}' must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SimtraceFormatError(
            f"simtrace column '{column}' must be an integer, got {value!r}"
        ) from None
    if not number.is_integer():
        raise SimtraceFormatError(f"simtrace column '{column}' must be an integer, got {value!r}")
    return int(number)


def _as_float(column: str, value: Any) -> float:
    if isinstance(value, bool):
        raise SimtraceFormatError(f"simtrace column '{column}' must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SimtraceFormatError(
            f"simtrace column '{column}' must be a number, got {value!r}"
        ) from None


def _as_bool_text(column: str, value: Any) -> str:
    if not isinstance(value, bool | np.bool_):
        raise SimtraceFormatError(
            f"simtrace column '{column}' must be True or False, got {value!r}"
        )
    return "True" if value else "False"


def _action_text(value: Any) -> str:
    if isinstance(value, str):
        if "," in value or "\n" in value or "\r" in value:
            raise SimtraceFormatError(
                f"simtrace action {value!r} must not contain commas or line breaks; write a "
                "continuous action as '[<steer> <speed>]' with a space"
            )
        return value
    return str(_as_int("action", value))


def _status_text(value: Any) -> str:
    if value not in RAW_EPISODE_STATUSES:
        raise SimtraceFormatError(
            f"simtrace episode_status {value!r} is not a raw status; use one of "
            f"{', '.join(RAW_EPISODE_STATUSES)}"
        )
    return str(value)


def _cell(column: str, value: Any) -> str:
    if column in _INT_COLUMNS:
        return str(_as_int(column, value))
    if column in _BOOL_COLUMNS:
        return _as_bool_text(column, value)
    if column == "action":
        return _action_text(value)
    if column == "episode_status":
        return _status_text(value)
    return str(_as_float(column, value))


def format_simtrace_row(row: Mapping[str, Any]) -> str:
    """One CSV line (no newline) for a step, with the 19 columns in spec order and format."""
    missing = [column for column in SIMTRACE_COLUMNS if column not in row]
    if missing:
        raise SimtraceFormatError(
            f"simtrace row is missing the columns {missing}; provide all of {SIMTRACE_HEADER}"
        )
    return ",".join(_cell(column, row[column]) for column in SIMTRACE_COLUMNS)


def training_simtrace_prefix(prefix: str, worker: int, num_workers: int) -> str:
    """Where a training worker's simtrace files go (§9, DRfC layouts of §8.3)."""
    return RunLayout(prefix).training_simtrace(worker, num_workers)


def evaluation_simtrace_prefix(prefix: str, timestamp: datetime | str) -> str:
    """`<prefix>/evaluation-<YYYYmmddHHMMSS>/evaluation-simtrace` for one evaluation run."""
    return RunLayout(prefix).evaluation_simtrace(timestamp)


class SimtraceWriter:
    """Collects formatted rows in memory and writes `<k>-iteration.csv` files to the store.

    Each flush(k) rewrites the whole file of iteration k atomically (header plus every row
    added for k so far), so a reader never sees a partial row. Flushing k again after more rows
    were added rewrites it with the longer content; the first flush with a new k starts that
    iteration's file from the rows added since the previous flush.
    """

    def __init__(self, store: ModelStore, key_prefix: str) -> None:
        self._store = store
        self._key_prefix = normalize_prefix(key_prefix)
        self._iteration: int | None = None
        self._written: list[str] = []
        self._pending: list[str] = []

    @property
    def pending_rows(self) -> int:
        """Rows added since the last flush."""
        return len(self._pending)

    def add_row(self, row: Mapping[str, Any]) -> None:
        """Format and buffer one step's row (errors surface here, not at flush time)."""
        self._pending.append(format_simtrace_row(row))

    def flush(self, iteration: int) -> str | None:
        """Write iteration `iteration`'s file; return its key, or None if it has no rows."""
        key = simtrace_iteration_key(self._key_prefix, iteration)
        if iteration != self._iteration:
            self._iteration = iteration
            self._written = []
        self._written.extend(self._pending)
        self._pending = []
        if not self._written:
            return None
        self._store.put_text(key, "\n".join([SIMTRACE_HEADER, *self._written]) + "\n")
        return key


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{text!r} is not True or False")


def _parse_cell(column: str, text: str) -> Any:
    if column in _INT_COLUMNS:
        return int(float(text))
    if column in _BOOL_COLUMNS:
        return _parse_bool(text)
    if column == "action":
        try:
            return int(text)
        except ValueError:
            return text
    if column == "episode_status":
        return text
    return float(text)


def read_simtrace(source: str | Path | bytes) -> list[dict[str, Any]]:
    """Rows of a simtrace CSV (a file path or its bytes) as dicts keyed by the 19 column names.

    The 15- to 18-column variants of §7.3 are accepted by header name; their missing columns
    are None. Unknown extra columns are kept as text. Returns plain dicts so the engine needs
    no pandas; `pandas.DataFrame(rows)` turns them into a frame.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader, None)
    if header is None:
        raise SimtraceFormatError("simtrace file is empty; expected a header line")
    header = [name.strip() for name in header]
    missing = [column for column in REQUIRED_READ_COLUMNS if column not in header]
    if missing:
        raise SimtraceFormatError(
            f"simtrace header lacks the columns {missing}; expected at least "
            f"{','.join(REQUIRED_READ_COLUMNS)}"
        )
    known = set(SIMTRACE_COLUMNS)
    rows = []
    for line_number, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise SimtraceFormatError(
                f"simtrace line {line_number} has {len(cells)} fields but the header has "
                f"{len(header)}"
            )
        row: dict[str, Any] = dict.fromkeys(SIMTRACE_COLUMNS)
        for column, text in zip(header, cells, strict=True):
            try:
                row[column] = _parse_cell(column, text) if column in known else text
            except ValueError as error:
                raise SimtraceFormatError(
                    f"simtrace line {line_number}, column '{column}': {error}"
                ) from error
        rows.append(row)
    return rows
