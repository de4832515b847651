"""Log analysis for the notebooks: load a run's simtraces and metrics, summarise, plot, replay.

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

import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes

from markov.environment.dynamics import STEP_S
from markov.environment.episode_status import NON_RUN_STATUSES, EpisodeStatus
from markov.environment.reward_function import load_reward_function
from markov.environment.reward_params import build_reward_params, measure_pose, pose_from_front
from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.simtrace import SIMTRACE_COLUMNS, SimtraceFormatError, read_simtrace
from markov.store import ModelStore, open_store
from markov.store.base import normalize_prefix
from markov.tracks import Track, load_track

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


# --------------------------------------------------------------------------------- loading
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


# --------------------------------------------------------------------------------- summaries
def episode_keys(df: pd.DataFrame) -> list[str]:
    """Columns that identify an episode: unique_episode, else (stream, episode), else episode."""
    if "unique_episode" in df.columns:
        return ["unique_episode"]
    if "stream" in df.columns:
        return ["stream", "episode"]
    return ["episode"]


def episode_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per episode: steps, total reward, final progress and status, time and lap time.

    ``time_s`` runs from the first step to the end of the last (``tstamp`` span + one step),
    the same as the metrics' elapsed time; ``lap_time_s`` is that time for completed laps and
    NaN otherwise.
    """
    keys = episode_keys(df)
    ordered = df.sort_values([*keys, "steps"], kind="stable")
    extra = {name: (name, "first") for name in ("iteration", "worker") if name in df.columns}
    summary = ordered.groupby(keys, sort=True).agg(
        **extra,
        steps=("steps", "max"),
        total_reward=("reward", "sum"),
        progress=("progress", "last"),
        status=("episode_status", "last"),
        start=("tstamp", "first"),
        end=("tstamp", "last"),
    )
    summary["steps"] = summary["steps"].astype(np.int64)
    summary["time_s"] = summary.pop("end") - summary.pop("start") + STEP_S
    summary["complete"] = summary["status"] == EpisodeStatus.LAP_COMPLETE
    summary["lap_time_s"] = summary["time_s"].where(summary["complete"])
    return summary.reset_index()


def iteration_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per iteration: episodes, mean reward, mean progress, completion rate, best lap time."""
    if "iteration" not in df.columns:
        raise ValueError(
            "the frame has no 'iteration' column; load the simtraces with load_run or add it"
        )
    episodes = episode_summary(df)
    return (
        episodes.groupby("iteration")
        .agg(
            episodes=("steps", "size"),
            mean_reward=("total_reward", "mean"),
            mean_progress=("progress", "mean"),
            completion_rate=("complete", "mean"),
            best_lap_time_s=("lap_time_s", "min"),
        )
        .reset_index()
    )


# --------------------------------------------------------------------------------- plots
def _axes(ax: Axes | None, figsize: tuple[float, float] = (8, 4)) -> Axes:
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def _track(track: Track | str | os.PathLike[str]) -> Track:
    return track if isinstance(track, Track) else load_track(track)


TrackSource = Track | str | os.PathLike[str]
Tracks = TrackSource | Mapping[int, TrackSource]
"""One track for every row, or each worker's own track as ``{worker: track}`` (a multi-config
run, whose workers may drive other tracks or directions; ``log_lesson.RunSettings.tracks``)."""


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
        return [TrackPart(_track(tracks), workers, df)]
    if "worker" not in df.columns:
        raise ValueError(
            "the frame has no 'worker' column to pick each row's track; load it with load_run "
            "or pass one track"
        )
    by_worker = {int(worker): _track(track) for worker, track in tracks.items()}
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


def _panels(count: int, ax: Axes | None, figsize: tuple[float, float]) -> list[Axes]:
    """``count`` side-by-side axes (one per track), or ``[ax]`` when one is given for one track."""
    if ax is not None:
        if count > 1:
            raise ValueError(
                f"these rows lie on {count} tracks and get one panel each; leave ax out "
                "(or pass the rows of one track's workers)"
            )
        return [ax]
    width, height = figsize
    _, axes = plt.subplots(
        1, max(count, 1), figsize=(width * max(count, 1), height), layout="constrained"
    )
    return list(np.atleast_1d(axes))


def draw_track(track: Track | str | os.PathLike[str], ax: Axes | None = None) -> Axes:
    """The track's borders and dashed centre line, with equal axis scales."""
    ax = _axes(ax, (8, 6))
    center, inner, outer = _track(track).lines()
    for line in (inner, outer):
        ax.plot(line[:, 0], line[:, 1], color="0.3", linewidth=1)
    ax.plot(center[:, 0], center[:, 1], color="orange", linewidth=0.8, linestyle="--")
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    return ax


def plot_rewards_per_iteration(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean episode reward per iteration, with the completion rate on a second axis."""
    ax = _axes(ax)
    summary = iteration_summary(df)
    ax.plot(summary["iteration"], summary["mean_reward"], marker="o", label="mean reward")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean episode reward")
    rate = ax.twinx()
    rate.plot(summary["iteration"], 100 * summary["completion_rate"], color="tab:green", marker=".")
    rate.set_ylabel("laps completed (%)", color="tab:green")
    rate.set_ylim(0, 105)
    return ax


def plot_lap_times(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Lap time of every completed episode, and the best so far."""
    ax = _axes(ax)
    episodes = episode_summary(df)
    laps = episodes[episodes["complete"]]
    order = np.arange(len(episodes))[episodes["complete"].to_numpy()]
    ax.set_xlabel("episode")
    ax.set_ylabel("lap time (s)")
    if laps.empty:
        ax.text(0.5, 0.5, "no completed laps", ha="center", va="center", transform=ax.transAxes)
        return ax
    ax.scatter(order, laps["lap_time_s"], s=12, label="lap")
    ax.step(order, laps["lap_time_s"].cummin(), where="post", color="tab:red", label="best")
    ax.legend()
    return ax


def plot_episode_paths(
    df: pd.DataFrame,
    track: Tracks,
    episodes: Iterable[int] | None = None,
    ax: Axes | None = None,
) -> list[Axes]:
    """Paths of the front point, each on its worker's track; off-track steps get a cross.

    ``episodes`` are values of ``unique_episode`` (training) or ``episode`` (evaluation; filter
    one ``stream`` first); default: the last five. One panel per track the chosen episodes were
    driven on, titled with the track and its workers.
    """
    column = "unique_episode" if "unique_episode" in df.columns else "episode"
    chosen = list(episodes) if episodes is not None else sorted(df[column].unique())[-5:]
    selected = df[df[column].isin(chosen)]
    parts = split_by_track(selected, track) if len(selected) else split_by_track(df, track)[:1]
    axes = _panels(len(parts), ax, (8, 6))
    for part, panel in zip(parts, axes, strict=True):
        draw_track(part.track, panel)
        panel.set_title(part.title)
        rows_by_episode = part.rows.groupby(column) if len(selected) else []
        for episode, rows in rows_by_episode:
            (line,) = panel.plot(rows["x"], rows["y"], linewidth=1.2, label=f"{column} {episode}")
            off = rows[rows["episode_status"] == EpisodeStatus.OFF_TRACK]
            panel.scatter(off["x"], off["y"], marker="x", color=line.get_color(), s=30)
        if len(part.rows) and len(selected):
            panel.legend(fontsize="small")
    return axes


def plot_track_heatmap(
    df: pd.DataFrame,
    track: Tracks,
    value: str = "reward",
    cell_m: float = 0.1,
    ax: Axes | None = None,
) -> list[Axes]:
    """Mean of ``value`` (any numeric column) over the RUN steps in square track cells: one
    panel per track, each from the steps of the workers that drove it."""
    if value not in df.columns:
        raise ValueError(f"value {value!r} is not a column; use one of {list(df.columns)}")
    if not cell_m > 0:
        raise ValueError(f"cell_m is {cell_m}; use a cell size in metres > 0")
    parts = split_by_track(df, track)
    axes = _panels(len(parts), ax, (8, 6))
    for part, panel in zip(parts, axes, strict=True):
        _draw_heatmap(part.rows, part.track, value, cell_m, panel)
        panel.set_title(part.title)
    return axes


def _draw_heatmap(df: pd.DataFrame, track: Track, value: str, cell_m: float, ax: Axes) -> None:
    rows = df[~df["episode_status"].isin(NON_RUN_STATUSES)]
    _, _, outer = track.lines()
    low = outer.min(axis=0) - cell_m
    high = outer.max(axis=0) + cell_m
    bins = np.ceil((high - low) / cell_m).astype(int)
    limits = [(low[0], low[0] + bins[0] * cell_m), (low[1], low[1] + bins[1] * cell_m)]
    x, y = rows["x"].to_numpy(float), rows["y"].to_numpy(float)
    weights = rows[value].to_numpy(float)
    sums, _, _ = np.histogram2d(x, y, bins=bins, range=limits, weights=weights)
    counts, _, _ = np.histogram2d(x, y, bins=bins, range=limits)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    image = ax.imshow(
        means.T,
        origin="lower",
        extent=(*limits[0], *limits[1]),
        cmap="viridis",
        interpolation="nearest",
    )
    ax.figure.colorbar(image, ax=ax, label=f"mean {value}")
    draw_track(track, ax)


def action_labels(df: pd.DataFrame) -> pd.Series:
    """A label per step: the discrete action and its command, or a binned continuous command
    (steering to 5 degrees, speed to 0.25 m/s)."""
    discrete = df["action"] >= 0
    # "+ 0.0" turns -0.0 into 0.0, so one bin never shows up as both "+0°" and "-0°"
    steering = df["steering_angle"].where(discrete, (df["steering_angle"] / 5).round() * 5 + 0.0)
    speed = df["speed"].where(discrete, (df["speed"] / 0.25).round() * 0.25 + 0.0)
    command = steering.map("{:+.0f}°".format) + " " + speed.map("{:.2f} m/s".format)
    prefix = df["action"].astype(str).where(discrete, "~")
    return prefix + ": " + command


def plot_action_breakdown(
    df: pd.DataFrame,
    by: str = "iteration",
    sections: int = 4,
    track: Tracks | None = None,
    ax: Axes | None = None,
) -> list[Axes]:
    """Share of each action per iteration (one panel), or per track section (``by="section"``,
    one panel per track).

    Sections split the waypoints of each worker's ``track`` (needed for sections) into
    ``sections`` equal runs along the driving direction, using each step's ``closest_waypoint``.
    """
    rows = df[~df["episode_status"].isin(NON_RUN_STATUSES)]
    if by == "iteration":
        axes = _panels(1, ax, (9, 4))
        shares = pd.crosstab(rows["iteration"], action_labels(rows), normalize="index")
        _draw_shares(shares, axes[0])
        return axes
    if by != "section":
        raise ValueError(f"by is {by!r}; use 'iteration' or 'section'")
    if track is None:
        raise ValueError(
            "by='section' needs the track: pass track=<name, Track or {worker: track}>"
        )
    if isinstance(sections, bool) or not isinstance(sections, int) or sections < 1:
        raise ValueError(f"sections is {sections!r}; use a whole number >= 1")
    parts = split_by_track(rows, track)
    axes = _panels(len(parts), ax, (9, 4))
    for part, panel in zip(parts, axes, strict=True):
        groups = track_sections(part.rows["closest_waypoint"], part.track, sections)
        shares = pd.crosstab(groups, action_labels(part.rows), normalize="index")
        # sections the car never reached still get their (empty) bar
        _draw_shares(shares.reindex(range(sections), fill_value=0.0), panel)
        panel.set_title(part.title)
    return axes


def _draw_shares(shares: pd.DataFrame, ax: Axes) -> None:
    shares.plot.bar(stacked=True, ax=ax, width=0.85, colormap="tab20", legend=False)
    ax.set_ylabel("share of steps")
    ax.legend(fontsize="x-small", bbox_to_anchor=(1.01, 1), loc="upper left")


def track_sections(closest_waypoint: pd.Series, track: Track, sections: int = 4) -> pd.Series:
    """Each step's track section: the distinct waypoints split into ``sections`` equal runs
    along the driving direction (a loop's closing duplicate point is not counted)."""
    waypoints = len(track.waypoints) - (1 if track.closed else 0)
    section = (closest_waypoint * sections // waypoints).clip(upper=sections - 1)
    return section.astype(int).rename("section")


# --------------------------------------------------------------------------------- what if
def replay_reward(
    df: pd.DataFrame,
    new_reward_function: Callable[[dict], Any] | str | os.PathLike[str],
    world_name: Tracks,
    reverse_dir: bool = False,
) -> pd.DataFrame:
    """Recompute every step's reward with another reward function: a copy with ``new_reward``.

    Each step's params are rebuilt by the engine's builder from the row and the track its
    worker drove: ``world_name`` is one track for all rows (driven in ``reverse_dir``), or
    ``{worker: Track}`` for a multi-config run, each Track with its own direction
    (``log_lesson.RunSettings.tracks``). Exact: ``x, y, heading, steps, speed,
    steering_angle, progress, all_wheels_on_track, sim_time`` (from the row) and
    ``distance_from_center, is_left_of_center, track_width, track_length, waypoints,
    closest_waypoints, projection_distance`` (recomputed from the front point as the simulator
    does). ``is_reversed`` is the track's direction, the same for all of a worker's rows (runs
    that alternate direction need one call per direction). Approximated: ``is_offtrack`` comes
    from the wheel positions of the car pose rebuilt from the front point and heading (exact for
    this package's simtraces, whose floats round-trip; logs with rounded values can differ at
    the road edge); ``is_crashed`` comes from the row status; the object keys keep their
    no-object defaults, since simtraces do not record objects. Prepare and pause steps get 0.0
    without calling the function, as in the simulator.
    """
    reward_function = load_reward_function(new_reward_function)
    if isinstance(world_name, Mapping):
        if reverse_dir:
            raise ValueError(
                "reverse_dir=True with {worker: track}: give each worker's Track its direction "
                "instead (Track.reversed(), or log_lesson.RunSettings.tracks)"
            )
        tracks: Tracks = world_name
    else:
        track = _track(world_name)
        tracks = track if bool(reverse_dir) == track.reverse else track.reversed()
    new_reward = pd.Series(0.0, index=df.index, dtype=float)
    for part in split_by_track(df, tracks):
        new_reward[part.rows.index] = _replayed_rewards(part.rows, reward_function, part.track)
    return df.assign(new_reward=new_reward)


def _replayed_rewards(
    df: pd.DataFrame, reward_function: Callable[..., Any], track: Track
) -> list[float]:
    columns = [
        "x",
        "y",
        "yaw",
        "steering_angle",
        "speed",
        "progress",
        "steps",
        "on_track",
        "tstamp",
        "episode_status",
    ]
    return [
        0.0
        if status in NON_RUN_STATUSES
        else reward_function(
            _replay_params(
                track, x, y, yaw, steering, speed, progress, steps, on_track, time, status
            ),
            private=True,
        )
        for x, y, yaw, steering, speed, progress, steps, on_track, time, status in zip(
            *(df[name].tolist() for name in columns), strict=True
        )
    ]


def _replay_params(
    track: Track,
    x: float,
    y: float,
    heading_deg: float,
    steering: float,
    speed: float,
    progress: float,
    steps: float,
    on_track: bool,
    sim_time: float,
    status: str,
) -> dict[str, Any]:
    pose = pose_from_front(track, measure_pose(track, x, y), math.radians(heading_deg), heading_deg)
    return build_reward_params(
        track,
        pose,
        progress=progress,
        steps=steps,
        speed=speed,
        steering_angle=steering,
        sim_time=sim_time,
        is_crashed=status == EpisodeStatus.CRASHED,
        all_wheels_on_track=bool(on_track),
    )


def plot_reward_comparison(replayed: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Total reward per episode: recorded (left axis) against ``new_reward`` (right axis)."""
    if "new_reward" not in replayed.columns:
        raise ValueError("the frame has no 'new_reward' column; pass the result of replay_reward")
    keys = episode_keys(replayed)
    totals = replayed.groupby(keys, sort=True)[["reward", "new_reward"]].sum().reset_index()
    ax = _axes(ax)
    order = np.arange(len(totals))
    ax.plot(order, totals["reward"], color="tab:blue", label="recorded")
    ax.set_xlabel("episode")
    ax.set_ylabel("recorded total reward", color="tab:blue")
    other = ax.twinx()
    other.plot(order, totals["new_reward"], color="tab:orange", label="new")
    other.set_ylabel("new total reward", color="tab:orange")
    return ax
