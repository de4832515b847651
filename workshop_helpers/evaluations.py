"""Run evaluations of an experiment's model (several in parallel) and show their results."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import yaml
from IPython.display import HTML
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from markov.environment.world_config import WorldConfig
from markov.formats.layout import RunLayout, simtrace_iteration_key
from markov.formats.metrics import RESET_COUNT_FIELDS, STATUS_LABELS
from markov.formats.run_inputs import RunInputError
from markov.formats.simtrace import read_simtrace
from markov.formats.video import inline_html
from markov.races.settings import EvaluationSettings
from markov.workers.evaluation import read_evaluation_yaml
from workshop_helpers.backends import EvaluationRequest, JobState, get_backend
from workshop_helpers.budget import workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.plotting import plot_track
from workshop_helpers.waiting import timeout_message
from workshop_helpers.yaml_params import (
    EVALUATION_PARAMS,
    evaluation_params_for,
    head_to_head_params_for,
)

REQUESTS_FILE = "evaluations.json"
_STATUS_OF_LABEL = {label: status for status, label in STATUS_LABELS.items()}


def start_evaluations(
    experiment: Experiment,
    tracks: str | list[str] | None = None,
    trials: int | None = None,
    checkpoint: str = "best",
    params: Mapping[str, Any] | None = None,
    **overrides: str,
) -> list[JobState]:
    """One evaluation job per track, all in parallel, each reading the evaluation YAML.

    ``params`` is that YAML (default: ``runs/<id>/evaluation_params.yaml`` when the notebook
    wrote it, else ``evaluation_params_for(experiment)``), ``overrides`` are YAML keys on top.
    Every job's YAML is this one with only its track, trials, checkpoint and file keys filled
    in (``evaluation_yaml`` shows it). ``trials`` defaults to the YAML's NUMBER_OF_TRIALS.
    """
    names = [tracks] if isinstance(tracks, str) else list(tracks or [experiment.world_name])
    settings = dict(params) if params is not None else evaluation_params_of(experiment)
    settings.update({key: str(value) for key, value in overrides.items()})
    count = trials or int(settings.get("NUMBER_OF_TRIALS") or workshop_budget().evaluation_trials)
    requests = [
        EvaluationRequest(name, count, checkpoint=checkpoint, params=settings) for name in names
    ]
    return _start(experiment, requests)


def start_head_to_head(
    experiments: Sequence[Experiment],
    track: str | None = None,
    trials: int | None = None,
    checkpoint: str = "best",
    **overrides: str,
) -> JobState:
    """Race the models of two or more experiments on one track in one evaluation job, filmed
    in one video; the job and its results belong to the first experiment."""
    budget = workshop_budget()
    count = trials or budget.evaluation_trials
    world = track or experiments[0].world_name
    params = head_to_head_params_for(experiments, world, count, **overrides)
    request = EvaluationRequest(world, count, checkpoint=checkpoint, params=params)
    return _start(experiments[0], [request], models=[e.prefix for e in experiments])[0]


def _start(
    experiment: Experiment, requests: list[EvaluationRequest], models: list[str] | None = None
) -> list[JobState]:
    jobs = get_backend(experiment).start_evaluations(experiment, requests)
    recorded = _requests(experiment)
    for job, request in zip(jobs, requests, strict=True):
        recorded[_evaluation_id(job)] = {
            "world_name": request.world_name,
            "trials": request.number_of_trials,
            **({"models": models} if models else {}),
        }
    path = experiment.folder / REQUESTS_FILE
    path.write_text(json.dumps(recorded, indent=2))
    return jobs


def evaluation_params_of(experiment: Experiment) -> dict[str, Any]:
    """The notebook's ``runs/<id>/evaluation_params.yaml``, else ``evaluation_params_for``."""
    path = experiment.input_path(EVALUATION_PARAMS)
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return {str(key): value for key, value in loaded.items()}
    return evaluation_params_for(
        experiment, number_of_trials=workshop_budget().evaluation_trials
    )


def evaluation_yaml(experiment: Experiment, evaluation_id: str | None = None) -> dict[str, Any]:
    """The YAML an evaluation job's worker reads (default: the latest evaluation)."""
    evaluation_id = evaluation_id or _latest(experiment)
    key = RunLayout(experiment.prefix).evaluation_params(evaluation_id)
    return read_evaluation_yaml(experiment.open_store(), key)


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
        key = RunLayout(experiment.prefix).evaluation_metrics(_evaluation_id(job))
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
    """One row per trial of every evaluation of the model alone (head-to-head races are in
    ``race_table``): completion, lap time with the penalty time in it, how the trial ended."""
    store = experiment.open_store()
    rows = []
    for evaluation_id, request in sorted(_requests(experiment).items()):
        if "models" in request:
            continue
        key = RunLayout(experiment.prefix).evaluation_metrics(evaluation_id)
        if not store.exists(key):
            continue
        world = _world_of(experiment, evaluation_id)
        for metric in store.get_json(key)["metrics"]:
            rows.append(
                {"evaluation": evaluation_id, "track": request["world_name"]}
                | _trial_row(metric, world)
            )
    return pd.DataFrame(rows)


def race_table(experiment: Experiment, evaluation_id: str | None = None) -> pd.DataFrame:
    """One row per car and trial of a head-to-head race (default: the latest)."""
    races = {k: v for k, v in _requests(experiment).items() if "models" in v}
    if not races:
        raise LookupError(f"No head-to-head race of {experiment.id} yet: run start_head_to_head.")
    evaluation_id = evaluation_id or max(races)
    store = experiment.open_store()
    world = _world_of(experiment, evaluation_id)
    rows = []
    for prefix in races[evaluation_id]["models"]:
        key = RunLayout(prefix).evaluation_metrics(evaluation_id)
        metrics = store.get_json(key)["metrics"] if store.exists(key) else []
        rows += [{"model": prefix} | _trial_row(metric, world) for metric in metrics]
    return pd.DataFrame(rows)


def _trial_row(metric: Mapping[str, Any], world: WorldConfig) -> dict[str, Any]:
    """A trial's columns; a lap finished after resets says so, with the seconds they cost."""
    status, resets = metric["episode_status"], metric["reset_count"]
    if status == "Lap complete" and resets:
        status = f"Lap complete after {resets} reset{'s' if resets != 1 else ''}"
    return {
        "trial": metric["trial"],
        "completion %": metric["completion_percentage"],
        "lap time (s)": metric["elapsed_time_in_milliseconds"] / 1000.0,
        "penalty (s)": round(penalty_seconds(metric, world), 1),
        "status": status,
        "off track": metric["off_track_count"],
        "crashes": metric["crash_count"],
        "resets": resets,
    }


def penalty_seconds(metric: Mapping[str, Any], world: WorldConfig) -> float:
    """Seconds a trial waited after its resets (part of its lap time): each reset's penalty of
    the evaluation's YAML, except the reset that ended the trial, which is not waited out."""
    total = sum(
        metric[field] * world.penalty_for(status) for status, field in RESET_COUNT_FIELDS.items()
    )
    ending = _STATUS_OF_LABEL.get(metric["episode_status"])
    if ending in RESET_COUNT_FIELDS and metric[RESET_COUNT_FIELDS[ending]] > 0:
        total -= world.penalty_for(ending)
    return float(total)


def _world_of(experiment: Experiment, evaluation_id: str) -> WorldConfig:
    """The world settings the evaluation's worker read from its YAML."""
    try:
        settings = evaluation_yaml(experiment, evaluation_id)
    except RunInputError:  # an evaluation started before the jobs had their own YAML
        settings = {}
    return EvaluationSettings.from_params(settings).world


def plot_evaluation_paths(experiment: Experiment, evaluation_id: str | None = None) -> Figure:
    """Each trial's path on the track, coloured by speed, for one evaluation (default: last)."""
    requests = _requests(experiment)
    if not requests:
        raise LookupError(f"No evaluation of {experiment.id} yet: run start_evaluations first.")
    evaluation_id = evaluation_id or max(requests)
    simtrace = RunLayout(experiment.prefix).evaluation_simtrace(evaluation_id)
    key = simtrace_iteration_key(simtrace, 0)
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
    key = RunLayout(experiment.prefix).evaluation_video(evaluation_id)
    return HTML(inline_html(experiment.open_store().get_bytes(key), width=480))


def _latest(experiment: Experiment) -> str:
    requests = _requests(experiment)
    if not requests:
        raise LookupError(f"No evaluation of {experiment.id} yet: run start_evaluations first.")
    return max(requests)


def _requests(experiment: Experiment) -> dict[str, dict]:
    path = experiment.folder / REQUESTS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
