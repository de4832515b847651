"""Rollout scaling: env steps per second of rollout workers with 1 and 2 worker processes.

Each worker process plays episodes with the workshop's default model (FRONT_FACING_CAMERA,
shallow network, untrained policy sampled as in training) on a built-in track for a fixed wall
time, one torch thread per worker, as the rollout workers do. Usage:
``python bench/rollout_scaling.py [--seconds 20] [--workers 1 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time

from markov.checkpoints import build_agent
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets.preset import Hyperparameters
from markov.rollout_worker import play_episode


def count_steps(args: tuple[str, float, int]) -> int:
    """Steps one worker process plays in ``seconds`` of wall time."""
    track, seconds, seed = args
    metadata = default_model_metadata()
    env = DeepRacerRacetrackEnv(track, metadata)
    agent = build_agent(metadata, Hyperparameters(), seed=seed, num_threads=1)
    env.reset(seed=seed)
    steps, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        steps += play_episode(env, agent, deterministic=False).steps
    return steps


def steps_per_second(workers: int, track: str, seconds: float) -> float:
    """Total steps per second of ``workers`` processes playing at the same time."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        totals = pool.map(count_steps, [(track, seconds, i) for i in range(workers)])
    return sum(totals) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--track", default="Workshop_Oval")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; track {args.track}; {args.seconds:.0f} s per row"
    )
    rates = {w: steps_per_second(w, args.track, args.seconds) for w in args.workers}
    base = rates[min(rates)]
    print(f"{'workers':>8}{'steps/s':>10}{'speed-up':>10}")
    for workers, rate in rates.items():
        print(f"{workers:>8}{rate:>10.0f}{rate / base:>9.2f}x")


if __name__ == "__main__":
    main()
