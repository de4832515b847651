"""`make run`: drive a scripted centre-line car for one lap on a built-in track and summarise it."""

from __future__ import annotations

import argparse
import time

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.scripted import CenterLineDriver
from markov.tracks import BUILTIN_TRACKS


def scripted_lap(track: str, speed: float) -> dict:
    """Run one episode with the pure-pursuit driver and return its summary."""
    env = DeepRacerRacetrackEnv(track, params={"CHANGE_START_POSITION": "false"})
    env.reset(seed=0)
    driver = CenterLineDriver(speed=speed)
    total_reward, started = 0.0, time.perf_counter()
    while True:
        _, reward, terminated, truncated, info = env.step(driver.act(env))
        total_reward += reward
        if terminated or truncated:
            break
    wall = time.perf_counter() - started
    steps = int(info["params"]["steps"])
    return {
        "track": track,
        "status": info["episode_status"],
        "progress": info["params"]["progress"],
        "steps": steps,
        "lap_time_s": (steps - 1) / 15.0,
        "total_reward": total_reward,
        "wall_s": wall,
        "track_length_m": info["params"]["track_length"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--track", default="Workshop_Oval", choices=sorted(BUILTIN_TRACKS))
    parser.add_argument("--speed", type=float, default=1.5, help="scripted speed, m/s")
    args = parser.parse_args()
    summary = scripted_lap(args.track, args.speed)
    print(f"Scripted lap on {summary['track']} ({summary['track_length_m']:.2f} m):")
    print(f"  status        {summary['status']}")
    print(f"  progress      {summary['progress']:.1f} %")
    print(f"  steps         {summary['steps']}")
    print(f"  lap time      {summary['lap_time_s']:.2f} s simulated")
    print(f"  total reward  {summary['total_reward']:.1f}")
    print(
        f"  wall time     {summary['wall_s']:.2f} s "
        f"({summary['lap_time_s'] / summary['wall_s']:.0f}x real time)"
    )


if __name__ == "__main__":
    main()
