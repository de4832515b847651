"""Rollout scaling: env steps per second of rollout workers with 1 and 2 worker processes, and
of one worker stepping 1, 4 and 8 environments in lock-step (``NUM_ENVS_PER_WORKER``).

Each worker process plays episodes with the workshop's default model (FRONT_FACING_CAMERA,
shallow network, untrained policy sampled as in training) on a built-in track for a fixed wall
time, one torch thread per worker, as the rollout workers do. The policy samples in the
precision a worker uses (``--precision``, as ``ROLLOUT_PRECISION``: auto is bf16 where the CPU has
it natively; fp32 is the path before bf16 sampling). The environment counts are measured in this
process in alternating rounds of ``--seconds / --rounds`` each, so every count sees the same
machine load. Each call plays one iteration's share of ``--episodes`` episodes (the workshop's
20 per iteration on one worker), so the rate includes the iteration's tail, where environments
whose episodes are done wait for the last one. Usage: ``python bench/rollout_scaling.py
[--seconds 20] [--workers 1 2] [--envs 1 4 8] [--rounds 4] [--episodes 20]
[--precision auto|fp32|bf16]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import torch

from markov.agents.clipped_ppo import ClippedPPOAgent
from markov.agents.restore import build_agent
from markov.agents.update_options import PRECISIONS, resolve_precision
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets.preset import Hyperparameters
from markov.workers.rollout import play_episode
from markov.workers.vector_rollout import play_episodes_lockstep

STARTUP_S = 15.0


def worker_agent(seed: int, precision: str) -> ClippedPPOAgent:
    """The default camera model's agent as a rollout worker builds it."""
    return build_agent(
        default_model_metadata(),
        Hyperparameters(),
        seed=seed,
        num_threads=1,
        acting_precision=precision,
    )


def count_steps(track: str, seconds: float, seed: int, start_at: float, precision: str) -> int:
    """Steps one worker process plays in the ``seconds`` after the shared ``start_at`` time."""
    env = DeepRacerRacetrackEnv(track, default_model_metadata())
    agent = worker_agent(seed, precision)
    env.reset(seed=seed)
    time.sleep(max(start_at - time.time(), 0.0))
    steps, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        steps += play_episode(env, agent, deterministic=False).steps
    return steps


def batched_steps_per_second(
    track: str, env_counts: list[int], seconds: float, rounds: int, precision: str, episodes: int
) -> dict[int, float]:
    """Steps per second of one worker per environment count, alternating counts each round;
    each call plays the ``episodes`` of one iteration."""
    metadata = default_model_metadata()
    agent = worker_agent(0, precision)
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
                played = play_episodes_lockstep(envs[:count], agent, episode, episodes)
                steps[count] += sum(record.steps for record in played)
                episode += episodes
            elapsed[count] += time.perf_counter() - started
    return {count: steps[count] / elapsed[count] for count in env_counts}


def steps_per_second(workers: int, track: str, seconds: float, precision: str) -> float:
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
        "--precision",
        precision,
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


def sampling_dtype(precision: str) -> str:
    """What ``precision`` means on this machine's CPU."""
    dtype = resolve_precision(precision, torch.device("cpu"))
    return "fp32" if dtype is None else "bf16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--envs", type=int, nargs="*", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--track", default="Workshop_Oval")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per iteration")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(count_steps(args.track, args.seconds, args.worker, args.start_at, args.precision))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; track {args.track}; {args.seconds:.0f} s per row; "
        f"sampling precision {args.precision} ({sampling_dtype(args.precision)}); "
        f"{args.episodes} episodes per iteration"
    )
    if args.workers:
        rates = {
            w: steps_per_second(w, args.track, args.seconds, args.precision) for w in args.workers
        }
        base = rates[min(rates)]
        print(f"{'workers':>8}{'steps/s':>10}{'speed-up':>10}")
        for workers, rate in rates.items():
            print(f"{workers:>8}{rate:>10.0f}{rate / base:>9.2f}x")
    if args.envs:
        rates = batched_steps_per_second(
            args.track, args.envs, args.seconds, args.rounds, args.precision, args.episodes
        )
        base = rates[min(rates)]
        print(f"{'envs/worker':>12}{'steps/s':>10}{'speed-up':>10}")
        for count, rate in rates.items():
            print(f"{count:>12}{rate:>10.0f}{rate / base:>9.2f}x")


if __name__ == "__main__":
    main()
