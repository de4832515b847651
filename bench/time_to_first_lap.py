"""Time to the first lap: wall time and training steps until an evaluation episode completes a lap.

Workshop defaults: FRONT_FACING_CAMERA, shallow network, 5 discrete actions, the workshop
hyperparameters, the follow-the-centre-line reward, 2 rollout workers, local backend. Runs on a
built-in track, and on ``reinvent_base`` when its route file is available (DR_TRACKS_DIR or the
track cache). Besides wall time, iterations and steps it prints the update's share of the wall
time and the mean idle seconds per iteration of the trainer (waiting for episodes) and of the
rollout workers (waiting for a checkpoint). Usage:
``python bench/time_to_first_lap.py [--tracks Workshop_Oval reinvent_base]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from markov.runners.local import LocalTrainingRun, prepare_default_inputs
from markov.tracks import BUILTIN_TRACKS
from markov.tracks.official import official_track_available


def first_lap(track: str, workers: int, limit_s: float) -> dict:
    """Train until an in-training evaluation episode completes a lap (or the limit)."""
    with tempfile.TemporaryDirectory(prefix="ttfl-") as store:
        prefix = f"ttfl-{track}"
        prepare_default_inputs(store, prefix, workers, track)
        run = LocalTrainingRun(
            store,
            prefix,
            workers,
            extra_env={"STOP_ON_EVAL_PROGRESS": "100", "MAX_TRAINING_TIME_S": str(limit_s)},
            printer=lambda line: print(f"  {line}"),
        )
        started = time.perf_counter()
        summary = run.run()
        wall = time.perf_counter() - started
        history = run.iteration_history()
        steps = sum(record["transitions"] for record in history)
    iterations = max(len(history), 1)
    workers_idle = [s for r in history for s in r.get("workers_idle_seconds", {}).values()]
    return {
        "update_share": sum(record["update_seconds"] for record in history) / wall,
        "trainer_idle_s": sum(r.get("trainer_idle_seconds", 0.0) for r in history) / iterations,
        "worker_idle_s": sum(workers_idle) / max(len(workers_idle), 1),
        "track": track,
        "lap": summary.best_eval_progress >= 100,
        "wall_s": wall,
        "iterations": summary.iterations,
        "steps": steps,
        "lap_time_s": summary.best_lap_time_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", nargs="+", default=["Workshop_Kidney", "reinvent_base"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=float, default=1200.0, help="seconds per track")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; {args.workers} rollout workers, workshop defaults"
    )
    results = []
    for track in args.tracks:
        if track not in BUILTIN_TRACKS and not official_track_available(track):
            print(f"{track}: route file not available (set DR_TRACKS_DIR); skipped")
            continue
        print(f"{track}:")
        results.append(first_lap(track, args.workers, args.limit))
    print(
        f"{'track':<18}{'first lap':>10}{'wall s':>9}{'iterations':>11}{'steps':>8}{'lap s':>8}"
        f"{'update share':>13}{'trainer idle s/it':>18}{'worker idle s/it':>17}"
    )
    for r in results:
        lap = f"{r['lap_time_s']:.1f}" if r["lap_time_s"] else "-"
        print(
            f"{r['track']:<18}{'yes' if r['lap'] else 'no':>10}{r['wall_s']:>9.0f}"
            f"{r['iterations']:>11}{r['steps']:>8}{lap:>8}{r['update_share']:>12.0%}"
            f"{r['trainer_idle_s']:>18.1f}{r['worker_idle_s']:>17.1f}"
        )


if __name__ == "__main__":
    main()
