"""The reward "what if": recompute a run's rewards with another reward function, and compare
how the two functions rank the recorded episodes and pay for each action."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from markov.environment.episode_status import NON_RUN_STATUSES, EpisodeStatus
from markov.environment.reward_function import load_reward_function
from markov.environment.reward_params import build_reward_params, measure_pose, pose_from_front
from markov.tracks import Track
from workshop_helpers.analysis.plots import axes_or_new
from workshop_helpers.analysis.summaries import action_labels, episode_keys, run_steps
from workshop_helpers.analysis.tracks import Tracks, split_by_track
from workshop_helpers.plotting import as_track


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
    (``settings.RunSettings.tracks``). Exact: ``x, y, heading, steps, speed,
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
                "instead (Track.reversed(), or settings.RunSettings.tracks)"
            )
        tracks: Tracks = world_name
    else:
        track = as_track(world_name)
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
    ax = axes_or_new(ax)
    order = np.arange(len(totals))
    ax.plot(order, totals["reward"], color="tab:blue", label="recorded")
    ax.set_xlabel("episode")
    ax.set_ylabel("recorded total reward", color="tab:blue")
    other = ax.twinx()
    other.plot(order, totals["new_reward"], color="tab:orange", label="new")
    other.set_ylabel("new total reward", color="tab:orange")
    return ax


def replay_agrees(replayed: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Whether ``new_reward`` equals the recorded ``reward`` on every step (within tolerance)."""
    difference = (replayed["new_reward"].astype(float) - replayed["reward"].astype(float)).abs()
    return bool((difference <= tolerance).all())


def episode_totals(replayed: pd.DataFrame) -> pd.DataFrame:
    """Per episode: recorded and new total reward, and each one's rank (1 = most reward)."""
    keys = episode_keys(replayed)
    totals = replayed.groupby(keys, sort=True)[["reward", "new_reward"]].sum().reset_index()
    totals["recorded_rank"] = totals["reward"].rank(ascending=False, method="min").astype(int)
    totals["new_rank"] = totals["new_reward"].rank(ascending=False, method="min").astype(int)
    return totals


def ranking_agreement(replayed: pd.DataFrame) -> float:
    """Rank correlation of recorded and new episode totals (NaN with fewer than 3 episodes)."""
    totals = episode_totals(replayed)
    if len(totals) < 3:
        return math.nan
    if totals["reward"].nunique() < 2 or totals["new_reward"].nunique() < 2:
        return math.nan
    return float(totals["recorded_rank"].corr(totals["new_rank"]))


def reward_by_action(replayed: pd.DataFrame) -> pd.DataFrame:
    """Mean reward of each action under both functions, relative to that function's own mean
    over all driving steps (1.0 = an average step), and the change from recorded to new.

    The two functions may pay on different scales; the relative pay is what the training
    compares, so ``change`` shows which actions the new function favours (> 0) or punishes.
    """
    steps = run_steps(replayed)
    if steps.empty:
        return pd.DataFrame(columns=["action", "steps", "recorded", "new", "change"])
    grouped = steps.groupby(action_labels(steps).rename("action"))
    table = grouped.agg(
        steps=("reward", "size"), recorded=("reward", "mean"), new=("new_reward", "mean")
    )
    table["recorded"] /= _nonzero(steps["reward"].mean())
    table["new"] /= _nonzero(steps["new_reward"].mean())
    table["change"] = table["new"] - table["recorded"]
    return table.reset_index()


def describe_what_if(replayed: pd.DataFrame) -> str:
    """A sentence on how the new reward function would rank the recorded episodes."""
    rho = ranking_agreement(replayed)
    if math.isnan(rho):
        return "Too few (or too similar) episodes to compare the two rankings."
    if rho >= 0.9:
        verdict = (
            "both functions prefer the same episodes: switching would change little for the "
            "driving the car already does."
        )
    elif rho >= 0.5:
        verdict = (
            "the new function mostly agrees, but reorders some episodes: see which actions it "
            "pays more or less for below."
        )
    else:
        verdict = (
            "the new function prefers quite different episodes: it would push the training in "
            "a different direction."
        )
    return f"Rank correlation of the episode totals (recorded vs new): {rho:+.2f}; {verdict}"


def _nonzero(value: float) -> float:
    return value if value and math.isfinite(value) else 1.0
