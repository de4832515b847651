"""The backend interface: start, watch and stop training and evaluation jobs of an experiment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import yaml

from markov.formats.layout import RunLayout
from workshop_helpers.experiment import Experiment


class BackendError(RuntimeError):
    """A job could not be started, found or stopped; the message says what to do."""


@dataclass(frozen=True)
class TrainingRequest:
    """What to train: rollout workers, limits and extra environment for the engine."""

    num_workers: int = 1
    max_time_s: float | None = None
    stop_at_eval_progress: float | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationRequest:
    """One evaluation job: a track and a number of trials for the experiment's model."""

    world_name: str
    number_of_trials: int = 3
    evaluation_id: str = ""
    checkpoint: str = "best"
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobState:
    """A job's name and state: ``starting``, ``running``, ``completed``, ``failed``, ``stopped``."""

    name: str
    state: str
    detail: str = ""

    @property
    def done(self) -> bool:
        """True once the job will not change any more."""
        return self.state in ("completed", "failed", "stopped")


class Backend(Protocol):
    """What a place to run the engine offers the notebooks."""

    name: str

    def start_training(self, experiment: Experiment, request: TrainingRequest) -> list[JobState]:
        """Start the trainer and the rollout workers; refuse while a training runs."""
        ...

    def training_jobs(self, experiment: Experiment) -> list[JobState]:
        """The state of the experiment's training jobs (empty before any start)."""
        ...

    def stop_training(self, experiment: Experiment) -> list[JobState]:
        """Stop every training job of the experiment."""
        ...

    def start_evaluations(
        self, experiment: Experiment, requests: list[EvaluationRequest]
    ) -> list[JobState]:
        """Start one evaluation job per request, in parallel."""
        ...

    def evaluation_jobs(self, experiment: Experiment) -> list[JobState]:
        """The state of the experiment's evaluation jobs."""
        ...

    def stop_evaluations(self, experiment: Experiment) -> list[JobState]:
        """Stop every evaluation job of the experiment that still runs."""
        ...

    def logs(self, experiment: Experiment, job: str, lines: int = 40) -> str:
        """The last lines of a job's log."""
        ...


def evaluation_ids(requested: list[str], taken: set[str]) -> list[str]:
    """Evaluation ids: the requested ones, else 14-digit UTC time stamps (the form
    deepracer-utils expects), all distinct from each other and from ``taken``."""
    moment = datetime.now(UTC)
    ids: list[str] = []
    for wanted in requested:
        candidate = wanted
        while not candidate or candidate in taken or candidate in ids:
            candidate = moment.strftime("%Y%m%d%H%M%S")
            moment += timedelta(seconds=1)
        ids.append(candidate)
    return ids


def evaluation_job_params(request: EvaluationRequest) -> dict[str, Any]:
    """The request's YAML keys with its track, trials and checkpoint (one place for all three)."""
    return {
        **request.params,
        "WORLD_NAME": request.world_name,
        "NUMBER_OF_TRIALS": str(request.number_of_trials),
        "EVAL_CHECKPOINT": request.checkpoint,
    }


def write_evaluation_params(
    experiment: Experiment, evaluation_id: str, params: Mapping[str, Any]
) -> str:
    """Store one evaluation job's YAML, the file its worker reads (``S3_YAML_NAME``); returns
    its key.

    ``params`` is the notebook's evaluation YAML; only what names this job is filled in: the
    model prefix (the experiment's unless ``params`` lists the models of a head-to-head race)
    and, per model, where this evaluation's metrics and simtrace go.
    """
    key = RunLayout(experiment.prefix).evaluation_params(evaluation_id)
    body = {"MODEL_S3_PREFIX": experiment.prefix, **params}
    prefixes = body["MODEL_S3_PREFIX"]
    models = prefixes if isinstance(prefixes, list) else [prefixes]
    metrics = [RunLayout(prefix).evaluation_metrics(evaluation_id) for prefix in models]
    simtraces = [RunLayout(prefix).evaluation_folder(evaluation_id) for prefix in models]
    many = isinstance(prefixes, list)
    body["METRICS_S3_OBJECT_KEY"] = metrics if many else metrics[0]
    body["SIMTRACE_S3_PREFIX"] = simtraces if many else simtraces[0]
    experiment.open_store().put_text(key, _dump_job_yaml(body))
    return key


def _dump_job_yaml(params: Mapping[str, Any]) -> str:
    """Every value as a string, as ``dump_params`` writes them, with per-car lists (a
    head-to-head race) kept as YAML lists of strings."""
    body = {
        key: [_as_text(item) for item in value] if isinstance(value, list) else _as_text(value)
        for key, value in params.items()
    }
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

