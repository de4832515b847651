"""Log-analysis speed: load a 100,000-row run and compute and plot everything of the notebooks.

Synthesises a two-worker training run on a built-in track (front-point paths that weave around
the centre line, lap completions and off-track ends), writes it with the engine's writers in the
DRfC multi-worker layout to a temporary folder, then times ``workshop_helpers.analysis``:
loading, the summaries, every plot (rendered to PNG) and a reward replay of every row.
Usage: ``python bench/analysis_speed.py [--rows 100000]``. Goal: <= 10 s in all on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib import pyplot as plt

from markov.formats.layout import RunLayout
from markov.formats.metrics import TrainingMetricsWriter
from markov.formats.simtrace import SimtraceWriter
from markov.rewards.default import reward_function
from markov.store import open_store
from markov.tracks import Track, load_track
from workshop_helpers import analysis

TRACK = "Workshop_Oval"
WORKERS = 2
EPISODES_PER_WORKER = 10
STEPS_PER_EPISODE = 250
STEERING = np.array([-30.0, -15.0, 0.0, 15.0, 30.0])


def synthetic_episode(
    track: Track, episode: int, worker: int, start_time: float, rng: np.random.Generator
) -> list[dict]:
    """One episode's rows: a weaving path from a round-robin start, ending on or off track."""
    steps = np.arange(STEPS_PER_EPISODE)
    start_ndist = (0.05 * episode) % 1.0
    metres_per_step = rng.uniform(0.075, 0.085)
    arc = start_ndist * track.length + metres_per_step * steps
    center = track.center
    xs = np.interp(arc % track.length, center.cumulative, center.points[:, 0])
    ys = np.interp(arc % track.length, center.cumulative, center.points[:, 1])
    heading = np.unwrap(np.arctan2(np.gradient(ys), np.gradient(xs)))
    offset = 0.2 * np.sin(steps / rng.uniform(8, 20))
    xs -= offset * np.sin(heading)
    ys += offset * np.cos(heading)
    progress = np.minimum(100.0 * metres_per_step * steps / track.length, 100.0)
    actions = rng.integers(len(STEERING), size=len(steps))
    waypoints = len(track.waypoints) - 1
    final = "lap_complete" if progress[-1] >= 100.0 else "off_track"
    rows = []
    for k in steps.tolist():
        status = "prepare" if k == 0 else (final if k == len(steps) - 1 else "in_progress")
        rows.append(
            {
                "episode": episode,
                "steps": float(k + 1),
                "X": float(xs[k]),
                "Y": float(ys[k]),
                "yaw": float(np.degrees(heading[k])),
                "steer": float(STEERING[actions[k]]),
                "throttle": 1.2,
                "action": int(actions[k]),
                "reward": 0.0 if k == 0 else float(rng.uniform(0, 1)),
                "done": k == len(steps) - 1,
                "all_wheels_on_track": status != "off_track",
                "progress": float(progress[k]),
                "closest_waypoint": int((arc[k] % track.length) / track.length * waypoints),
                "track_len": track.length,
                "tstamp": start_time + k / 15.0,
                "episode_status": status,
                "pause_duration": 0.0,
                "obstacle_crash_counter": 0,
                "wall_clock": 1767225600.0 + start_time + k / 15.0,
            }
        )
    return rows


def write_run(folder: Path, rows_wanted: int) -> int:
    """Write the synthetic run; returns the number of simtrace rows."""
    track = load_track(TRACK)
    store = open_store(folder)
    rng = np.random.default_rng(0)
    per_iteration = WORKERS * EPISODES_PER_WORKER * STEPS_PER_EPISODE
    iterations = max(1, round(rows_wanted / per_iteration))
    for worker in range(WORKERS):
        simtrace = SimtraceWriter(store, RunLayout("run").training_simtrace(worker, WORKERS))
        metrics = TrainingMetricsWriter(store, RunLayout("run").training_metrics(worker))
        clock = 0.0
        for iteration in range(iterations):
            for trial in range(EPISODES_PER_WORKER):
                episode = iteration * EPISODES_PER_WORKER + trial
                rows = synthetic_episode(track, episode, worker, clock, rng)
                for row in rows:
                    simtrace.add_row(row)
                end = clock + len(rows) / 15.0
                total = sum(row["reward"] for row in rows)
                status, progress = rows[-1]["episode_status"], rows[-1]["progress"]
                metrics.add_episode(
                    total, clock, end, episode + 1, trial + 1, "training", progress, status
                )
                clock = end
            simtrace.flush(iteration)
    return iterations * per_iteration


def timed(label: str, action: Callable[[], object], timings: dict[str, float]) -> object:
    start = time.perf_counter()
    result = action()
    timings[label] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="simtrace rows to synthesise")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = write_run(folder, args.rows)
        print(f"synthetic run: {rows:,} simtrace rows, {WORKERS} workers, track {TRACK}")
        timings: dict[str, float] = {}
        run = timed("load_run", lambda: analysis.load_run(folder, "run"), timings)
        df = run.training
        timed("episode_summary", lambda: analysis.episode_summary(df), timings)
        timed("iteration_summary", lambda: analysis.iteration_summary(df), timings)
        plots = {
            "plot_rewards_per_iteration": lambda: analysis.plot_rewards_per_iteration(df),
            "plot_lap_times": lambda: analysis.plot_lap_times(df),
            "plot_episode_paths": lambda: analysis.plot_episode_paths(df, TRACK),
            "plot_track_heatmap": lambda: analysis.plot_track_heatmap(df, TRACK),
            "plot_action_breakdown(iteration)": lambda: analysis.plot_action_breakdown(df),
            "plot_action_breakdown(section)": lambda: analysis.plot_action_breakdown(
                df, by="section", track=TRACK
            ),
        }
        for label, plot in plots.items():
            timed(label, lambda plot=plot: _render(plot(), folder / "plot.png"), timings)
        replayed = timed(
            "replay_reward (all rows)",
            lambda: analysis.replay_reward(df, reward_function, TRACK),
            timings,
        )
        timed(
            "plot_reward_comparison",
            lambda: _render(analysis.plot_reward_comparison(replayed), folder / "plot.png"),
            timings,
        )
    for label, seconds in timings.items():
        print(f"  {label:<36}{seconds:>7.2f} s")
    total = sum(timings.values())
    print(f"  {'total':<36}{total:>7.2f} s (goal <= 10 s)")


def _render(drawn: matplotlib.axes.Axes | list[matplotlib.axes.Axes], path: Path) -> None:
    """Draw the figure as a notebook would (PNG), then free it (plots drawn one panel per
    track return a list of axes on one figure)."""
    figure = (drawn if isinstance(drawn, matplotlib.axes.Axes) else drawn[0]).figure
    figure.savefig(path, dpi=80)
    plt.close(figure)


if __name__ == "__main__":
    main()
