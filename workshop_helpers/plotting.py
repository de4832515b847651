"""Figures for the workshop notebooks: tracks, action spaces, rewards and training progress.

Figures are made with pyplot (so the active backend applies) and closed before they are
returned: a notebook cell that ends with ``plot_...()`` shows the figure exactly once, and the
returned Figure can still be saved or displayed again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator
from shapely.geometry.polygon import orient

from markov.environment.action_space import (
    ActionSpace,
    ContinuousActionSpace,
    DiscreteActionSpace,
)
from markov.environment.model_metadata import ModelMetadata, load_model_metadata
from markov.tracks import BUILTIN_TRACKS, OFFICIAL_TRACKS, WORKSHOP_TRACKS, Track, load_track
from markov.tracks.official import official_track_available

if TYPE_CHECKING:
    from workshop_helpers.reward_testing import RewardHeatmap, ScriptedRun

PathPoints = tuple[Sequence[float], Sequence[float]] | np.ndarray
"""A path as an ``(xs, ys)`` pair or an (N, 2) array of points."""

ROAD_COLOR = "#d9d9d9"
BORDER_COLOR = "#303030"
CENTER_COLOR = "#8a8a8a"
START_COLOR = "#1a9850"
CAR_COLOR = "#9628c8"
TRAINING_COLOR = "tab:blue"
EVALUATION_COLOR = "tab:orange"
START_ARROW_FRACTION = 0.06
"""Length of the start-direction arrow, as a fraction of the track length."""


def plot_track(
    track_or_name: Track | str,
    ax: Axes | None = None,
    path: PathPoints | None = None,
    color_by: Sequence[float] | np.ndarray | None = None,
    color_label: str = "",
) -> Figure:
    """Draw a track (road, borders, centre line, start and direction) and optionally a path.

    ``path`` is an ``(xs, ys)`` pair or an (N, 2) array; ``color_by`` gives one value per path
    point (reward, speed, ...) and adds a colour bar titled ``color_label``.
    """
    track = as_track(track_or_name)
    created = ax is None
    figure, ax = _figure_and_axes(ax, figsize=(7, 5.5))
    draw_track(ax, track)
    ax.set_title(f"{track.name}: {track.length:.1f} m, {_typical_width(track):.2f} m wide")
    if path is not None:
        xs, ys = _path_xy(path)
        ax.plot(xs, ys, color="0.35", linewidth=0.8)
        if color_by is not None:
            values = np.asarray(color_by, dtype=float)
            if values.shape != xs.shape:
                raise ValueError(
                    f"color_by has {values.size} values but the path has {xs.size} points; "
                    "give one value per path point"
                )
            dots = ax.scatter(xs, ys, c=values, s=10, cmap="viridis", zorder=3)
            figure.colorbar(dots, ax=ax, shrink=0.8, label=color_label)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    return _finish(figure) if created else figure


def draw_track(ax: Axes, track: Track, fill: bool = True) -> None:
    """Draw road surface (``fill``), borders, dashed centre line, start point and direction."""
    if fill:
        ax.add_patch(PathPatch(_road_path(track), facecolor=ROAD_COLOR, edgecolor="none"))
    for line in (track.inner, track.outer):
        ax.plot(line.points[:, 0], line.points[:, 1], color=BORDER_COLOR, linewidth=1.2)
    center = track.center.points
    ax.plot(center[:, 0], center[:, 1], color=CENTER_COLOR, linewidth=0.8, linestyle="--")
    start_x, start_y = center[0]
    ahead = track.center.interpolate(max(START_ARROW_FRACTION * track.length, 0.3))
    ax.annotate(
        "",
        xy=ahead,
        xytext=(start_x, start_y),
        arrowprops={"arrowstyle": "-|>", "color": START_COLOR, "linewidth": 2},
    )
    ax.plot(start_x, start_y, marker="o", color=START_COLOR, markersize=6, zorder=4)
    ax.set_aspect("equal")


def show_tracks(names: Sequence[str] | None = None, columns: int = 4) -> Figure:
    """A grid of track pictures, each titled with name, length and width.

    By default the built-in tracks, then the workshop's official tracks; an official track not
    yet on this machine gets a placeholder tile (nothing is downloaded here).
    """
    names = list(names) if names is not None else [*BUILTIN_TRACKS, *WORKSHOP_TRACKS]
    rows = max(1, math.ceil(len(names) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        if name in OFFICIAL_TRACKS and not official_track_available(name):
            _draw_placeholder(ax, name)
            continue
        track = load_track(name)
        draw_track(ax, track)
        ax.set_title(
            f"{name}\n{track.length:.1f} m, {_typical_width(track):.2f} m wide", fontsize=9
        )
        ax.set_axis_off()
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    figure.tight_layout()
    return _finish(figure)


def plot_action_space(
    metadata: ModelMetadata | ActionSpace | Mapping[str, Any] | str | os.PathLike[str],
) -> Figure:
    """Picture of the actions of a model_metadata (ModelMetadata, dict, JSON path) or space.

    Discrete: one arrow per action seen from above the car (direction = steering, + = left;
    length = speed), labelled with its index. Continuous: the shaded steering x speed box.
    """
    space = _action_space(metadata)
    if isinstance(space, DiscreteActionSpace):
        return _finish(_discrete_action_figure(space))
    return _finish(_continuous_action_figure(space))


def plot_rewards_per_step(results: Sequence[ScriptedRun]) -> Figure:
    """Reward per step of each scripted car, with the final episode status at the line's end."""
    figure, ax = plt.subplots(figsize=(9, 4.5))
    last_step = 0.0
    for number, run in enumerate(results):
        if not run.rewards:
            continue
        steps = run.steps
        (line,) = ax.plot(
            steps,
            run.rewards,
            linewidth=1.3,
            label=f"{run.name}: total {run.total_reward:.1f}, {run.final_status}",
        )
        ax.plot(steps[-1], run.rewards[-1], marker="o", color=line.get_color())
        ax.annotate(
            run.final_status,
            xy=(steps[-1], run.rewards[-1]),
            xytext=(6, 4 + 11 * number),  # staggered, so cars that end together stay readable
            textcoords="offset points",
            color=line.get_color(),
            fontsize=9,
        )
        last_step = max(last_step, float(steps[-1]))
    ax.set_xlim(0, 1.15 * last_step + 1)
    ax.margins(y=0.15)
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_title("Reward per step of each scripted car")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9)
    return _finish(figure)


def plot_reward_heatmap(heatmap: RewardHeatmap) -> Figure:
    """The reward over the road surface (blank off the road), with the track drawn on top."""
    figure, ax = plt.subplots(figsize=(8, 6))
    colormap = plt.get_cmap("viridis").with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    image = ax.imshow(
        np.ma.masked_invalid(heatmap.rewards),
        origin="lower",
        extent=heatmap.extent,
        cmap=colormap,
        interpolation="nearest",
    )
    figure.colorbar(image, ax=ax, shrink=0.8, label="reward")
    draw_track(ax, heatmap.track, fill=False)
    heading = "along the track" if heatmap.heading == "track" else f"{heatmap.heading:g}°"
    ax.set_title(
        f"Reward on {heatmap.track.name}: heading {heading}, speed {heatmap.speed:g} m/s, "
        f"steering {heatmap.steering:g}°",
        fontsize=10,
    )
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    return _finish(figure)


def plot_training_progress(metrics_rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> Figure:
    """Training curves from the ``metrics`` rows of a training metrics JSON.

    Top: reward per episode (thin) and mean reward per iteration (thick); bottom: mean progress
    per iteration. Training and evaluation use different colours. The x axis counts iterations
    from 0, as the checkpoints and the trainer's table do: iteration = (episode - 1) // episodes
    per iteration, the largest ``trial`` value.
    """
    rows = list(metrics_rows["metrics"] if isinstance(metrics_rows, Mapping) else metrics_rows)
    figure, (reward_ax, progress_ax) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, layout="constrained"
    )
    if not rows:
        reward_ax.text(
            0.5, 0.5, "no episodes yet", ha="center", va="center", transform=reward_ax.transAxes
        )
        return _finish(figure)
    per_iteration = max(int(row["trial"]) for row in rows)
    for phase, color in (("training", TRAINING_COLOR), ("evaluation", EVALUATION_COLOR)):
        phase_rows = [row for row in rows if row.get("phase", "training") == phase]
        if not phase_rows:
            continue
        episodes = np.array([int(row["episode"]) for row in phase_rows])
        rewards = np.array([float(row["reward_score"]) for row in phase_rows])
        progress = np.array([float(row["completion_percentage"]) for row in phase_rows])
        iterations = (episodes - 1) // per_iteration
        done = np.unique(iterations)
        mean_reward = [rewards[iterations == i].mean() for i in done]
        mean_progress = [progress[iterations == i].mean() for i in done]
        if phase == "training":
            reward_ax.plot(
                (episodes - 1) / per_iteration,
                rewards,
                color=color,
                linewidth=0.7,
                alpha=0.45,
                label="training: reward per episode",
            )
        else:
            reward_ax.plot(
                iterations,
                rewards,
                color=color,
                linestyle="none",
                marker=".",
                alpha=0.5,
                label="evaluation: reward per episode",
            )
        reward_ax.plot(
            done,
            mean_reward,
            color=color,
            linewidth=2.5,
            marker="o",
            markersize=4,
            label=f"{phase}: mean reward per iteration",
        )
        progress_ax.plot(
            done,
            mean_progress,
            color=color,
            linewidth=2.5,
            marker="o",
            markersize=4,
            label=f"{phase}: mean progress per iteration",
        )
    reward_ax.set_ylabel("reward")
    reward_ax.set_title(f"Training progress ({per_iteration} episodes per iteration)")
    progress_ax.set_ylabel("progress (%)")
    progress_ax.set_ylim(0, 105)
    progress_ax.set_xlabel("iteration")
    # iterations are whole numbers, even when only one has run (0 and 1 are then the ticks)
    progress_ax.set_xlim(0, max(1.0, progress_ax.get_xlim()[1]))
    progress_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (reward_ax, progress_ax):
        ax.grid(alpha=0.3)
        # beside the axes, so the legend never hides the first iterations' points
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)
    return _finish(figure)


def _finish(figure: Figure) -> Figure:
    """Close a figure this module created, so that a notebook shows it once (as the result)."""
    plt.close(figure)
    return figure


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    figure, new_ax = plt.subplots(figsize=figsize)
    return figure, new_ax


def as_track(track_or_name: Track | str | os.PathLike[str]) -> Track:
    """The track itself, or the track of that name or route file."""
    return track_or_name if isinstance(track_or_name, Track) else load_track(track_or_name)


def _typical_width(track: Track) -> float:
    """Median road width over the centre-line points, as the engine measures it."""
    points = track.center.points[:-1] if track.closed else track.center.points
    return float(np.median([track.width_at(x, y).width for x, y in points]))


def _road_path(track: Track) -> Path:
    """The road polygon (with its hole on loops) as one matplotlib path."""
    road = track.road_polygon
    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for polygon in getattr(road, "geoms", [road]):
        polygon = orient(polygon)  # holes wind against the outline, so they stay unfilled
        for ring in (polygon.exterior, *polygon.interiors):
            ring_points = np.asarray(ring.coords)[:, :2]
            ring_codes = np.full(len(ring_points), Path.LINETO)
            ring_codes[0], ring_codes[-1] = Path.MOVETO, Path.CLOSEPOLY
            vertices.append(ring_points)
            codes.append(ring_codes)
    return Path(np.vstack(vertices), np.concatenate(codes))


def _path_xy(path: PathPoints) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(path, np.ndarray) and path.ndim == 2 and path.shape[1] == 2:
        return path[:, 0].astype(float), path[:, 1].astype(float)
    xs, ys = path
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def _draw_placeholder(ax: Axes, name: str) -> None:
    ax.set_facecolor("#f3f3f3")
    ax.text(
        0.5,
        0.5,
        "download on first use",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="0.35",
        fontsize=9,
    )
    ax.set_title(f"{name}\n(not on this machine yet)", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linestyle("--")
        spine.set_color("0.6")


def _action_space(
    metadata: ModelMetadata | ActionSpace | Mapping[str, Any] | str | os.PathLike[str],
) -> ActionSpace:
    if isinstance(metadata, DiscreteActionSpace | ContinuousActionSpace):
        return metadata
    if isinstance(metadata, ModelMetadata):
        return metadata.action_space
    return load_model_metadata(metadata).action_space


def _discrete_action_figure(space: DiscreteActionSpace) -> Figure:
    figure, ax = plt.subplots(figsize=(7, 5))
    top_speed = max(speed for _, speed in space.actions)
    colormap = plt.get_cmap("plasma")
    for speed in np.arange(1.0, math.floor(top_speed) + 1.0):
        ax.add_patch(plt.Circle((0, 0), speed, fill=False, color="0.85", linewidth=0.8))
        ax.text(
            speed,
            -0.04 * top_speed,
            f"{speed:g} m/s",
            color="0.55",
            fontsize=8,
            ha="center",
            va="top",
        )
    car_length = 0.12 * top_speed
    ax.add_patch(
        Rectangle(
            (-0.3 * car_length, -car_length),
            0.6 * car_length,
            car_length,
            color=CAR_COLOR,
            zorder=3,
        )
    )
    labels: dict[tuple[float, float], list[str]] = {}
    for index, (steering, speed) in enumerate(space.actions):
        angle = math.radians(90.0 + steering)  # the car points up; + steering turns left
        dx, dy = speed * math.cos(angle), speed * math.sin(angle)
        ax.arrow(
            0,
            0,
            dx,
            dy,
            width=0.012 * top_speed,
            length_includes_head=True,
            head_width=0.05 * top_speed,
            head_length=0.06 * top_speed,
            color=colormap(0.15 + 0.7 * speed / top_speed),
            zorder=3.0 - speed / top_speed,  # shorter arrows on top of longer ones
        )
        labels.setdefault((dx, dy), []).append(str(index))
    for (dx, dy), indices in labels.items():
        reach = math.hypot(dx, dy) or 1.0
        pad = 0.09 * top_speed
        ax.text(
            dx + pad * dx / reach,
            dy + pad * dy / reach,
            ",".join(indices),
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
        )
    limit = 1.25 * top_speed
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-0.3 * top_speed, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("left  <-  steering  ->  right     (arrow length = speed)")
    ax.set_title(f"Discrete action space: {space.size} actions")
    return figure


def _continuous_action_figure(space: ContinuousActionSpace) -> Figure:
    figure, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.add_patch(
        Rectangle(
            (space.steering_low, space.speed_low),
            space.steering_high - space.steering_low,
            space.speed_high - space.speed_low,
            facecolor="tab:purple",
            alpha=0.35,
            edgecolor="tab:purple",
            linewidth=1.5,
        )
    )
    steering_margin = 0.15 * max(space.steering_high - space.steering_low, 10.0)
    speed_margin = 0.15 * max(space.speed_high - space.speed_low, 0.5)
    ax.set_xlim(space.steering_high + steering_margin, space.steering_low - steering_margin)
    ax.set_ylim(max(0.0, space.speed_low - speed_margin), space.speed_high + speed_margin)
    ax.axvline(0.0, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xlabel("steering angle (degrees; + = left, drawn on the left)")
    ax.set_ylabel("speed (m/s)")
    ax.set_title(
        f"Continuous action space: steering {space.steering_low:g}..{space.steering_high:g}°, "
        f"speed {space.speed_low:g}..{space.speed_high:g} m/s",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    return figure
