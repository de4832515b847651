"""Trainer update speed: samples per second of the Clipped PPO update, fast path against today's.

For each network and sensor, two agents with the same seed update on the same random
transitions (episodes of 500 steps, 5 discrete actions): the fast path (every core, bf16 autocast
where the CPU has native bf16, channels-last weights, fused Adam) and the baseline (``--path
baseline``: one thread as the local runner gave the trainer through ``OMP_NUM_THREADS=1``, fp32,
per-tensor Adam). Runs alternate between the two paths so both see the same machine load.
A sample is one transition in one epoch (forward and backward), so samples/s =
transitions x epochs / update seconds, including the pre-update scoring pass.

The share of an iteration spent updating assumes ``--workers`` rollout workers, each playing at
the rate one worker reaches with this model on ``--track`` (measured here for
``--rollout-seconds``), running side by side: share = update / (update + rollout).

Usage: ``python bench/trainer_update.py [--transitions 10000] [--epochs 10] [--repeats 2]
[--networks shallow standard deep] [--sensors camera stereo lidar] [--path both]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time

import numpy as np
import torch

from markov.agents.clipped_ppo import ClippedPPOAgent, Episode
from markov.agents.restore import build_agent
from markov.agents.update_options import UpdateOptions, native_bf16
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import ModelMetadata, default_model_metadata
from markov.presets.preset import Hyperparameters
from markov.workers.rollout import play_episode

NETWORKS = {
    "shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "standard": "DEEP_CONVOLUTIONAL_NETWORK",
    "deep": "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
}
SENSORS = {
    "camera": ("FRONT_FACING_CAMERA",),
    "stereo": ("STEREO_CAMERAS",),
    "lidar": ("LIDAR",),
}
EPISODE_STEPS = 500


@dataclasses.dataclass(frozen=True)
class UpdatePath:
    """One way of running the update: options and torch threads."""

    name: str
    options: UpdateOptions
    threads: int


def paths(which: str, fast_threads: int) -> list[UpdatePath]:
    """The fast path (``fast_threads`` threads) and/or the baseline (one thread, plain fp32)."""
    fast = UpdatePath("fast", UpdateOptions(), fast_threads)
    baseline = UpdatePath("baseline", UpdateOptions.plain(), 1)
    return {"fast": [fast], "baseline": [baseline], "both": [baseline, fast]}[which]


def model(network: str, sensor: str) -> ModelMetadata:
    """The workshop default model with another network and sensor set."""
    return dataclasses.replace(
        default_model_metadata(), neural_network=NETWORKS[network], sensors=SENSORS[sensor]
    )


def random_episodes(agent: ClippedPPOAgent, transitions: int, seed: int) -> list[Episode]:
    """Episodes of random observations, actions and rewards totalling ``transitions``."""
    rng = np.random.default_rng(seed)
    episodes = []
    for start in range(0, transitions, EPISODE_STEPS):
        steps = min(EPISODE_STEPS, transitions - start)
        observations = {}
        for name, space in agent.observation_space.spaces.items():
            if space.dtype == np.uint8:
                observations[name] = rng.integers(0, 256, (steps, *space.shape), dtype=np.uint8)
            else:
                observations[name] = rng.uniform(space.low, space.high, (steps, *space.shape))
                observations[name] = observations[name].astype(np.float32)
        actions = rng.integers(0, agent.action_space.n, steps)
        episodes.append(Episode(observations, actions, rng.normal(size=steps).astype(np.float32)))
    return episodes


def rollout_rate(metadata: ModelMetadata, track: str, seconds: float) -> float:
    """Env steps per second of one rollout worker (one thread) playing with this model."""
    torch.set_num_threads(1)
    env = DeepRacerRacetrackEnv(track, metadata)
    agent = build_agent(metadata, Hyperparameters(), seed=0, num_threads=1)
    env.reset(seed=0)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        steps += play_episode(env, agent, deterministic=False).steps
    return steps / (time.perf_counter() - started)


def measure(
    metadata: ModelMetadata, hyperparameters: Hyperparameters, chosen: list[UpdatePath], args
) -> dict[str, list[float]]:
    """Update seconds per path, alternating paths for ``args.repeats`` rounds."""
    agents = {
        path.name: build_agent(
            metadata, hyperparameters, seed=0, update_options=path.options
        )
        for path in chosen
    }
    episodes = random_episodes(next(iter(agents.values())), args.transitions, seed=0)
    seconds: dict[str, list[float]] = {path.name: [] for path in chosen}
    for _ in range(args.repeats):
        for path in chosen:
            torch.set_num_threads(path.threads)
            started = time.perf_counter()
            agents[path.name].update(episodes)
            seconds[path.name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transitions", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=Hyperparameters().num_epochs)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--sensors", nargs="+", choices=list(SENSORS), default=list(SENSORS))
    parser.add_argument("--path", choices=["both", "fast", "baseline"], default="both")
    parser.add_argument(
        "--fast-threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads of the fast path (default: every core, as the trainer uses)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--track", default="Workshop_Oval")
    parser.add_argument("--rollout-seconds", type=float, default=3.0)
    args = parser.parse_args()
    hyperparameters = Hyperparameters(num_epochs=args.epochs)
    chosen = paths(args.path, args.fast_threads)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, native bf16: {native_bf16(torch.device('cpu'))}; "
        f"{args.transitions} transitions x {args.epochs} epochs, batch "
        f"{hyperparameters.batch_size}, {args.repeats} alternating runs per path (median); "
        f"threads: fast {args.fast_threads}, baseline 1"
    )
    print(
        f"{'network':<9}{'sensor':<8}{'path':<9}{'samples/s':>10}{'update s':>10}"
        f"{'rollout s':>10}{'update share':>13}{'speed-up':>9}"
    )
    for network in args.networks:
        for sensor in args.sensors:
            metadata = model(network, sensor)
            seconds = measure(metadata, hyperparameters, chosen, args)
            rollout_s = args.transitions / (
                args.workers * rollout_rate(metadata, args.track, args.rollout_seconds)
            )
            base = statistics.median(seconds[chosen[0].name])
            for path in chosen:
                update_s = statistics.median(seconds[path.name])
                rate = args.transitions * args.epochs / update_s
                share = update_s / (update_s + rollout_s)
                print(
                    f"{network:<9}{sensor:<8}{path.name:<9}{rate:>10.0f}{update_s:>10.1f}"
                    f"{rollout_s:>10.1f}{share:>12.0%}{base / update_s:>8.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
