"""Tables of a loaded run: per episode and per iteration, counts, chosen episodes, action use.

Each takes the frames of ``logs.RunLogs`` (training or evaluation simtraces, training metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from markov.environment.dynamics import STEP_S
from markov.environment.episode_status import NON_RUN_STATUSES, EpisodeStatus
from workshop_helpers.analysis.logs import RunLogs

RARELY_USED_PERCENT = 2.0
"""An action taken in fewer than 2 % of the steps counts as (nearly) never used."""


def episode_keys(df: pd.DataFrame) -> list[str]:
    """Columns that identify an episode: unique_episode, else (stream, episode), else episode."""
    if "unique_episode" in df.columns:
        return ["unique_episode"]
    if "stream" in df.columns:
        return ["stream", "episode"]
    return ["episode"]


def episode_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per episode: steps, total reward, final progress and status, time and lap time.

    ``time_s`` runs from the first step to the end of the last (``tstamp`` span + one step),
    the same as the metrics' elapsed time; ``lap_time_s`` is that time for completed laps and
    NaN otherwise.
    """
    keys = episode_keys(df)
    ordered = df.sort_values([*keys, "steps"], kind="stable")
    extra = {name: (name, "first") for name in ("iteration", "worker") if name in df.columns}
    summary = ordered.groupby(keys, sort=True).agg(
        **extra,
        steps=("steps", "max"),
        total_reward=("reward", "sum"),
        progress=("progress", "last"),
        status=("episode_status", "last"),
        start=("tstamp", "first"),
        end=("tstamp", "last"),
    )
    summary["steps"] = summary["steps"].astype(np.int64)
    summary["time_s"] = summary.pop("end") - summary.pop("start") + STEP_S
    summary["complete"] = summary["status"] == EpisodeStatus.LAP_COMPLETE
    summary["lap_time_s"] = summary["time_s"].where(summary["complete"])
    return summary.reset_index()


def iteration_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per iteration: episodes, mean reward, mean progress, completion rate, best lap time."""
    if "iteration" not in df.columns:
        raise ValueError(
            "the frame has no 'iteration' column; load the simtraces with load_run or add it"
        )
    episodes = episode_summary(df)
    return (
        episodes.groupby("iteration")
        .agg(
            episodes=("steps", "size"),
            mean_reward=("total_reward", "mean"),
            mean_progress=("progress", "mean"),
            completion_rate=("complete", "mean"),
            best_lap_time_s=("lap_time_s", "min"),
        )
        .reset_index()
    )


def run_counts(run: RunLogs) -> dict[str, int]:
    """How much a run recorded: workers, iterations, episodes and steps of training, and the
    evaluation trials."""
    training = run.training
    episodes = training[episode_keys(training)].drop_duplicates()
    evaluation = run.evaluation
    trials = (
        len(evaluation[episode_keys(evaluation)].drop_duplicates()) if not evaluation.empty else 0
    )
    return {
        "workers": int(training["worker"].nunique()),
        "iterations": int(training["iteration"].nunique()),
        "episodes": len(episodes),
        "steps": len(training),
        "evaluation_trials": trials,
    }


def evaluation_progress(training_metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean progress (%) of the evaluation laps that worker 0 drives after each iteration.

    These laps use the policy's most likely action (no exploration), so they show what the model
    can do at that iteration. Empty when the metrics hold no evaluation phase.
    """
    columns = ["iteration", "evaluation_progress"]
    needed = {"phase", "iteration", "completion_percentage"}
    if training_metrics.empty or not needed <= set(training_metrics.columns):
        return pd.DataFrame(columns=columns)
    laps = training_metrics[training_metrics["phase"] == "evaluation"]
    progress = laps.groupby("iteration")["completion_percentage"].mean()
    return progress.rename("evaluation_progress").reset_index()[columns]


def learning_table(iterations: pd.DataFrame, training_metrics: pd.DataFrame) -> pd.DataFrame:
    """``iteration_summary`` with the evaluation progress per iteration added (NaN if none)."""
    table = iterations.merge(evaluation_progress(training_metrics), on="iteration", how="left")
    table["evaluation_progress"] = table["evaluation_progress"].astype(float)
    return table


def pick_episodes(episodes: pd.DataFrame, count: int = 1) -> tuple[list[int], list[int]]:
    """The ``count`` best and worst training episodes (values of ``unique_episode``).

    Best: completed laps first, then the highest progress, then the shortest time. Worst: the
    lowest progress, then the fewest steps. An episode is never both best and worst.
    """
    if "unique_episode" not in episodes.columns:
        raise ValueError("pass episode_summary(run.training): it has a 'unique_episode' column")
    ranked = episodes.sort_values(
        ["complete", "progress", "time_s"], ascending=[False, False, True], kind="stable"
    )
    best = ranked["unique_episode"].head(count).tolist()
    rest = episodes[~episodes["unique_episode"].isin(best)]
    worst = rest.sort_values(["progress", "steps"], kind="stable")["unique_episode"]
    return [int(e) for e in best], [int(e) for e in worst.head(count)]


def off_track_ends(df: pd.DataFrame) -> pd.DataFrame:
    """The last step of every episode that ended off the track (where the car left it)."""
    keys = episode_keys(df)
    last = df.sort_values([*keys, "steps"], kind="stable").groupby(keys, sort=True).tail(1)
    return last[last["episode_status"] == EpisodeStatus.OFF_TRACK].reset_index(drop=True)


def action_labels(df: pd.DataFrame) -> pd.Series:
    """A label per step: the discrete action and its command, or a binned continuous command
    (steering to 5 degrees, speed to 0.25 m/s)."""
    discrete = df["action"] >= 0
    # "+ 0.0" turns -0.0 into 0.0, so one bin never shows up as both "+0°" and "-0°"
    steering = df["steering_angle"].where(discrete, (df["steering_angle"] / 5).round() * 5 + 0.0)
    speed = df["speed"].where(discrete, (df["speed"] / 0.25).round() * 0.25 + 0.0)
    command = steering.map("{:+.0f}°".format) + " " + speed.map("{:.2f} m/s".format)
    prefix = df["action"].astype(str).where(discrete, "~")
    return prefix + ": " + command


def run_steps(df: pd.DataFrame) -> pd.DataFrame:
    """The steps on which the car drove (no prepare, pause or park steps)."""
    return df[~df["episode_status"].isin(NON_RUN_STATUSES)]


def action_usage(df: pd.DataFrame, model_metadata: Mapping[str, Any] | None) -> pd.DataFrame:
    """How often each action was taken (``steps``, ``percent`` of the driving steps): one row
    per action of the action space.

    Discrete spaces list every action (index, steering, speed), also those never taken (0 steps).
    Continuous spaces (or no metadata) list the binned commands of ``action_labels``.
    """
    steps = run_steps(df)
    total = max(len(steps), 1)
    space = (model_metadata or {}).get("action_space")
    if isinstance(space, list) and space:
        counts = steps["action"].value_counts()
        rows = [
            {
                "action": int(item.get("index", number)),
                "steering_angle": float(item["steering_angle"]),
                "speed": float(item["speed"]),
            }
            for number, item in enumerate(space)
        ]
        usage = pd.DataFrame(rows)
        usage["steps"] = usage["action"].map(counts).fillna(0).astype(np.int64)
    else:
        labels = action_labels(steps)
        usage = labels.value_counts().rename_axis("action").rename("steps").reset_index()
        usage = usage.sort_values("action", kind="stable").reset_index(drop=True)
    usage["percent"] = (100.0 * usage["steps"] / total).round(1)
    return usage


def rarely_used(usage: pd.DataFrame, below_percent: float = RARELY_USED_PERCENT) -> pd.DataFrame:
    """The rows of ``action_usage`` taken in fewer than ``below_percent`` % of the steps."""
    return usage[usage["percent"] < below_percent].reset_index(drop=True)
