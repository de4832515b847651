"""Evaluation trials as the simapp's evaluation worker runs them
(docs/simulator-contract.md §6.4, §6.6).

Non-continuous evaluations play one episode per trial, each from the start line. Continuous
evaluations (``IS_CONTINUOUS``) play one episode of ``NUMBER_OF_TRIALS`` laps, and every lap is
a trial. With resets left (``NUMBER_OF_RESETS``), a reset rule puts the car back on the track
after a pause of ``OFF_TRACK_PENALTY`` / ``COLLISION_PENALTY`` seconds; the pause steps count
into the lap time. Per trial the result holds what ``evaluation_metrics.json`` needs
(docs/file-formats.md §6); the simtrace rows come from the environment, with ``episode`` set to the
number of trials completed before the row.

A policy is any callable ``policy(observation, env) -> action``: ``checkpoint_policy(agent)``
wraps a trained agent, ``scripted_policy(driver)`` a scripted driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from markov.agents.clipped_ppo import ClippedPPOAgent
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.dynamics import STEP_S
from markov.environment.model_metadata import ModelMetadata
from markov.environment.sensors import CAMERA_SENSORS
from markov.formats.metrics import RESET_COUNT_FIELDS, episode_status_to_label

Policy = Callable[[Mapping[str, np.ndarray], DeepRacerRacetrackEnv], Any]
"""``policy(observation, env) -> action`` in the env's action space."""

EVALUATION_OFF_TRACK_PENALTY = 2.0
EVALUATION_COLLISION_PENALTY = 5.0
EVALUATION_KEYS = (
    "NUMBER_OF_TRIALS",
    "IS_CONTINUOUS",
    "NUMBER_OF_RESETS",
    "OFF_TRACK_PENALTY",
    "COLLISION_PENALTY",
    "REVERSE_DIR",
    "RACE_TYPE",
)
"""The evaluation YAML keys that ``evaluate`` takes as keyword arguments."""


class FrameSink(Protocol):
    """Where video frames go (``markov.formats.video.VideoRecorder``)."""

    def add_frame(
        self,
        topdown_rgb: np.ndarray,
        camera_grey: np.ndarray | None = None,
        overlay: Mapping[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class TrialResult:
    """One evaluation trial: what a line of ``evaluation_metrics.json`` records."""

    trial: int
    episode_status: str
    completion_percentage: float
    start_time_s: float
    end_time_s: float
    steps: int
    total_reward: float
    crash_count: int
    immobilized_count: int
    off_track_count: int
    reversed_count: int

    @property
    def lap_time_s(self) -> float:
        """Elapsed simulated time of the trial, pause (penalty) steps included."""
        return self.end_time_s - self.start_time_s

    @property
    def reset_count(self) -> int:
        """Steps on which a reset rule fired (crashed, immobilized, off track, reversed)."""
        return (
            self.crash_count + self.immobilized_count + self.off_track_count + self.reversed_count
        )

    @property
    def lap_completed(self) -> bool:
        return self.episode_status == "Lap complete"

    def reset_counts(self) -> dict[str, int]:
        """The four counts keyed as in the metrics file (``EvaluationMetricsWriter`` kwargs)."""
        return {name: getattr(self, name) for name in RESET_COUNT_FIELDS.values()}


@dataclass
class EvaluationResult:
    """All trials of one evaluation and the simtrace rows of every step."""

    world_name: str
    is_continuous: bool
    trials: list[TrialResult] = field(default_factory=list)
    simtrace_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def laps_completed(self) -> int:
        return sum(trial.lap_completed for trial in self.trials)

    @property
    def best_lap_time_s(self) -> float | None:
        """Fastest completed lap, or None when no trial completed its lap."""
        times = [trial.lap_time_s for trial in self.trials if trial.lap_completed]
        return min(times) if times else None

    @property
    def simulated_time_s(self) -> float:
        """Simulated time of all trials together."""
        return sum(trial.lap_time_s for trial in self.trials)


class TrialTracker:
    """Accumulates one trial's counts and totals from its simtrace rows."""

    def __init__(self, trial: int, start_time_s: float) -> None:
        self.trial = trial
        self.start_time_s = start_time_s
        self.steps = 0
        self.total_reward = 0.0
        self.counts = dict.fromkeys(RESET_COUNT_FIELDS, 0)
        self.last_row: dict[str, Any] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        self.steps += 1
        self.total_reward += float(row["reward"])
        status = row["episode_status"]
        if status in self.counts:
            self.counts[status] += 1
        self.last_row = dict(row)

    def finish(self, end_time_s: float) -> TrialResult:
        progress = float(self.last_row["progress"])
        return TrialResult(
            trial=self.trial,
            episode_status=episode_status_to_label(self.last_row["episode_status"]),
            completion_percentage=min(max(progress, 0.0), 100.0),
            start_time_s=self.start_time_s,
            end_time_s=end_time_s,
            steps=self.steps,
            total_reward=self.total_reward,
            **{RESET_COUNT_FIELDS[status]: count for status, count in self.counts.items()},
        )


def checkpoint_policy(agent: ClippedPPOAgent) -> Policy:
    """The deterministic policy of a trained agent (argmax action or the mean)."""

    def policy(observation: Mapping[str, np.ndarray], env: DeepRacerRacetrackEnv) -> Any:
        return agent.act_one(observation, deterministic=True)

    return policy


def scripted_policy(driver: Any) -> Policy:
    """A policy from a scripted driver of ``markov.environment.scripted`` (``driver.act(env)``)."""

    def policy(observation: Mapping[str, np.ndarray], env: DeepRacerRacetrackEnv) -> Any:
        return driver.act(env)

    return policy


def evaluation_params(
    *,
    number_of_trials: int,
    is_continuous: bool,
    number_of_resets: int,
    off_track_penalty: float,
    collision_penalty: float,
    reverse_dir: bool,
    race_type: str,
    extra_params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The environment's params for an evaluation; ``extra_params`` adds other YAML keys."""
    extra = dict(extra_params or {})
    clashes = sorted(set(extra) & set(EVALUATION_KEYS))
    if clashes:
        raise ValueError(
            f"extra_params repeats {clashes}; pass them as the keyword arguments "
            f"{[key.lower() for key in clashes]} instead"
        )
    if isinstance(number_of_trials, bool) or not isinstance(number_of_trials, int):
        raise ValueError(f"NUMBER_OF_TRIALS is {number_of_trials!r}; use a whole number >= 1")
    if number_of_trials < 1:
        raise ValueError(f"NUMBER_OF_TRIALS is {number_of_trials}; use a whole number >= 1")
    return {
        **extra,
        "NUMBER_OF_TRIALS": number_of_trials,
        "IS_CONTINUOUS": bool(is_continuous),
        "NUMBER_OF_RESETS": number_of_resets,
        "OFF_TRACK_PENALTY": off_track_penalty,
        "COLLISION_PENALTY": collision_penalty,
        "REVERSE_DIR": bool(reverse_dir),
        "RACE_TYPE": race_type,
    }


def camera_image(observation: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The car's camera picture in an observation, or None for a car without a camera."""
    for name in CAMERA_SENSORS:
        if name in observation:
            return observation[name]
    return None


def evaluate(
    policy: Policy,
    world_name: str | os.PathLike[str],
    model_metadata: ModelMetadata | Mapping[str, Any] | str | os.PathLike[str] | None,
    *,
    number_of_trials: int,
    is_continuous: bool = False,
    number_of_resets: int = 0,
    off_track_penalty: float = EVALUATION_OFF_TRACK_PENALTY,
    collision_penalty: float = EVALUATION_COLLISION_PENALTY,
    reverse_dir: bool = False,
    race_type: str = "TIME_TRIAL",
    extra_params: Mapping[str, Any] | None = None,
    reward_function: Callable[[dict], Any] | str | os.PathLike[str] | None = None,
    video: FrameSink | None = None,
    seed: int = 0,
    on_trial: Callable[[TrialResult, list[dict[str, Any]]], None] | None = None,
) -> EvaluationResult:
    """Run an evaluation and return its trials and simtrace rows.

    Args:
        policy: ``policy(observation, env) -> action``.
        world_name: track name or route file; ``model_metadata``: sensors and action space.
        number_of_trials .. race_type: the evaluation YAML keys of docs/file-formats.md §1.2.
        extra_params: further YAML keys for the environment (``START_POSITION_OFFSET``, ...).
        reward_function: fills the simtrace ``reward`` column (default: the default reward).
        video: receives one frame per step (top-down view, camera, overlay).
        seed: seeds the environment.
        on_trial: called after every trial with its result and its simtrace rows, e.g. to
            rewrite the metrics and simtrace files while the evaluation runs.
    """
    params = evaluation_params(
        number_of_trials=number_of_trials,
        is_continuous=is_continuous,
        number_of_resets=number_of_resets,
        off_track_penalty=off_track_penalty,
        collision_penalty=collision_penalty,
        reverse_dir=reverse_dir,
        race_type=race_type,
        extra_params=extra_params,
    )
    env = DeepRacerRacetrackEnv(
        world_name,
        model_metadata,
        reward_function,
        params,
        render_mode="rgb_array" if video is not None else None,
        evaluation=True,
    )
    result = EvaluationResult(str(world_name), bool(is_continuous))
    episodes = 1 if is_continuous else number_of_trials
    for episode in range(episodes):
        observation, _ = env.reset(
            seed=seed if episode == 0 else None,
            options={"evaluation": True, "episode": len(result.trials)},
        )
        tracker = TrialTracker(len(result.trials) + 1, env.sim_time)
        trial_rows: list[dict[str, Any]] = []
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(policy(observation, env))
            done = terminated or truncated
            row = {**info["simtrace"], "episode": len(result.trials)}
            trial_rows.append(row)
            tracker.add(row)
            if video is not None:
                overlay = _overlay(env, row, tracker, info, number_of_trials, number_of_resets)
                video.add_frame(env.render(), camera_image(observation), overlay)
            if done or row["episode_status"] == "lap_complete":
                trial = tracker.finish(env.sim_time)
                result.trials.append(trial)
                result.simtrace_rows.extend(trial_rows)
                if on_trial is not None:
                    on_trial(trial, trial_rows)
                tracker = TrialTracker(len(result.trials) + 1, env.sim_time)
                trial_rows = []
    return result


def _overlay(
    env: DeepRacerRacetrackEnv,
    row: Mapping[str, Any],
    tracker: TrialTracker,
    info: Mapping[str, Any],
    number_of_trials: int,
    number_of_resets: int,
) -> dict[str, str]:
    """The video's text lines for one step."""
    return {
        "Lap": f"{tracker.trial}/{number_of_trials}",
        "Progress": f"{row['progress']:.1f} %",
        "Speed": f"{env.car.speed:.2f} m/s",
        "Steering": f"{row['steer']:.1f} deg",
        "Lap time": f"{row['tstamp'] + STEP_S - tracker.start_time_s:.2f} s",
        "Resets": f"{info['resets']}/{number_of_resets}",
    }
