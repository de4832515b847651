"""Run evaluations of an experiment's model (several in parallel) and show their results."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from markov.metrics import evaluation_metrics_key
from markov.simtrace import read_simtrace
from markov.video import inline_html
from workshop_helpers.backends import EvaluationRequest, JobState, get_backend
from workshop_helpers.budget import workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.plotting import plot_track
from workshop_helpers.waiting import timeout_message

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
        recorded[_evaluation_id(job)] = {
            "world_name": request.world_name,
            "trials": request.number_of_trials,
        }
    path = experiment.folder / REQUESTS_FILE
    path.write_text(json.dumps(recorded, indent=2))
    return jobs


def wait_for_evaluations(
    experiment: Experiment, timeout_s: float | None = None, refresh_s: float = 1.0
) -> list[JobState]:
    """Block until every evaluation job has ended; returns their states.

    A progress bar counts the trials driven of all those requested, with the elapsed time and
    the time left at the pace so far. Reaching ``timeout_s`` first prints which evaluations
    still run (they go on).
    """
    started = time.monotonic()
    backend = get_backend(experiment)
    states = backend.evaluation_jobs(experiment)
    bar = tqdm(total=requested_trials(experiment, states) or None, desc="trials", unit="trial")
    while any(not s.done for s in states):
        _show_trials(bar, experiment, states)
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            bar.close()
            running = [s for s in states if not s.done]
            print(timeout_message("the evaluations", timeout_s, running))
            return states
        time.sleep(refresh_s)
        states = backend.evaluation_jobs(experiment)
    _show_trials(bar, experiment, states)
    bar.close()
    return states


def requested_trials(experiment: Experiment, jobs: list[JobState]) -> int:
    """How many trials the given evaluation jobs were asked to drive, together."""
    requests = _requests(experiment)
    return sum(
        int(requests.get(_evaluation_id(job), {}).get("trials", 0)) for job in jobs
    )


def driven_trials(experiment: Experiment, jobs: list[JobState]) -> int:
    """How many trials of the given evaluation jobs have their metrics written so far."""
    store = experiment.open_store()
    count = 0
    for job in jobs:
        key = evaluation_metrics_key(experiment.prefix, _evaluation_id(job))
        if store.exists(key):
            count += len(store.get_json(key).get("metrics", []))
    return count


def _show_trials(bar: tqdm, experiment: Experiment, jobs: list[JobState]) -> None:
    bar.n = driven_trials(experiment, jobs)
    running = sum(not job.done for job in jobs)
    bar.set_postfix_str(f"{running} of {len(jobs)} evaluation(s) running", refresh=False)
    bar.refresh()


def _evaluation_id(job: JobState) -> str:
    return job.name.removeprefix("evaluation-")


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
