"""Rollout scaling: env steps per second of rollout workers with 1 and 2 worker processes, and
of one worker stepping 1, 4 and 8 environments in lock-step (``NUM_ENVS_PER_WORKER``).

Each worker process plays episodes with the workshop's default model (FRONT_FACING_CAMERA,
shallow network, untrained policy sampled as in training) on a built-in track for a fixed wall
time, one torch thread per worker, as the rollout workers do. The environment counts are
measured in this process in alternating rounds of ``--seconds / --rounds`` each, so every count
sees the same machine load. Usage:
``python bench/rollout_scaling.py [--seconds 20] [--workers 1 2] [--envs 1 4 8] [--rounds 4]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import torch

from markov.agents.restore import build_agent
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets.preset import Hyperparameters
from markov.workers.rollout import play_episode
from markov.workers.vector_rollout import play_episodes_lockstep

STARTUP_S = 15.0


def count_steps(track: str, seconds: float, seed: int, start_at: float) -> int:
    """Steps one worker process plays in the ``seconds`` after the shared ``start_at`` time."""
    metadata = default_model_metadata()
    env = DeepRacerRacetrackEnv(track, metadata)
    agent = build_agent(metadata, Hyperparameters(), seed=seed, num_threads=1)
    env.reset(seed=seed)
    time.sleep(max(start_at - time.time(), 0.0))
    steps, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        steps += play_episode(env, agent, deterministic=False).steps
    return steps


def batched_steps_per_second(
    track: str, env_counts: list[int], seconds: float, rounds: int
) -> dict[int, float]:
    """Steps per second of one worker per environment count, alternating counts each round."""
    torch.set_num_threads(1)
    metadata = default_model_metadata()
    agent = build_agent(metadata, Hyperparameters(), seed=0, num_threads=1)
    envs = [DeepRacerRacetrackEnv(track, metadata) for _ in range(max(env_counts))]
    for index, env in enumerate(envs):
        env.reset(seed=index)
    steps = dict.fromkeys(env_counts, 0)
    elapsed = dict.fromkeys(env_counts, 0.0)
    episode = 0
    for _ in range(rounds):
        for count in env_counts:
            started = time.perf_counter()
            while time.perf_counter() - started < seconds / rounds:
                played = play_episodes_lockstep(envs[:count], agent, episode, count)
                steps[count] += sum(record.steps for record in played)
                episode += count
            elapsed[count] += time.perf_counter() - started
    return {count: steps[count] / elapsed[count] for count in env_counts}


def steps_per_second(workers: int, track: str, seconds: float) -> float:
    """Total steps per second of ``workers`` processes playing at the same time.

    Each worker is this script run with ``--worker SEED``; it prints its step count.
    """
    start_at = time.time() + STARTUP_S  # every worker starts counting at the same moment
    command = [
        sys.executable,
        __file__,
        "--track",
        track,
        "--seconds",
        str(seconds),
        "--start-at",
        str(start_at),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [*command, "--worker", str(seed)], stdout=subprocess.PIPE, text=True, env=env
        )
        for seed in range(workers)
    ]
    totals = [int(process.communicate()[0].split()[-1]) for process in processes]
    return sum(totals) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--envs", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--track", default="Workshop_Oval")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(count_steps(args.track, args.seconds, args.worker, args.start_at))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; track {args.track}; {args.seconds:.0f} s per row"
    )
    if args.workers:
        rates = {w: steps_per_second(w, args.track, args.seconds) for w in args.workers}
        base = rates[min(rates)]
        print(f"{'workers':>8}{'steps/s':>10}{'speed-up':>10}")
        for workers, rate in rates.items():
            print(f"{workers:>8}{rate:>10.0f}{rate / base:>9.2f}x")
    if args.envs:
        rates = batched_steps_per_second(args.track, args.envs, args.seconds, args.rounds)
        base = rates[min(rates)]
        print(f"{'envs/worker':>12}{'steps/s':>10}{'speed-up':>10}")
        for count, rate in rates.items():
            print(f"{count:>12}{rate:>10.0f}{rate / base:>9.2f}x")


if __name__ == "__main__":
    main()
