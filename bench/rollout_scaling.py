"""Rollout scaling: env steps per second of rollout workers with 1 and 2 worker processes.

Each worker process plays episodes with the workshop's default model (FRONT_FACING_CAMERA,
shallow network, untrained policy sampled as in training) on a built-in track for a fixed wall
time, one torch thread per worker, as the rollout workers do. Usage:
``python bench/rollout_scaling.py [--seconds 20] [--workers 1 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from markov.checkpoints import build_agent
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets.preset import Hyperparameters
from markov.rollout_worker import play_episode

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
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
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
    rates = {w: steps_per_second(w, args.track, args.seconds) for w in args.workers}
    base = rates[min(rates)]
    print(f"{'workers':>8}{'steps/s':>10}{'speed-up':>10}")
    for workers, rate in rates.items():
        print(f"{workers:>8}{rate:>10.0f}{rate / base:>9.2f}x")


if __name__ == "__main__":
    main()
