"""Evaluation speed: how much faster than real time a 3-trial evaluation runs.

Real-time factor = simulated seconds / wall seconds (goal >= 20x). Two policies on the front
camera: the scripted centre-line driver, and an untrained shallow-network checkpoint loaded from a
temporary model store (deterministic, one torch thread), each without and with the MP4 video.
Usage: ``python bench/evaluation_speed.py [--track Workshop_Oval] [--trials 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from markov.agents.restore import build_agent, checkpoint_files, load_policy
from markov.environment.model_metadata import default_model_metadata
from markov.environment.scripted import CenterLineDriver
from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.layout import RunLayout
from markov.formats.video import VideoRecorder
from markov.presets.preset import Hyperparameters
from markov.races.settings import EvaluationSettings
from markov.races.trials import Policy, checkpoint_policy, evaluate, scripted_policy
from markov.store import open_store

NUMBER_OF_RESETS = 3


def untrained_camera_policy(folder: Path) -> Policy:
    """Publish an untrained shallow-camera checkpoint and load it back as a policy."""
    store = open_store(folder)
    metadata = default_model_metadata()
    agent = build_agent(metadata, Hyperparameters(), seed=0)
    CheckpointPublisher(store, "bench").publish(0, 0, checkpoint_files(agent, {"iteration": 0}))
    store.put_json(RunLayout("bench").model_metadata, metadata.to_json_dict())
    loaded, _, _ = load_policy(store, "bench", "last", num_threads=1)
    return checkpoint_policy(loaded)


def measure(
    policy: Policy, track: str, trials: int, video_path: Path | None
) -> tuple[float, float, int]:
    """(simulated seconds, wall seconds, steps) of one evaluation."""
    video = VideoRecorder(video_path) if video_path is not None else None
    start = time.perf_counter()
    result = evaluate(
        policy,
        track,
        default_model_metadata(),
        EvaluationSettings(number_of_trials=trials, number_of_resets=NUMBER_OF_RESETS),
        video=video,
    )
    if video is not None:
        video.close()
    wall = time.perf_counter() - start
    return result.simulated_time_s, wall, len(result.simtrace_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--track", default="Workshop_Oval")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    print(
        f"track {args.track}, {args.trials} trials, NUMBER_OF_RESETS {NUMBER_OF_RESETS}, "
        "FRONT_FACING_CAMERA; real-time factor = simulated s / wall s (goal >= 20x)"
    )
    print(f"{'policy':<30}{'video':<7}{'steps':>7}{'sim s':>9}{'wall s':>9}{'factor':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        policies = {
            "scripted centre line": scripted_policy(CenterLineDriver(speed=1.5)),
            "untrained shallow checkpoint": untrained_camera_policy(folder / "store"),
        }
        for label, policy in policies.items():
            for with_video in (False, True):
                video_path = folder / "evaluation.mp4" if with_video else None
                simulated, wall, steps = measure(policy, args.track, args.trials, video_path)
                print(
                    f"{label:<30}{'yes' if with_video else 'no':<7}{steps:>7}"
                    f"{simulated:>9.1f}{wall:>9.2f}{simulated / wall:>8.0f}x"
                )


if __name__ == "__main__":
    main()
