"""`make run`: train on a built-in track with 2 local rollout workers until the first lap.

Training stops when an in-training evaluation episode completes a lap (or after the time
limit); the best checkpoint is then evaluated for 3 trials, and the summary names the run's
folder, the iterations, the wall time and the best lap.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from markov.agents.restore import load_policy
from markov.races.settings import EvaluationSettings
from markov.races.trials import EvaluationResult, checkpoint_policy, evaluate
from markov.runners.local import LocalTrainingRun, prepare_default_inputs
from markov.store import open_store
from markov.tracks import BUILTIN_TRACKS

DEFAULT_STORE = Path("runs") / "store"
EVALUATION_TRIALS = 3


def evaluate_best(store_dir: str, prefix: str, track: str) -> EvaluationResult:
    """Evaluate the run's best checkpoint on its track (start line, no resets)."""
    agent, _, metadata = load_policy(open_store(store_dir), prefix, "best", num_threads=1)
    settings = EvaluationSettings(number_of_trials=EVALUATION_TRIALS)
    return evaluate(checkpoint_policy(agent), track, metadata, settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", default="Workshop_Oval", choices=sorted(BUILTIN_TRACKS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-time", type=float, default=900.0, help="seconds of training")
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="model store folder")
    args = parser.parse_args()
    prefix = time.strftime("make-run-%Y%m%d-%H%M%S")
    prepare_default_inputs(args.store, prefix, args.workers, args.track)
    print(
        f"Training a DeepRacer model on {args.track} with {args.workers} rollout workers until "
        f"the first evaluation lap (at most {args.max_time:.0f} s)."
    )
    run = LocalTrainingRun(
        args.store,
        prefix,
        args.workers,
        extra_env={"STOP_ON_EVAL_PROGRESS": "100", "MAX_TRAINING_TIME_S": str(args.max_time)},
    )
    summary = run.run()
    if summary.exit_code != 0:
        print(f"{summary.outcome}: {summary.cause or 'see the logs'}")
        print(f"  run folder           {summary.run_folder}")
        return summary.exit_code
    lap = "no complete lap yet"
    if summary.best_lap_time_s is not None:
        lap = f"{summary.best_lap_time_s:.2f} s"
    result = evaluate_best(args.store, prefix, args.track)
    evaluated = "no complete lap"
    if result.best_lap_time_s is not None:
        evaluated = f"best lap {result.best_lap_time_s:.2f} s"
    print()
    print("Summary")
    print(f"  track                {args.track}")
    print(f"  iterations           {summary.iterations}")
    print(f"  wall time            {summary.wall_seconds:.0f} s")
    print(f"  best eval progress   {summary.best_eval_progress:.0f} %")
    print(f"  best lap time        {lap}")
    print(f"  best checkpoint      {summary.best_checkpoint}")
    print(
        f"  evaluation           {result.laps_completed}/{EVALUATION_TRIALS} laps completed, "
        f"{evaluated}"
    )
    print(f"  run folder           {summary.run_folder}")
    return summary.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
