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
from markov.races.settings import EvaluationSettings

Policy = Callable[[Mapping[str, np.ndarray], DeepRacerRacetrackEnv], Any]
"""``policy(observation, env) -> action`` in the env's action space."""


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


TrialCallback = Callable[[TrialResult, list[dict[str, Any]]], None]
"""``on_trial(trial, simtrace_rows)``, called after every trial."""


class TrialRecorder:
    """Records one car's trials from its simtrace rows, for solo and head-to-head evaluations.

    ``start`` opens a trial, ``add`` counts a step's row, ``end_trial_if_over`` closes the trial
    when the row ends it (episode over or lap complete): the trial and its rows go into
    ``result`` and to ``on_trial``, and the next trial opens where this one ended.
    """

    def __init__(self, result: EvaluationResult, on_trial: TrialCallback | None = None) -> None:
        self.result = result
        self._on_trial = on_trial
        self.start(0.0)

    @property
    def episode(self) -> int:
        """The simtrace ``episode`` column: the trials completed before this one."""
        return len(self.result.trials)

    def start(self, start_time_s: float) -> None:
        """Open the next trial at simulated time ``start_time_s``."""
        self.trial = len(self.result.trials) + 1
        self.start_time_s = start_time_s
        self.steps = 0
        self.total_reward = 0.0
        self.counts = dict.fromkeys(RESET_COUNT_FIELDS, 0)
        self.rows: list[dict[str, Any]] = []

    def add(self, simtrace: Mapping[str, Any]) -> dict[str, Any]:
        """Count one step of the trial; returns its simtrace row with the ``episode`` column."""
        row = {**simtrace, "episode": self.episode}
        self.rows.append(row)
        self.steps += 1
        self.total_reward += float(row["reward"])
        status = row["episode_status"]
        if status in self.counts:
            self.counts[status] += 1
        return row

    def end_trial_if_over(
        self, row: Mapping[str, Any], done: bool, end_time_s: float
    ) -> TrialResult | None:
        """Close the trial when ``row`` (the last added) ends it; returns the trial, or None."""
        if not (done or row["episode_status"] == "lap_complete"):
            return None
        trial = self._finish(end_time_s)
        self.result.trials.append(trial)
        self.result.simtrace_rows.extend(self.rows)
        if self._on_trial is not None:
            self._on_trial(trial, self.rows)
        self.start(end_time_s)
        return trial

    def _finish(self, end_time_s: float) -> TrialResult:
        last = self.rows[-1]
        return TrialResult(
            trial=self.trial,
            episode_status=episode_status_to_label(last["episode_status"]),
            completion_percentage=min(max(float(last["progress"]), 0.0), 100.0),
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
    settings: EvaluationSettings,
    *,
    reward_function: Callable[[dict], Any] | str | os.PathLike[str] | None = None,
    video: FrameSink | None = None,
    seed: int = 0,
    on_trial: TrialCallback | None = None,
) -> EvaluationResult:
    """Run an evaluation and return its trials and simtrace rows.

    Args:
        policy: ``policy(observation, env) -> action``.
        world_name: track name or route file; ``model_metadata``: sensors and action space.
        settings: trials, resets, penalties, race type and world keys of the evaluation.
        reward_function: fills the simtrace ``reward`` column (default: the default reward).
        video: receives one frame per step (top-down view, camera, overlay).
        seed: seeds the environment.
        on_trial: called after every trial with its result and its simtrace rows, e.g. to
            rewrite the metrics and simtrace files while the evaluation runs.
    """
    env = DeepRacerRacetrackEnv(
        world_name,
        model_metadata,
        reward_function,
        settings.env_params(),
        render_mode="rgb_array" if video is not None else None,
        evaluation=True,
    )
    recorder = TrialRecorder(EvaluationResult(str(world_name), settings.is_continuous), on_trial)
    for episode in range(settings.episodes):
        observation, _ = env.reset(
            seed=seed if episode == 0 else None,
            options={"evaluation": True, "episode": recorder.episode},
        )
        recorder.start(env.sim_time)
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(policy(observation, env))
            done = terminated or truncated
            row = recorder.add(info["simtrace"])
            if video is not None:
                overlay = _overlay(env, row, recorder, info, settings)
                video.add_frame(env.render(), camera_image(observation), overlay)
            recorder.end_trial_if_over(row, done, env.sim_time)
    return recorder.result


def _overlay(
    env: DeepRacerRacetrackEnv,
    row: Mapping[str, Any],
    recorder: TrialRecorder,
    info: Mapping[str, Any],
    settings: EvaluationSettings,
) -> dict[str, str]:
    """The video's text lines for one step."""
    return {
        "Lap": f"{recorder.trial}/{settings.number_of_trials}",
        "Progress": f"{row['progress']:.1f} %",
        "Speed": f"{env.car.speed:.2f} m/s",
        "Steering": f"{row['steer']:.1f} deg",
        "Lap time": f"{row['tstamp'] + STEP_S - recorder.start_time_s:.2f} s",
        "Resets": f"{info['resets']}/{settings.number_of_resets}",
    }
