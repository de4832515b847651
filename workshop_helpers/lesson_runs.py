"""Small steps the training lessons share: related experiments, their settings, files and speed.

Notebook 03 records the track the learner picked, notebook 04 starts a second experiment from the
model inputs of the first and compares how fast each one collected experience, and both show
where a run keeps its files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from markov.formats.checkpoints import find_resume_point
from markov.formats.layout import (
    REWARD_FUNCTION_NAME,
    TRAINING_PARAMS_NAME,
    RunLayout,
    worker_params_number,
)
from markov.formats.run_inputs import read_params
from workshop_helpers.experiment import (
    Experiment,
    ExperimentNotFoundError,
    check_track_available,
    list_experiments,
    new_experiment,
)
from workshop_helpers.lesson import LessonTable
from workshop_helpers.model_config import HYPERPARAMETERS_FILE, MODEL_METADATA_FILE
from workshop_helpers.training import trainer_iterations

MODEL_INPUTS = (MODEL_METADATA_FILE, HYPERPARAMETERS_FILE, REWARD_FUNCTION_NAME)
"""The files that define the model and what it learns: copied into a follow-up experiment."""
REQUIRED_INPUTS = (MODEL_METADATA_FILE, REWARD_FUNCTION_NAME)

RUN_FOLDERS: dict[str, str] = {
    "model": "checkpoints, model_metadata.json and the best/last checkpoint records",
    "metrics": "TrainingMetrics*.json (one per worker), trainer.json, EvaluationMetrics-*.json",
    RunLayout().training_simtrace(0, 1): (
        "one CSV row per step of every training episode (1 worker)"
    ),
    "live": "each worker's latest camera and top-down frame",
    "logs": "trainer and rollout worker logs",
    "export": "the trained model packed for import into DeepRacer",
    "ip": "the trainer's handshake files for the workers",
    "build": "the engine bundle output.tar.gz",
    "mp4": "evaluation videos",
    RunLayout().training_video_folder.partition("/")[0]: "training videos",
    "episodes": "episodes on their way from the workers to the trainer",
    RunLayout().training_params: "the simulation settings every worker reads",
    RunLayout().reward_function: "the reward function",
    RunLayout().hyperparameters: "the learner's hyperparameters",
    RunLayout().runner_result: "how the local run ended (iterations, time, exit code)",
}
"""What the top-level folders and files of a run's store prefix hold."""


class TrainedTrackError(ValueError):
    """A change of track for an experiment that already trained on another one."""


def record_track(experiment: Experiment, world_name: str, *, override: bool = False) -> Experiment:
    """The experiment with its track set to ``world_name``, saved in experiment.json.

    Later notebooks (evaluation, log analysis) read the track from the experiment, so it cannot
    change silently once training started (the run has checkpoints): that is refused with the
    fix, unless ``override=True`` says the change is meant. A track this machine cannot load is
    refused with how to fetch it.
    """
    if experiment.world_name == world_name:
        return experiment
    resume_point = find_resume_point(experiment.open_store(), experiment.prefix)
    if resume_point is not None and not override:
        raise TrainedTrackError(
            f"{experiment.id} already trained on {experiment.world_name} (checkpoint "
            f"{resume_point.name}); its evaluation and log analysis read that track. To train "
            f"on {world_name}, start a new experiment: new = new_experiment_from(exp), then "
            f"record_track(new, {world_name!r}). To record {world_name} for this trained "
            "model anyway (e.g. to evaluate it on another track), pass override=True."
        )
    check_track_available(world_name)
    updated = dataclasses.replace(experiment, world_name=world_name)
    updated.save()
    return updated


def training_params_of(experiment: Experiment) -> dict[str, str]:
    """The experiment's ``runs/<id>/training_params.yaml`` as a dict ({} before it is written)."""
    path = experiment.input_path(TRAINING_PARAMS_NAME)
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(key): str(value) for key, value in loaded.items()}


def new_experiment_from(previous: Experiment, name: str | None = None) -> Experiment:
    """A new experiment that trains the same model: same backend, store and track, and a copy
    of ``previous``'s model_metadata.json, hyperparameters.json and reward_function.py.

    A run's inputs cannot change once it has checkpoints, so a different training setting
    (more workers, another track per worker) needs a new experiment. The simulation YAML is not
    copied: write it for the new setting. ``name`` defaults to the previous experiment's name.
    """
    missing = [item for item in REQUIRED_INPUTS if not previous.input_path(item).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{previous.id} has no {' or '.join(missing)}; write the model inputs first "
            "(notebooks 01 and 02)"
        )
    created = new_experiment(
        name or _base_name(previous.id),
        previous.backend,
        world_name=previous.world_name,
        store_url=previous.store_url,
    )
    for item in MODEL_INPUTS:
        source = previous.input_path(item)
        if source.is_file():
            created.write_input(item, source.read_text(encoding="utf-8"))
    return created


def trained_workers(experiment: Experiment) -> int | None:
    """How many rollout workers the experiment's training was set up with (None before upload)."""
    store = experiment.open_store()
    key = RunLayout(experiment.prefix).training_params
    if not store.exists(key):
        return None
    return int(read_params(store, key).get("NUM_WORKERS", "1"))


def latest_trained(workers: int | None = None) -> Experiment:
    """The newest experiment that has trained (with ``workers`` rollout workers when given)."""
    for experiment in reversed(list_experiments()):
        if not trainer_iterations(experiment):
            continue
        if workers is None or trained_workers(experiment) == workers:
            return experiment
    which = "" if workers is None else f" with {workers} rollout worker(s)"
    raise ExperimentNotFoundError(
        f"no trained experiment{which} yet; train one first (notebook 03 trains with 1 worker)"
    )


def rollout_speed(experiment: Experiment, skip_first: bool = True) -> dict[str, Any]:
    """Steps the rollout workers simulated per second of rollout time, from ``trainer.json``.

    Iteration 0 also pays for starting the workers (imports, track loading); ``skip_first``
    leaves it out when later iterations exist, which measures the steady pace.
    """
    records = trainer_iterations(experiment)
    if not records:
        raise LookupError(f"{experiment.id} has no finished training iteration yet")
    used = records[1:] if skip_first and len(records) > 1 else records
    transitions = sum(int(record["transitions"]) for record in used)
    seconds = sum(float(record["rollout_seconds"]) for record in used)
    return {
        "workers": trained_workers(experiment),
        "iterations": len(used),
        "steps": transitions,
        "rollout s": round(seconds, 2),
        "steps/s": round(transitions / seconds, 1) if seconds > 0 else float("nan"),
    }


def speed_comparison(runs: Mapping[str, Experiment], skip_first: bool = True) -> pd.DataFrame:
    """One row per run (label -> experiment): rollout steps per second and the speed-up over
    the first run."""
    table = pd.DataFrame(
        [rollout_speed(experiment, skip_first) for experiment in runs.values()],
        index=list(runs),
    )
    table["speed-up"] = (table["steps/s"] / table["steps/s"].iloc[0]).round(2)
    return table


def run_layout(experiment: Experiment) -> LessonTable:
    """The top-level folders and files of the run in its store: file count, an example, meaning.

    A table shown in full (``.frame`` is the DataFrame): its last column is a sentence.
    """
    prefix = experiment.prefix
    keys = experiment.open_store().list(prefix)
    groups: dict[str, list[str]] = {}
    for key in keys:
        relative = key[len(prefix) + 1 :]
        head, _, rest = relative.partition("/")
        groups.setdefault(head + ("/" if rest else ""), []).append(relative)
    rows = []
    for folder, members in sorted(groups.items()):
        rows.append(
            {
                "folder or file": folder,
                "files": len(members),
                "example": members[0],
                "what it holds": _meaning(folder.rstrip("/")),
            }
        )
    return LessonTable(rows)


def _meaning(name: str) -> str:
    if name in RUN_FOLDERS:
        return RUN_FOLDERS[name]
    if name.isdigit():
        return f"worker {name}'s training simtrace (runs with several workers)"
    if (worker := worker_params_number(name)) is not None:
        return f"worker {worker}'s own simulation settings"
    if name.startswith("evaluation-"):
        return "one evaluation's simtrace"
    return ""


def _base_name(experiment_id: str) -> str:
    """``workshop-20260101-120000-1a2b`` -> ``workshop``."""
    parts = experiment_id.split("-")
    return "-".join(parts[:-3]) if len(parts) > 3 else experiment_id
