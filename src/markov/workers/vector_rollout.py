"""Batched rollouts: one worker steps several environments in lock-step.

Per-step policy inference (one forward pass per simulator step), not the simulator, bounds a
rollout worker. Here a worker keeps ``NUM_ENVS_PER_WORKER`` environments and runs one batched
forward pass per step for all of them, with observations stacked along a leading axis as in
Gymnasium's vector API. The episodes a worker owes an iteration are handed out in order: each
environment starts the next episode number when its previous episode ends, until all are
started. Records come back in episode order, each with its own simtrace rows, so every episode's
arrays, metrics and simtrace are what a single environment would have produced for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from markov.agents.clipped_ppo import ClippedPPOAgent
from markov.environment import DeepRacerRacetrackEnv
from markov.formats.episodes import EpisodeArrays
from markov.workers.live_frames import LiveFramePublisher

NUM_ENVS_VARIABLE = "NUM_ENVS_PER_WORKER"
DEFAULT_NUM_ENVS = 4
MAX_NUM_ENVS = 64


class NumEnvsError(ValueError):
    """NUM_ENVS_PER_WORKER is not a usable number of environments."""


def num_envs_setting(env_vars: Mapping[str, str], params: Mapping[str, Any]) -> int:
    """Environments per rollout worker: the environment variable, else the YAML key, else 4."""
    raw = env_vars.get(NUM_ENVS_VARIABLE) or params.get(NUM_ENVS_VARIABLE) or DEFAULT_NUM_ENVS
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_NUM_ENVS:
        raise NumEnvsError(
            f"{NUM_ENVS_VARIABLE}={raw!r} is invalid; give a whole number from 1 to "
            f"{MAX_NUM_ENVS} (default {DEFAULT_NUM_ENVS}): the environments one rollout worker "
            "steps together"
        )
    return value


@dataclass
class EpisodeRecord:
    """What one played episode leaves behind."""

    arrays: EpisodeArrays
    total_reward: float
    progress: float
    status: str
    steps: int
    start_time: float
    end_time: float
    laps: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class PlayedEpisode(EpisodeRecord):
    """An episode played in lock-step: its number in the worker's count and its simtrace rows."""

    number: int
    simtrace_rows: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class _Running:
    """An episode in progress on one environment."""

    number: int
    start_time: float
    observation: dict[str, np.ndarray]
    observations: dict[str, list[np.ndarray]]
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    simtrace_rows: list[Mapping[str, Any]] = field(default_factory=list)


def play_episodes_lockstep(
    envs: Sequence[DeepRacerRacetrackEnv],
    agent: ClippedPPOAgent,
    first_episode: int,
    count: int,
    *,
    first_start: int | None = None,
    live: LiveFramePublisher | None = None,
    status: Mapping[str, Any] | None = None,
) -> list[PlayedEpisode]:
    """Play training episodes ``first_episode .. first_episode + count - 1`` on ``envs``.

    Each step stacks the observations of every environment with an episode in progress, takes
    one batched ``agent.act`` and steps those environments. Live frames come from ``envs[0]``.
    ``first_start`` is how many training episodes the worker played since seeding ``envs``
    (default ``first_episode``): episode k starts where one environment would have started it.
    """
    if not envs:
        raise NumEnvsError("play_episodes_lockstep needs at least one environment")
    start_offset = (first_episode if first_start is None else first_start) - first_episode
    lockstep = _Lockstep(envs, first_episode, count, start_offset)
    while lockstep.running:
        indices = sorted(lockstep.running)
        actions = agent.act(lockstep.batch(indices), deterministic=False)
        for row, index in enumerate(indices):
            action = int(actions[row]) if agent.is_discrete else actions[row]
            lockstep.step(index, action, live if index == 0 else None, status)
    return sorted(lockstep.finished, key=lambda played: played.number)


class _Lockstep:
    """The episodes in progress on a worker's environments, and those finished."""

    def __init__(
        self,
        envs: Sequence[DeepRacerRacetrackEnv],
        first_episode: int,
        count: int,
        start_offset: int,
    ) -> None:
        self.envs = envs
        self.next_number = first_episode
        self.end_number = first_episode + count
        self.start_offset = start_offset
        self.running: dict[int, _Running] = {}
        self.finished: list[PlayedEpisode] = []
        for index in range(min(len(envs), count)):
            self.start(index)

    def start(self, index: int) -> None:
        """Start the next episode number on environment ``index``."""
        env = self.envs[index]
        options = {
            "evaluation": False,
            "episode": self.next_number,
            "start_index": self.next_number + self.start_offset,
        }
        observation, _ = env.reset(options=options)
        self.running[index] = _Running(
            self.next_number, env.sim_time, observation, {name: [] for name in observation}
        )
        self.next_number += 1

    def batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The observations of the running environments, stacked along a leading axis."""
        return {
            name: np.stack([self.running[i].observation[name] for i in indices])
            for name in self.running[indices[0]].observation
        }

    def step(
        self,
        index: int,
        action: Any,
        live: LiveFramePublisher | None,
        status: Mapping[str, Any] | None,
    ) -> None:
        """Step environment ``index`` with ``action``; an episode that ends is finished and
        the environment starts the next episode number while some are left."""
        episode, env = self.running[index], self.envs[index]
        for name, value in episode.observation.items():
            episode.observations[name].append(value)
        observation, reward, terminated, truncated, info = env.step(action)
        episode.observation = observation
        episode.actions.append(action)
        episode.rewards.append(reward)
        episode.simtrace_rows.append(info["simtrace"])
        if live is not None and live.due():
            shown = {**(status or {}), "episode": episode.number + 1}
            publish_live_frame(live, env, observation, info, shown, len(episode.rewards))
        if terminated or truncated:
            self.finished.append(_finish(episode, env, info))
            del self.running[index]
            if self.next_number < self.end_number:
                self.start(index)


def publish_live_frame(
    live: LiveFramePublisher,
    env: DeepRacerRacetrackEnv,
    observation: Mapping[str, np.ndarray],
    info: Mapping[str, Any],
    status: Mapping[str, Any] | None,
    step: int,
) -> None:
    """Publish the camera image of ``observation`` (if any), the top-down view and the
    step's status and progress."""
    camera = next((v for v in observation.values() if v.ndim == 3), None)
    live.publish(
        camera,
        env.render(),
        {**(status or {}), "step": step, "progress": info["params"]["progress"]},
    )


def _finish(
    episode: _Running, env: DeepRacerRacetrackEnv, info: Mapping[str, Any]
) -> PlayedEpisode:
    return PlayedEpisode(
        number=episode.number,
        arrays=episode_arrays(episode.observations, episode.actions, episode.rewards),
        total_reward=float(sum(episode.rewards)),
        progress=info["params"]["progress"],
        status=info["episode_status"],
        steps=len(episode.rewards),
        start_time=episode.start_time,
        end_time=env.sim_time,
        laps=info.get("laps", 0),
        simtrace_rows=episode.simtrace_rows,
    )


def episode_arrays(
    observations: Mapping[str, list[np.ndarray]], actions: list[Any], rewards: list[float]
) -> EpisodeArrays:
    """An episode's per-step lists as arrays (rewards as float32)."""
    return EpisodeArrays(
        observations={name: np.stack(values) for name, values in observations.items()},
        actions=np.asarray(actions),
        rewards=np.asarray(rewards, dtype=np.float32),
    )
