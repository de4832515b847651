"""Run evaluations of an experiment's model (several in parallel) and show their results."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure

from markov.metrics import evaluation_metrics_key
from markov.simtrace import read_simtrace
from markov.video import inline_html
from workshop_helpers.backends import EvaluationRequest, JobState, get_backend
from workshop_helpers.budget import workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.plotting import plot_track

REQUESTS_FILE = "evaluations.json"


def start_evaluations(
    experiment: Experiment,
    tracks: str | list[str] | None = None,
    trials: int | None = None,
    checkpoint: str = "best",
    **params: str,
) -> list[JobState]:
    """One evaluation job per track, all in parallel (``params``: evaluation YAML keys)."""
    names = [tracks] if isinstance(tracks, str) else list(tracks or [experiment.world_name])
    budget = workshop_budget()
    count = trials or budget.evaluation_trials
    merged = {**budget.evaluation_params, **params}
    requests = [
        EvaluationRequest(name, count, checkpoint=checkpoint, params=merged) for name in names
    ]
    jobs = get_backend(experiment).start_evaluations(experiment, requests)
    recorded = _requests(experiment)
    for job, request in zip(jobs, requests, strict=True):
        recorded[job.name.removeprefix("evaluation-")] = {
            "world_name": request.world_name,
            "trials": request.number_of_trials,
        }
    path = experiment.folder / REQUESTS_FILE
    path.write_text(json.dumps(recorded, indent=2))
    return jobs


def wait_for_evaluations(
    experiment: Experiment, timeout_s: float | None = None, refresh_s: float = 1.0
) -> list[JobState]:
    """Block until every evaluation job has ended (or ``timeout_s``); returns their states."""
    started = time.monotonic()
    backend = get_backend(experiment)
    states = backend.evaluation_jobs(experiment)
    while any(not s.done for s in states):
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            break
        time.sleep(refresh_s)
        states = backend.evaluation_jobs(experiment)
    return states


def evaluation_table(experiment: Experiment) -> pd.DataFrame:
    """One row per trial of every evaluation: completion, lap time with penalties, resets."""
    store = experiment.open_store()
    rows = []
    for evaluation_id, request in sorted(_requests(experiment).items()):
        key = evaluation_metrics_key(experiment.prefix, evaluation_id)
        if not store.exists(key):
            continue
        for metric in store.get_json(key)["metrics"]:
            rows.append(
                {
                    "evaluation": evaluation_id,
                    "track": request["world_name"],
                    "trial": metric["trial"],
                    "completion %": metric["completion_percentage"],
                    "lap time (s)": metric["elapsed_time_in_milliseconds"] / 1000.0,
                    "status": metric["episode_status"],
                    "off track": metric["off_track_count"],
                    "crashes": metric["crash_count"],
                    "resets": metric["reset_count"],
                }
            )
    return pd.DataFrame(rows)


def plot_evaluation_paths(experiment: Experiment, evaluation_id: str | None = None) -> Figure:
    """Each trial's path on the track, coloured by speed, for one evaluation (default: last)."""
    requests = _requests(experiment)
    if not requests:
        raise LookupError(f"No evaluation of {experiment.id} yet: run start_evaluations first.")
    evaluation_id = evaluation_id or max(requests)
    key = f"{experiment.prefix}/evaluation-{evaluation_id}/evaluation-simtrace/0-iteration.csv"
    rows = read_simtrace(experiment.open_store().get_bytes(key))
    xs = np.array([row["X"] for row in rows])
    ys = np.array([row["Y"] for row in rows])
    speeds = np.array([row["throttle"] for row in rows])
    return plot_track(
        requests[evaluation_id]["world_name"],
        path=(xs, ys),
        color_by=speeds,
        color_label="speed (m/s)",
    )


def lap_video(experiment: Experiment, evaluation_id: str | None = None) -> HTML:
    """The evaluation video (default: the evaluation with the fastest complete lap) inline."""
    table = evaluation_table(experiment)
    if evaluation_id is None:
        laps = table[table["status"] == "Lap complete"]
        chosen = laps if not laps.empty else table
        if chosen.empty:
            raise LookupError(f"No finished evaluation of {experiment.id} to show.")
        evaluation_id = chosen.sort_values("lap time (s)").iloc[0]["evaluation"]
    key = f"{experiment.prefix}/mp4/evaluation-{evaluation_id}.mp4"
    return HTML(inline_html(experiment.open_store().get_bytes(key), width=480))


def _requests(experiment: Experiment) -> dict[str, dict]:
    path = experiment.folder / REQUESTS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
