"""Head-to-head races: several models on one track at once, each car seeing the others.

Every car has its own environment. The cars move in lockstep at 15 Hz: before each step, every
racing car's environment is given the current poses of the other racing cars
(``set_other_cars``), then every racing car steps with its own policy. A car that runs into
another from behind is crashed (it waits where it stands for COLLISION_PENALTY); the car it hits
is not (docs/simulator-contract.md §9.2, §9.3). Resets and penalties work per car as in
``evaluate``.

Grid: car ``i`` (in the order of ``policies``) starts on the centre line ``i * GRID_GAP_M`` metres
behind the start line (``START_POSITION_OFFSET``), and measures its laps from its own start, so
every car drives whole laps and its lap times compare with single-car evaluations.

Trials: without IS_CONTINUOUS, trial ``k`` of every car starts together on the grid; a car whose
trial has ended leaves the track until every car has ended its trial. The cars share one clock:
each trial starts when the last car ended the previous one. With IS_CONTINUOUS each car drives
one episode of NUMBER_OF_TRIALS laps, and leaves the track when it is done.

Each car gets its own ``EvaluationResult`` (trials and simtrace rows), like ``evaluate``'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import ModelMetadata
from markov.environment.world_config import WorldConfigError
from markov.races.settings import EvaluationSettings
from markov.races.trials import (
    EvaluationResult,
    FrameSink,
    Policy,
    TrialRecorder,
    TrialResult,
)
from markov.tracks import Track, load_track

GRID_GAP_M = 1.0
"""Centre-line distance between consecutive cars on the starting grid."""

UNSUPPORTED_RACE_TYPES = ("HEAD_TO_BOT",)
"""Race types with objects that each car's environment would move differently."""

ModelMetadataSource = ModelMetadata | Mapping[str, Any] | str | os.PathLike[str] | None
RewardSource = Callable[[dict], Any] | str | os.PathLike[str] | None
RaceTrialCallback = Callable[[int, TrialResult, list[dict[str, Any]]], None]
"""``on_trial(car_index, trial, simtrace_rows)``."""


class _Racer:
    """One car of a race: its environment, policy and the recorder of its trials."""

    def __init__(
        self, env: DeepRacerRacetrackEnv, policy: Policy, recorder: TrialRecorder
    ) -> None:
        self.env = env
        self.policy = policy
        self.recorder = recorder
        self.racing = False
        self.observation: Mapping[str, Any] = {}
        self.last_row: dict[str, Any] = {}

    @property
    def result(self) -> EvaluationResult:
        return self.recorder.result

    @property
    def pose(self) -> tuple[float, float, float, float]:
        """``(x, y, yaw, speed)`` of the car origin, as the other cars see it."""
        car = self.env.car
        return car.x, car.y, car.yaw, car.speed

    def start(self, seed: int | None, race_time: float) -> None:
        """Put the car on its grid slot for a new episode starting at ``race_time``."""
        env = self.env
        env.set_other_cars(())
        if seed is None:
            env.sim_time = race_time
        self.observation, _ = env.reset(
            seed=seed, options={"evaluation": True, "episode": self.recorder.episode}
        )
        self.recorder.start(env.sim_time)
        self.racing = True

    def step(self) -> None:
        """One step with the car's own policy; the recorder records a trial when one ends."""
        env = self.env
        action = self.policy(self.observation, env)
        self.observation, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        self.last_row = self.recorder.add(info["simtrace"])
        self.recorder.end_trial_if_over(self.last_row, done, env.sim_time)
        self.racing = not done


def race(
    policies: Sequence[Policy],
    world_name: str | os.PathLike[str],
    model_metadatas: Sequence[ModelMetadataSource],
    settings: EvaluationSettings,
    *,
    reward_functions: Sequence[RewardSource] | None = None,
    car_names: Sequence[str] | None = None,
    video: FrameSink | None = None,
    seed: int = 0,
    on_trial: RaceTrialCallback | None = None,
) -> list[EvaluationResult]:
    """Race the cars of ``policies`` on one track; returns one result per car, in order.

    Args:
        policies: ``policy(observation, env) -> action`` per car (two or more cars).
        world_name: track name or route file; ``model_metadatas``: each car's sensors and
            action space.
        settings: trials, resets, penalties and world keys for the whole race (RACE_TYPE
            HEAD_TO_MODEL, TIME_TRIAL or OBJECT_AVOIDANCE).
        reward_functions: per car, fills its simtrace ``reward`` column (default reward if None).
        car_names: per car, for the video overlay (default "Car 1", "Car 2", ...).
        video: receives one frame per step: the first car's top-down view (the other cars drawn
            as bot cars) and each car's trial and progress; no camera picture, which would hide
            part of the track.
        seed: seeds every car's environment.
        on_trial: called with the car's index, the trial and its simtrace rows after every
            trial of every car.
    """
    count = len(policies)
    reward_functions = [None] * count if reward_functions is None else list(reward_functions)
    car_names = [f"Car {i + 1}" for i in range(count)] if car_names is None else list(car_names)
    _check_race(count, settings, model_metadatas, reward_functions, car_names)
    track = load_track(world_name)
    racers = []
    for index, (policy, metadata, reward) in enumerate(
        zip(policies, model_metadatas, reward_functions, strict=True)
    ):
        env = DeepRacerRacetrackEnv(
            track,
            metadata,
            reward,
            _grid_params(settings, track, index),
            render_mode="rgb_array" if video is not None and index == 0 else None,
            evaluation=True,
        )
        result = EvaluationResult(str(world_name), settings.is_continuous)
        callback = None if on_trial is None else partial(on_trial, index)
        racers.append(_Racer(env, policy, TrialRecorder(result, callback)))
    for episode in range(settings.episodes):
        _race_episode(racers, seed if episode == 0 else None, video, car_names, settings)
    return [racer.result for racer in racers]


def _check_race(
    count: int, settings: EvaluationSettings, *per_car: Sequence[Any]
) -> None:
    """Two or more cars, one entry per car in every per-car list, a race type without bots."""
    if count < 2:
        raise ValueError(f"race needs two or more policies, got {count}; use evaluate for one car")
    names = ("model_metadatas", "reward_functions", "car_names")
    for name, values in zip(names, per_car, strict=True):
        if len(values) != count:
            raise ValueError(
                f"{name} has {len(values)} entries for {count} policies; give one per car, in "
                "the order of the policies"
            )
    if settings.race_type in UNSUPPORTED_RACE_TYPES:
        raise WorldConfigError(
            f"RACE_TYPE is {settings.race_type!r}; a head-to-head race cannot have bot cars "
            "(each car would see its own), use HEAD_TO_MODEL, TIME_TRIAL or OBJECT_AVOIDANCE"
        )


def _grid_params(settings: EvaluationSettings, track: Track, index: int) -> dict[str, Any]:
    """Car ``index``'s environment params: its grid slot ``index * GRID_GAP_M`` metres behind
    the start line."""
    start = settings.world.start_position_offset
    offset = (start - index * GRID_GAP_M / track.length) % 1
    return {**settings.env_params(), "START_POSITION_OFFSET": offset}


def _race_episode(
    racers: Sequence[_Racer],
    seed: int | None,
    video: FrameSink | None,
    car_names: Sequence[str],
    settings: EvaluationSettings,
) -> None:
    """One episode of every car, from the grid, until the last car's episode ends; before each
    step every racing car is shown where the other racing cars are."""
    race_time = max(racer.env.sim_time for racer in racers)
    for racer in racers:
        racer.start(seed, race_time)
    racing = list(racers)
    while racing:
        poses = [racer.pose for racer in racing]
        for i, racer in enumerate(racing):
            racer.env.set_other_cars(poses[:i] + poses[i + 1 :])
        for racer in racing:
            racer.step()
        racing = [racer for racer in racing if racer.racing]
        if video is not None:
            _add_frame(video, racers, racing, car_names, settings.number_of_trials)


def _add_frame(
    video: FrameSink,
    racers: Sequence[_Racer],
    racing: Sequence[_Racer],
    car_names: Sequence[str],
    number_of_trials: int,
) -> None:
    """One video frame: the first car's view with every racing car where it is now."""
    first = racers[0]
    first.env.set_other_cars([racer.pose for racer in racing if racer is not first])
    overlay = {"Time": f"{max(racer.env.sim_time for racer in racers):.2f} s"}
    for racer, name in zip(racers, car_names, strict=True):
        row = racer.last_row
        trial = min(int(row["episode"]) + 1, number_of_trials)
        progress = f"{row['progress']:.1f} %" if racer.racing else "finished"
        overlay[name[:12]] = f"{trial}/{number_of_trials} {progress}"
    video.add_frame(first.env.render(), None, overlay)
