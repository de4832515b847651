"""Best lap time against wall time: what a training budget on this machine buys.

Trains each (track, action space) for ``--budget`` seconds with the local backend and the
workshop defaults (front camera, shallow network, default hyperparameters, centre-line reward,
2 rollout workers): ``discrete`` is the workshop's 5 actions; ``continuous`` is speed 0.5-4 m/s
and steering +-30 degrees. After every iteration worker 0 evaluates the new policy
(``MIN_EVAL_TRIALS`` episodes); the best lap so far is the fastest evaluation episode that
completed a lap. Prints a table and writes a PNG plot (``--plot``). Official tracks need their
route files (``DR_TRACKS_DIR``). Usage: ``python bench/lap_time.py --budget 600
[--tracks reinvent_base reInvent2019_track] [--action-spaces discrete continuous]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time

from markov.environment.action_space import ContinuousActionSpace
from markov.environment.model_metadata import ModelMetadata, default_model_metadata
from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.run_inputs import write_run_inputs
from markov.presets.preset import Hyperparameters
from markov.runners.local import LocalTrainingRun
from markov.store import open_store
from markov.tracks import BUILTIN_TRACKS
from markov.tracks.official import official_track_available

LAP_COMPLETE = "Lap complete"


def model(action_space: str) -> ModelMetadata:
    """The workshop default model, or the same with the continuous action space."""
    metadata = default_model_metadata()
    if action_space == "discrete":
        return metadata
    return dataclasses.replace(
        metadata,
        action_space=ContinuousActionSpace(-30.0, 30.0, 0.5, 4.0),
        action_space_type="continuous",
    )


def best_laps(track: str, action_space: str, workers: int, budget_s: float) -> list[tuple]:
    """(wall seconds, iteration, best lap seconds or None) after each iteration of one run."""
    with tempfile.TemporaryDirectory(prefix="laptime-") as folder:
        prefix = f"laptime-{track}-{action_space}"
        store = open_store(folder)
        write_run_inputs(
            store,
            prefix,
            world_name=track,
            num_workers=workers,
            model_metadata=model(action_space),
            hyperparameters=Hyperparameters(),
        )
        run = LocalTrainingRun(
            folder,
            prefix,
            workers,
            extra_env={"MAX_TRAINING_TIME_S": str(budget_s)},
            printer=lambda line: print(f"  {line}"),
        )
        started = time.time()
        run.run()
        history = run.iteration_history()
        key = RunLayout(prefix).training_metrics(0)
        entries = read_training_metrics(store, key).metrics if store.exists(key) else []
    evaluations = [entry for entry in entries if entry["phase"] == "evaluation"]
    trials = max(len(evaluations) // max(len(history), 1), 1)
    rows, best = [], None
    for index, record in enumerate(history):
        for entry in evaluations[index * trials : (index + 1) * trials]:
            if entry["episode_status"] == LAP_COMPLETE:
                lap = entry["elapsed_time_in_milliseconds"] / 1000.0
                best = lap if best is None else min(best, lap)
        rows.append((record["time"] - started, record["iteration"], best))
    return rows


def plot(results: dict[str, list[tuple]], path: str) -> None:
    """Best lap time against wall time, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for label, rows in results.items():
        points = [(wall / 60.0, lap) for wall, _, lap in rows if lap is not None]
        if points:
            axes.step(*zip(*points, strict=True), where="post", marker="o", label=label)
    axes.set_xlabel("wall time (minutes)")
    axes.set_ylabel("best evaluation lap (s)")
    axes.set_title("Best lap time against training wall time")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, required=True, help="seconds per run")
    parser.add_argument("--tracks", nargs="+", default=["reinvent_base", "reInvent2019_track"])
    parser.add_argument(
        "--action-spaces", nargs="+", choices=["discrete", "continuous"],
        default=["discrete", "continuous"],
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plot", default="lap_time.png", help="PNG file to write")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; {args.workers} rollout workers; {args.budget:.0f} s per run"
    )
    results: dict[str, list[tuple]] = {}
    for track in args.tracks:
        if track not in BUILTIN_TRACKS and not official_track_available(track):
            print(f"{track}: route file not available (set DR_TRACKS_DIR); skipped")
            continue
        for action_space in args.action_spaces:
            print(f"{track}, {action_space}:")
            results[f"{track} {action_space}"] = best_laps(
                track, action_space, args.workers, args.budget
            )
    print(f"{'run':<32}{'wall s':>8}{'iteration':>10}{'best lap s':>11}")
    for label, rows in results.items():
        for wall, iteration, lap in rows:
            shown = f"{lap:.2f}" if lap is not None else "-"
            print(f"{label:<32}{wall:>8.0f}{iteration:>10}{shown:>11}")
    plot(results, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
