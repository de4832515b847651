"""Load a run's simtraces and metrics (this package's store, a DRfC folder, a console download).

Loaded simtraces use deepracer-utils' column names (``x, y, steering_angle, speed, on_track``
instead of ``X, Y, steer, throttle, all_wheels_on_track``; a non-integer ``action`` becomes
-1) and add ``iteration`` (from the file name), ``worker`` (from the folder), and
``unique_episode`` (training: episodes numbered by iteration, worker, episode) or ``stream``
(evaluation: the evaluation id). A notebook written for deepracer-utils' frames works on them.

Readers accept the 15- to 19-column simtrace variants (docs/file-formats.md §7.3). A last line cut
short (a file that was being written) is skipped with a warning; any other broken line is an
error naming the file.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.simtrace import SIMTRACE_COLUMNS, SimtraceFormatError, read_simtrace
from markov.store import ModelStore, open_store
from markov.store.base import normalize_prefix

CSV_TO_FRAME_COLUMNS = {
    "X": "x",
    "Y": "y",
    "steer": "steering_angle",
    "throttle": "speed",
    "all_wheels_on_track": "on_track",
}
"""Simtrace column -> deepracer-utils frame column, for the columns that are renamed."""
FRAME_COLUMNS = [CSV_TO_FRAME_COLUMNS.get(name, name) for name in SIMTRACE_COLUMNS]
WORKSHOP_EVALUATION_STREAM = "evaluation_metrics"
"""The ``stream`` of the workshop's single ``evaluation_metrics.json``."""
OPTIONAL_NUMERIC_COLUMNS = ("pause_duration", "obstacle_crash_counter", "wall_clock")


@dataclass(frozen=True)
class LogLayout:
    """Where a layout keeps its files: regexes over keys relative to the run folder.

    Simtrace patterns name the groups ``iteration`` and ``worker`` (training) or ``stream``
    (evaluation); metrics patterns may name ``worker`` or ``stream``.
    """

    training_simtrace: re.Pattern[str]
    evaluation_simtrace: re.Pattern[str]
    training_metrics: re.Pattern[str]
    evaluation_metrics: re.Pattern[str]


DRFC_LAYOUT = LogLayout(
    training_simtrace=re.compile(
        r"^(?:(?P<worker>\d+)/)?training-simtrace/(?P<iteration>\d+)-iteration\.csv$"
    ),
    evaluation_simtrace=re.compile(
        r"^evaluation-(?P<stream>[^/]+)/evaluation-simtrace/(?P<iteration>\d+)-iteration\.csv$"
    ),
    training_metrics=re.compile(
        r"^(?:metrics/TrainingMetrics|training_metrics)(?:_(?P<worker>\d+))?\.json$"
    ),
    evaluation_metrics=re.compile(
        r"^(?:metrics/(?:EvaluationMetrics-|evaluation/evaluation-)(?P<stream>[^/]+)"
        r"|evaluation_metrics)\.json$"
    ),
)
"""DRfC single- and multi-worker folders (docs/file-formats.md §8.3), as this package writes them;
also the workshop's metrics names ``training_metrics[_<i>].json`` and ``evaluation_metrics.json``
at the top of the prefix (§8.1)."""

CONSOLE_LAYOUT = LogLayout(
    training_simtrace=re.compile(
        r"^sim-trace/training/(?:[^/]+/)?training-simtrace/(?P<iteration>\d+)-iteration\.csv$"
    ),
    evaluation_simtrace=re.compile(
        r"^sim-trace/evaluation/(?P<stream>[^/]+)/evaluation-simtrace/"
        r"(?P<iteration>\d+)-iteration\.csv$"
    ),
    training_metrics=re.compile(r"^metrics/training/[^/]+\.json$"),
    evaluation_metrics=re.compile(r"^metrics/evaluation/(?P<stream>[^/]+)\.json$"),
)
"""The old console download and DeepRacer-on-AWS folders (``sim-trace/...``, ``metrics/...``)."""


@dataclass
class RunLogs:
    """Everything a run wrote: simtraces and metrics as frames, plus its model files."""

    training: pd.DataFrame
    training_metrics: pd.DataFrame
    evaluation: pd.DataFrame
    evaluation_metrics: pd.DataFrame
    model_metadata: dict[str, Any] | None
    hyperparameters: dict[str, Any] | None


def load_run(store_or_folder: ModelStore | str | os.PathLike[str], prefix: str = "") -> RunLogs:
    """Load a run written in the DRfC layout under ``prefix`` of a store (folder or S3)."""
    store = _as_store(store_or_folder)
    return _load(store, normalize_prefix(prefix), DRFC_LAYOUT)


def load_drfc_folder(path: str | os.PathLike[str]) -> RunLogs:
    """Load a DRfC model folder (single- or multi-worker layout, or an evaluation upload)."""
    return _load(_existing_folder(path), "", DRFC_LAYOUT)


def load_console_download(path: str | os.PathLike[str]) -> RunLogs:
    """Load an unpacked console (or DeepRacer on AWS) log download with ``sim-trace/``.

    Training data comes from the simtrace CSVs; robomaker log files are not parsed.
    """
    return _load(_existing_folder(path), "", CONSOLE_LAYOUT)


def simtrace_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Simtrace rows (``read_simtrace`` or ``info["simtrace"]`` dicts) as a frame with
    deepracer-utils' column names."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(SIMTRACE_COLUMNS))
    frame = frame.rename(columns=CSV_TO_FRAME_COLUMNS)
    for name in OPTIONAL_NUMERIC_COLUMNS:  # absent from older variants: NaN, as deepracer-utils
        frame[name] = pd.to_numeric(frame[name])
    actions = pd.to_numeric(frame["action"], errors="coerce")
    frame["action"] = actions.fillna(-1).astype(np.int64)
    return frame


def read_simtrace_file(data: bytes, name: str) -> pd.DataFrame:
    """One simtrace CSV as a frame; a cut-off last line is skipped with a warning."""
    try:
        return simtrace_frame(read_simtrace(_complete_lines(data, name)))
    except SimtraceFormatError as error:
        raise SimtraceFormatError(f"{name}: {error}") from None


def _complete_lines(data: bytes, name: str) -> bytes:
    body = data.rstrip(b"\r\n")
    header_end = body.find(b"\n")
    if header_end < 0:
        return data
    last_start = body.rfind(b"\n") + 1
    if body[last_start:].count(b",") != body[:header_end].count(b","):
        warnings.warn(
            f"{name}: the last line has a different number of fields than the header (the "
            "file was cut short while being written); that line is skipped",
            stacklevel=4,
        )
        return body[:last_start]
    return data


def _as_store(store_or_folder: ModelStore | str | os.PathLike[str]) -> ModelStore:
    return (
        store_or_folder if isinstance(store_or_folder, ModelStore) else open_store(store_or_folder)
    )


def _existing_folder(path: str | os.PathLike[str]) -> ModelStore:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path} is not a folder; pass the unpacked model/log folder")
    return open_store(os.fspath(path))


def _load(store: ModelStore, prefix: str, layout: LogLayout) -> RunLogs:
    base = f"{prefix}/" if prefix else ""
    keys = [key[len(base) :] for key in store.list(prefix)]
    if not keys:
        raise FileNotFoundError(f"{store.url} has no files under '{prefix or '/'}'")

    def matches(pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [m for key in keys if (m := pattern.match(key))]

    training = [
        read_simtrace_file(store.get_bytes(base + m.string), m.string).assign(
            iteration=int(m["iteration"]), worker=int(m.groupdict().get("worker") or 0)
        )
        for m in matches(layout.training_simtrace)
    ]
    evaluation = [
        read_simtrace_file(store.get_bytes(base + m.string), m.string).assign(
            iteration=int(m["iteration"]), worker=0, stream=m["stream"]
        )
        for m in matches(layout.evaluation_simtrace)
    ]
    training_metrics = [
        pd.DataFrame(read_training_metrics(store, base + m.string).metrics).assign(
            worker=int(m.groupdict().get("worker") or 0)
        )
        for m in matches(layout.training_metrics)
    ]
    evaluation_metrics = [
        _evaluation_metrics_frame(store, base + m.string).assign(
            stream=m["stream"] or WORKSHOP_EVALUATION_STREAM
        )
        for m in matches(layout.evaluation_metrics)
    ]
    return RunLogs(
        training=_training_frame(training),
        training_metrics=_training_metrics_frame(training_metrics),
        evaluation=_evaluation_frame(evaluation),
        evaluation_metrics=_concat(evaluation_metrics),
        model_metadata=_optional_json(store, RunLayout(prefix).model_metadata),
        hyperparameters=_optional_json(store, RunLayout(prefix).ip_hyperparameters),
    )


def _concat(frames: list[pd.DataFrame], columns: Sequence[str] = ()) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)


def _training_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frame = _concat(frames, [*FRAME_COLUMNS, "iteration", "worker", "unique_episode"])
    if frames:
        frame["unique_episode"] = frame.groupby(["iteration", "worker", "episode"]).ngroup()
        frame = frame.sort_values(["unique_episode", "steps"], kind="stable")
    return frame.reset_index(drop=True)


def _evaluation_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frame = _concat(frames, [*FRAME_COLUMNS, "iteration", "worker", "stream"])
    if frames:
        frame = frame.sort_values(["stream", "episode", "steps"], kind="stable")
    return frame.reset_index(drop=True)


def _training_metrics_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenated entries with deepracer-utils' iteration = (episode - 1) // max(trial)."""
    frame = _concat(frames)
    if {"episode", "trial", "worker"} <= set(frame.columns):
        trials = frame.groupby("worker")["trial"].transform("max")
        frame["iteration"] = (frame["episode"] - 1) // trials
    return frame


def _evaluation_metrics_frame(store: ModelStore, key: str) -> pd.DataFrame:
    document = store.get_json(key)
    entries = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(
            f"{key} in {store.url} has no 'metrics' list; it is not an evaluation metrics file"
        )
    frame = pd.DataFrame(entries)
    if "elapsed_time_in_milliseconds" in frame.columns:
        frame["lap_time_s"] = frame["elapsed_time_in_milliseconds"] / 1000.0
    return frame


def _optional_json(store: ModelStore, key: str) -> dict[str, Any] | None:
    return store.get_json(key) if store.exists(key) else None
