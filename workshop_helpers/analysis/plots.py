"""Figures of a loaded run: learning curves, lap times, paths, heatmaps, action use, off-track ends.

Functions with a ``track`` argument draw one panel per track the rows were driven on
(``tracks.split_by_track``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from markov.environment.episode_status import NON_RUN_STATUSES, EpisodeStatus
from markov.tracks import Track
from workshop_helpers.analysis.summaries import (
    action_labels,
    episode_summary,
    iteration_summary,
    off_track_ends,
)
from workshop_helpers.analysis.tracks import (
    TrackPart,
    Tracks,
    section_numbers,
    section_starts,
    split_by_track,
)
from workshop_helpers.plotting import draw_track


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] = (8, 4)) -> Axes:
    """``ax``, or the axes of a new figure of ``figsize``."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


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


def plot_rewards_per_iteration(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean episode reward per iteration, with the completion rate on a second axis."""
    ax = axes_or_new(ax)
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
    ax = axes_or_new(ax)
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
        _draw_map(panel, part.track)
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
    _draw_map(ax, track)


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
        groups = section_numbers(part.rows["closest_waypoint"], part.track, sections)
        shares = pd.crosstab(groups, action_labels(part.rows), normalize="index")
        # sections the car never reached still get their (empty) bar
        _draw_shares(shares.reindex(range(sections), fill_value=0.0), panel)
        panel.set_title(part.title)
    return axes


def _draw_map(ax: Axes, track: Track) -> None:
    """The track's borders and centre line (no road fill, which would hide a heatmap)."""
    draw_track(ax, track, fill=False)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def _draw_shares(shares: pd.DataFrame, ax: Axes) -> None:
    shares.plot.bar(stacked=True, ax=ax, width=0.85, colormap="tab20", legend=False)
    ax.set_ylabel("share of steps")
    ax.legend(fontsize="x-small", bbox_to_anchor=(1.01, 1), loc="upper left")


def plot_progress_per_iteration(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean training progress and evaluation progress per iteration (a ``learning_table``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(table["iteration"], table["mean_progress"], marker="o", label="training episodes")
    evaluated = table.dropna(subset=["evaluation_progress"])
    if not evaluated.empty:
        ax.plot(
            evaluated["iteration"],
            evaluated["evaluation_progress"],
            marker="s",
            color="tab:orange",
            label="evaluation laps",
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean progress (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="small")
    return ax


def plot_reward_vs_progress(episodes: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Total reward against final progress, one dot per episode coloured by iteration;
    completed laps get a black ring."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    iterations = episodes["iteration"] if "iteration" in episodes else pd.Series(0, episodes.index)
    dots = ax.scatter(
        episodes["progress"],
        episodes["total_reward"],
        c=iterations,
        cmap="viridis",
        s=24,
        vmin=float(iterations.min()) if len(iterations) else 0.0,
        vmax=float(iterations.max()) if len(iterations) else 1.0,
    )
    laps = episodes[episodes["complete"]]
    ax.scatter(laps["progress"], laps["total_reward"], s=70, facecolors="none", edgecolors="black")
    bar = ax.figure.colorbar(dots, ax=ax, label="iteration")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("progress at the end of the episode (%)")
    ax.set_ylabel("total reward of the episode")
    ax.set_xlim(0, 105)
    return ax


def _draw_sections(ax: Axes, track: Track, sections: int) -> None:
    rows = track.route[::-1] if track.reverse else track.route
    starts = section_starts(track, sections)
    ends = [*starts[1:], len(track.waypoints) - 1]
    for number, (start, end) in enumerate(zip(starts, ends, strict=True)):
        inner, outer = rows[start, 2:4], rows[start, 4:6]
        ax.plot([inner[0], outer[0]], [inner[1], outer[1]], color="tab:purple", linewidth=2)
        middle = track.waypoints[(start + end) // 2]
        ax.text(
            *middle,
            f"S{number}",
            color="tab:purple",
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


def plot_off_track(
    df: pd.DataFrame,
    track: Tracks,
    sections: int = 4,
    axes: Sequence[Axes] | None = None,
) -> list[Axes]:
    """Where episodes ended off the track (crosses coloured by iteration, sections S0.. marked)
    and how many ended off track in each section: a map and a count per track (one row of two
    axes each, titled with the track and its workers), also with no such episode.

    Returns the axes row by row: map, counts, map, counts, ...; ``axes`` (a map and a count
    axes) may be given for the rows of one track.
    """
    parts = split_by_track(df, track)
    if axes is None:
        _, grid = plt.subplots(
            len(parts),
            2,
            figsize=(12, 4.8 * len(parts)),
            gridspec_kw={"width_ratios": [1.6, 1]},
            layout="constrained",
            squeeze=False,
        )
        axes = [panel for row in grid for panel in row]
    elif len(parts) > 1:
        raise ValueError(
            f"these rows lie on {len(parts)} tracks and get a row of axes each; leave axes out"
        )
    for number, part in enumerate(parts):
        _draw_off_track(part, sections, axes[2 * number], axes[2 * number + 1])
    return list(axes)


def _draw_off_track(part: TrackPart, sections: int, on_map: Axes, counts_ax: Axes) -> None:
    track = part.track
    draw_track(on_map, track)
    _draw_sections(on_map, track, sections)
    ends = off_track_ends(part.rows)
    if ends.empty:
        on_map.set_title(f"{part.title}: no episode ended off the track")
    else:
        colour = ends["iteration"] if "iteration" in ends else "tab:red"
        on_map.scatter(ends["x"], ends["y"], c=colour, cmap="plasma", marker="x", s=40, zorder=5)
        on_map.set_title(f"{part.title}: where episodes left the track (dark = early iteration)")
    on_map.set_xlabel("x (m)")
    on_map.set_ylabel("y (m)")
    per_section = (
        section_numbers(ends["closest_waypoint"], track, sections)
        .value_counts()
        .reindex(range(sections), fill_value=0)
        if not ends.empty
        else pd.Series(0, index=range(sections))
    )
    counts_ax.bar([f"S{s}" for s in range(sections)], per_section.to_numpy(), color="tab:red")
    counts_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts_ax.set_xlabel("track section")
    counts_ax.set_ylabel("episodes that ended off track")
