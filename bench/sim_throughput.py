"""Simulator throughput: env steps per second on one core, per sensor set.

Runs the environment with random actions and a trivial reward function for a fixed wall-clock
budget per row and prints a table. Usage: ``python bench/sim_throughput.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from markov.environment import DeepRacerRacetrackEnv

SENSOR_SETS = {
    "no sensor": [],
    "LIDAR": ["LIDAR"],
    "FRONT_FACING_CAMERA": ["FRONT_FACING_CAMERA"],
    "STEREO_CAMERAS": ["STEREO_CAMERAS"],
}


def trivial_reward(params: dict) -> float:
    """A reward function that costs nothing, so the figure measures the simulator."""
    return 1.0


def steps_per_second(track: str, sensors: list[str], seconds: float, seed: int = 0) -> float:
    """Env steps per second with random actions (episodes restart when they end)."""
    env = DeepRacerRacetrackEnv(track, reward_function=trivial_reward, sensors=sensors)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(4096)]
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            _, _, terminated, truncated, _ = env.step(actions[steps % len(actions)])
            steps += 1
            if terminated or truncated:
                env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="budget per row")
    parser.add_argument("--track", default="Workshop_Oval")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}; one core used"
    )
    print(f"track: {args.track}; random actions; trivial reward; {args.seconds:.0f} s per row")
    print(f"{'sensors':<22}{'steps/s':>10}")
    for label, sensors in SENSOR_SETS.items():
        rate = steps_per_second(args.track, sensors, args.seconds)
        print(f"{label:<22}{rate:>10,.0f}")


if __name__ == "__main__":
    main()
