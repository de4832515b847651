"""Simulator throughput: env steps per second on one core, per sensor set and race type.

Runs the environment with random actions and a trivial reward function for a fixed wall-clock
budget per cell and prints a table: one row per sensor set, one column per race type
(TIME_TRIAL; OBJECT_AVOIDANCE with 6 obstacles; HEAD_TO_BOT with 3 bot cars), with each object
race's change against TIME_TRIAL. The budget is split into rounds that visit the race types in
turn, and each cell keeps its best round, so a busy machine skews the comparison less.
Usage: ``python bench/sim_throughput.py [--seconds 5] [--rounds 3]``.
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

RACES = {
    "TIME_TRIAL": {"RACE_TYPE": "TIME_TRIAL"},
    "OBJECT_AVOIDANCE": {"RACE_TYPE": "OBJECT_AVOIDANCE", "NUMBER_OF_OBSTACLES": "6"},
    "HEAD_TO_BOT": {"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "3"},
}


def trivial_reward(params: dict) -> float:
    """A reward function that costs nothing, so the figure measures the simulator."""
    return 1.0


def make_env(
    track: str, sensors: list[str], params: dict[str, str], seed: int = 0
) -> DeepRacerRacetrackEnv:
    """An environment reset with ``seed``, with its action space seeded too."""
    env = DeepRacerRacetrackEnv(
        track, reward_function=trivial_reward, sensors=sensors, params=params
    )
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def steps_per_second(env: DeepRacerRacetrackEnv, seconds: float) -> float:
    """Env steps per second with random actions (episodes restart when they end)."""
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
    parser.add_argument("--seconds", type=float, default=5.0, help="budget per cell")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per cell (best kept)")
    parser.add_argument("--track", default="Workshop_Oval")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}; one core used"
    )
    print(f"track: {args.track}; random actions; trivial reward; {args.seconds:.0f} s per cell")
    print(f"{'sensors':<22}{'steps/s':>10}{'OBJECT_AVOIDANCE':>24}{'HEAD_TO_BOT':>24}")
    for label, sensors in SENSOR_SETS.items():
        envs = {race: make_env(args.track, sensors, params) for race, params in RACES.items()}
        rates = dict.fromkeys(RACES, 0.0)
        for _ in range(args.rounds):
            for race, env in envs.items():
                rate = steps_per_second(env, args.seconds / args.rounds)
                rates[race] = max(rates[race], rate)
        base = rates["TIME_TRIAL"]
        cells = [
            f"{rates[race]:>14,.0f} ({rates[race] / base - 1.0:+5.0%})"
            for race in ("OBJECT_AVOIDANCE", "HEAD_TO_BOT")
        ]
        print(f"{label:<22}{base:>10,.0f}{cells[0]:>24}{cells[1]:>24}")


if __name__ == "__main__":
    main()
