"""Try a reward function before training: scripted cars, a reward heatmap and the params table.

Everything is computed by the engine (``markov``): the env drives the scripted cars, and the
heatmap builds each pose's params with the same functions the env calls on every step.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv
from markov.environment.dynamics import STEP_S
from markov.environment.episode_rules import compute_progress
from markov.environment.episode_status import EpisodeStatus
from markov.environment.model_metadata import ModelMetadata
from markov.environment.reward_function import load_reward_function
from markov.environment.reward_params import (
    build_reward_params,
    copy_reward_params,
    measure_pose,
    pose_from_front,
)
from markov.environment.reward_params_glossary import REWARD_PARAMS_GLOSSARY
from markov.environment.scripted import CenterLineDriver, OffTrackDriver, ZigZagDriver
from markov.tracks import Track, load_track

RewardSource = Callable[[dict], Any] | str | os.PathLike[str]
MetadataSource = Mapping[str, Any] | str | os.PathLike[str] | ModelMetadata | None

SCRIPTED_DRIVERS: dict[str, Callable[[], Any]] = {
    "center": CenterLineDriver,
    "zigzag": ZigZagDriver,
    "offtrack": OffTrackDriver,
}
"""Scripted car name -> a factory of a fresh driver (drivers may keep state between steps)."""

_PARAMS_TABLE_STEPS = 60
"""Steps the centre-line car drives before its params are shown (about 4 s, past the start)."""


@dataclass(frozen=True)
class ScriptedRun:
    """One episode of a scripted car: per-step rewards, statuses and reward params.

    The PREPARE step that starts every episode (the car does not move, reward 0) is left out.
    """

    name: str
    rewards: list[float]
    statuses: list[str]
    params: list[dict] = field(repr=False)

    @property
    def final_status(self) -> str:
        """Episode status of the last step (``lap_complete``, ``off_track``, ...)."""
        return self.statuses[-1] if self.statuses else EpisodeStatus.PREPARE

    @property
    def total_reward(self) -> float:
        """Sum of the rewards of all steps."""
        return float(sum(self.rewards))

    @property
    def steps(self) -> np.ndarray:
        """The ``steps`` param of each recorded step."""
        return np.array([p["steps"] for p in self.params])

    @property
    def xs(self) -> np.ndarray:
        """x of the reference point at each step (for ``plot_track(path=...)``)."""
        return np.array([p["x"] for p in self.params])

    @property
    def ys(self) -> np.ndarray:
        """y of the reference point at each step."""
        return np.array([p["y"] for p in self.params])

    @property
    def progress(self) -> np.ndarray:
        """The ``progress`` param of each step, in percent."""
        return np.array([p["progress"] for p in self.params])

    def summary(self) -> dict[str, Any]:
        """One table row: name, steps, final status, final progress and rewards."""
        count = len(self.rewards)
        return {
            "car": self.name,
            "steps": count,
            "final_status": self.final_status,
            "progress_%": round(float(self.progress[-1]), 1) if count else 0.0,
            "total_reward": round(self.total_reward, 2),
            "mean_reward": round(self.total_reward / count, 3) if count else 0.0,
        }

    def _repr_html_(self) -> str:
        row = self.summary()
        head = "".join(f"<th>{html.escape(key)}</th>" for key in row)
        cells = "".join(f"<td>{html.escape(str(value))}</td>" for value in row.values())
        return f"<table><tr>{head}</tr><tr>{cells}</tr></table>"


@dataclass(frozen=True)
class RewardHeatmap:
    """Rewards on a grid of reference-point positions; NaN where the point is off the road.

    ``rewards[i, j]`` belongs to the point ``(xs[j], ys[i])``.
    """

    track: Track
    xs: np.ndarray
    ys: np.ndarray
    rewards: np.ndarray
    resolution: float
    heading: str | float
    speed: float
    steering: float

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) of the grid cells, for ``imshow``."""
        half = self.resolution / 2.0
        return (self.xs[0] - half, self.xs[-1] + half, self.ys[0] - half, self.ys[-1] + half)


def drive_scripted_cars(
    reward_function: RewardSource,
    world_name: str | Track,
    model_metadata: MetadataSource = None,
    drivers: Sequence[str] = ("center", "zigzag", "offtrack"),
    max_steps: int = 600,
    seed: int = 0,
) -> list[ScriptedRun]:
    """Drive each scripted car for one episode (at most ``max_steps`` steps) from the start."""
    unknown = [name for name in drivers if name not in SCRIPTED_DRIVERS]
    if unknown:
        raise ValueError(
            f"unknown scripted cars {unknown}; choose from {', '.join(SCRIPTED_DRIVERS)}"
        )
    env = DeepRacerRacetrackEnv(world_name, model_metadata, reward_function)
    return [_drive(env, name, SCRIPTED_DRIVERS[name](), max_steps, seed) for name in drivers]


def summary_table(runs: Sequence[ScriptedRun]) -> pd.DataFrame:
    """One row per scripted car, to compare how a reward function pays each of them."""
    return pd.DataFrame([run.summary() for run in runs]).set_index("car")


def reward_heatmap(
    reward_function: RewardSource,
    world_name: str | Track,
    resolution: float = 0.05,
    heading: str | float = "track",
    speed: float = 1.0,
    steering: float = 0.0,
) -> RewardHeatmap:
    """Evaluate the reward with the car's reference point at every grid cell on the road.

    ``heading="track"`` points the car along the centre line at each cell (so the map shows how
    the reward depends on position); a number is a fixed heading in degrees. ``progress``,
    ``steps`` and ``sim_time`` are those of a car that drove the centre line from the start at
    ``speed``; the car is on its first lap, driven forwards, with no objects.
    """
    if not resolution > 0:
        raise ValueError(f"resolution is {resolution}; use a grid step in metres > 0")
    if not speed > 0:
        raise ValueError(f"speed is {speed}; use a commanded speed in m/s > 0")
    track = world_name if isinstance(world_name, Track) else load_track(world_name)
    reward_fn = load_reward_function(reward_function)
    xs, ys = _grid_axes(track, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    fronts = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    on_road = track.points_on_road(fronts)
    fronts = fronts[on_road]

    geometries = [measure_pose(track, float(x), float(y)) for x, y in fronts]
    if heading == "track":
        yaws = [track.center.direction_at(g.ndist * track.length) for g in geometries]
    elif isinstance(heading, int | float):
        yaws = [math.radians(heading)] * len(geometries)
    else:
        raise ValueError(f'heading is {heading!r}; use "track" or a heading in degrees')

    values = np.empty(len(geometries))
    for i, (geometry, yaw) in enumerate(zip(geometries, yaws, strict=True)):
        lap_percent = 100.0 * geometry.ndist
        steps = 1 + math.ceil(geometry.ndist * track.length / (speed * STEP_S))
        params = build_reward_params(
            track,
            pose_from_front(track, geometry, yaw),
            # A car that arrived here driving forwards had about this progress one step ago.
            progress=compute_progress(geometry.ndist, 0.0, lap_percent),
            steps=steps,
            speed=speed,
            steering_angle=steering,
            sim_time=(steps - 1) * STEP_S,
        )
        values[i] = reward_fn(copy_reward_params(params), private=True)

    rewards = np.full(grid_x.size, np.nan)
    rewards[on_road] = values
    return RewardHeatmap(
        track, xs, ys, rewards.reshape(grid_x.shape), resolution, heading, speed, steering
    )


def params_table(world_name: str | Track, model_metadata: MetadataSource = None) -> list[dict]:
    """Every reward params key with a live value (from a real step) and its meaning."""
    env = DeepRacerRacetrackEnv(world_name, model_metadata)
    run = _drive(env, "center", CenterLineDriver(), max_steps=_PARAMS_TABLE_STEPS, seed=0)
    params = run.params[-1]
    return [
        {"key": key, "example": _short_text(value), "meaning": _meaning(key)}
        for key, value in params.items()
    ]


def _drive(
    env: DeepRacerRacetrackEnv, name: str, driver: Any, max_steps: int, seed: int
) -> ScriptedRun:
    env.reset(seed=seed)
    rewards: list[float] = []
    statuses: list[str] = []
    params: list[dict] = []
    for _ in range(max_steps):
        _, reward, terminated, truncated, info = env.step(driver.act(env))
        if info["episode_status"] != EpisodeStatus.PREPARE:
            rewards.append(reward)
            statuses.append(info["episode_status"])
            params.append(info["params"])
        if terminated or truncated:
            break
    return ScriptedRun(name, rewards, statuses, params)


def _grid_axes(track: Track, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres covering both borders with one spare cell on every side."""
    borders = np.vstack([track.inner.points, track.outer.points])
    low = borders.min(axis=0) - resolution
    high = borders.max(axis=0) + resolution
    xs = np.arange(low[0], high[0] + resolution / 2.0, resolution)
    ys = np.arange(low[1], high[1] + resolution / 2.0, resolution)
    return xs, ys


def _meaning(key: str) -> str:
    """The glossary's meaning of a params key ("" for a key an extension adds)."""
    info = REWARD_PARAMS_GLOSSARY.get(key)
    return info.meaning if info is not None else ""


def _short_text(value: Any) -> str:
    """A value as table text: numbers rounded, long lists cut after two items."""
    if isinstance(value, float):
        return repr(round(value, 3))
    if isinstance(value, list | tuple) and len(value) > 4:
        head = ", ".join(_short_text(item) for item in value[:2])
        return f"[{head}, ...] ({len(value)} items)"
    if isinstance(value, list | tuple):
        inner = ", ".join(_short_text(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)
