"""``python -m markov.workers.evaluation``: evaluate a trained model, or race two or more models
head-to-head, configured like the simapp.

Environment variables:

=============================  ===========================================================
``MODEL_STORE_URL``            the store: ``file:///abs/folder``, a folder path, ``s3://bucket``
``MODEL_S3_PREFIX``            the model's prefix in the store (or from the YAML)
``S3_YAML_NAME``               optional key of ``evaluation_params.yaml`` in the store
``EVALUATION_ID``              optional ``YYYYmmddHHMMSS`` naming this evaluation's files
                               (default: the current UTC time, moved on by a second while
                               files of that id exist); give parallel workers distinct ids
``SAVE_MP4``                   ``true`` (default) or ``false``: record the video
=============================  ===========================================================

These keys come from the YAML, and an environment variable of the same name overrides it:
``WORLD_NAME``, ``EVAL_CHECKPOINT`` (``last`` | ``best`` | a checkpoint name; default last),
``NUMBER_OF_TRIALS`` (default 10, the simapp's), ``IS_CONTINUOUS``, ``NUMBER_OF_RESETS``
(default 0), ``OFF_TRACK_PENALTY`` (2.0), ``COLLISION_PENALTY`` (5.0), ``PENALTY_SECONDS``
(a bot car's pause after it runs into the car), ``REVERSE_DIR``, ``RACE_TYPE``,
``METRICS_S3_OBJECT_KEY``, ``MODEL_METADATA_FILE_S3_KEY`` (default
``<prefix>/model/model_metadata.json``) and ``REWARD_FILE_S3_KEY`` (default
``<prefix>/reward_function.py`` when present; it fills the simtrace reward column). Other YAML
keys are world keys checked by the environment. DRfC's one-element lists are accepted.

Head-to-head (the head2head YAML, docs/file-formats.md §1.2): when ``MODEL_S3_PREFIX`` lists two or
more models, they race on one track (``markov.races.head_to_head.race``, with its starting grid).
Then
the keys of ``PER_MODEL_KEYS`` give one value per model in the same order, or one value for every
model: ``MODEL_METADATA_FILE_S3_KEY``, ``METRICS_S3_OBJECT_KEY``, ``REWARD_FILE_S3_KEY``,
``EVAL_CHECKPOINT``, ``DISPLAY_NAME`` / ``RACER_NAME`` (names in the video), and keys the worker
does not use (buckets, ``SIMTRACE_S3_PREFIX``, ``MP4_*``, ``CAR_COLOR``, ...). The world keys
are one value for the whole race. ``RACE_TYPE`` is ``HEAD_TO_MODEL``; ``TIME_TRIAL`` and
``OBJECT_AVOIDANCE`` (the same obstacles for every car) race too.

Files, in the DRfC layout that deepracer-utils reads (docs/file-formats.md §8.3), under each model's
prefix, rewritten after every trial of that model:

* ``<prefix>/evaluation-<id>/evaluation-simtrace/0-iteration.csv``;
* ``<prefix>/metrics/EvaluationMetrics-<id>.json``, or ``METRICS_S3_OBJECT_KEY`` when given
  (parallel workers, and the models of a race, must not share one);
* ``<prefix>/mp4/evaluation-<id>.mp4`` at the end; a race records one video, put under every
  model's prefix.

The reward functions run under the limits of ``markov.environment.reward_watchdog``
(``REWARD_CALL_TIMEOUT_S``, ``REWARD_EPISODE_BUDGET_S``, ``REWARD_OUTPUT_*_CHARS``).

The policy acts deterministically (argmax or mean). Exit status: 0 on success, 3 for bad input
or a failing reward function (missing checkpoint, model metadata that does not fit the
checkpoint, bad settings), after the failure block of ``markov.workers.failure``: a restart would
fail the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from markov.agents.clipped_ppo import AgentInputError, ClippedPPOAgent
from markov.agents.restore import CheckpointNotFound, build_agent, find_checkpoint, load_weights
from markov.environment.model_metadata import ModelMetadata, ModelMetadataError
from markov.environment.reward_function import RewardFunction, reward_function_from_source
from markov.environment.reward_watchdog import RewardLimits
from markov.environment.world_config import parse_bool
from markov.formats.checkpoints import CheckpointReader, CheckpointRef, IncompleteCheckpoint
from markov.formats.layout import RunLayout, format_run_timestamp, simtrace_iteration_key
from markov.formats.metrics import EvaluationMetricsWriter
from markov.formats.run_inputs import RunInputError, read_model_metadata, read_reward_source
from markov.formats.simtrace import SimtraceWriter
from markov.formats.video import VideoRecorder
from markov.presets.preset import Hyperparameters
from markov.races.head_to_head import race
from markov.races.settings import JOB_KEYS, EvaluationSettings
from markov.races.trials import EvaluationResult, TrialResult, checkpoint_policy, evaluate
from markov.store import ModelStore, StoreConfigError, open_store
from markov.store.base import normalize_prefix
from markov.workers.errors import DETERMINISTIC_ERRORS, report_failure
from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE

DEFAULT_EVAL_CHECKPOINT = "last"
EXIT_BAD_INPUT = EXIT_DETERMINISTIC_FAILURE

OVERRIDABLE_KEYS = (
    "MODEL_S3_PREFIX",
    "WORLD_NAME",
    "EVAL_CHECKPOINT",
    "NUMBER_OF_TRIALS",
    "IS_CONTINUOUS",
    "NUMBER_OF_RESETS",
    "OFF_TRACK_PENALTY",
    "COLLISION_PENALTY",
    "PENALTY_SECONDS",
    "REVERSE_DIR",
    "RACE_TYPE",
    "METRICS_S3_OBJECT_KEY",
    "MODEL_METADATA_FILE_S3_KEY",
    "REWARD_FILE_S3_KEY",
)
_PER_MODEL_FILE_KEYS = tuple(sorted(JOB_KEYS - {"MODEL_S3_PREFIX"}))
"""The keys of ``JOB_KEYS`` that the worker reads per model besides the prefix."""

PER_MODEL_KEYS = frozenset(
    """MODEL_S3_PREFIX MODEL_S3_BUCKET MODEL_METADATA_FILE_S3_KEY MODEL_NAME EVAL_CHECKPOINT
    REWARD_FILE_S3_KEY METRICS_S3_BUCKET METRICS_S3_OBJECT_KEY METRICS_S3_PREFIX SIMTRACE_S3_BUCKET
    SIMTRACE_S3_PREFIX SIMTRACE_EPISODE_S3_PREFIX MP4_S3_BUCKET MP4_S3_OBJECT_PREFIX
    KINESIS_VIDEO_STREAM_NAME DISPLAY_NAME RACER_NAME CAR_NAME CAR_COLOR BODY_SHELL_TYPE""".split()
)
"""Keys that may list one value per model (head2head YAML, DRfC); the others are one setting for
the whole race."""


class EvaluationConfigError(ValueError):
    """An environment variable or YAML value of the evaluation job cannot be used."""


@dataclass(frozen=True)
class ModelJob:
    """One model of an evaluation job: where it is and where its files go."""

    prefix: str
    name: str
    checkpoint: str
    metadata_key: str
    reward_key: str | None
    metrics_key: str
    simtrace_prefix: str
    video_key: str


@dataclass(frozen=True)
class EvaluationJob:
    """A resolved evaluation job: the model (or the models racing head-to-head) and the world."""

    models: tuple[ModelJob, ...]
    world_name: str
    evaluation_id: str
    settings: EvaluationSettings
    save_mp4: bool
    reward_limits: RewardLimits = field(default_factory=RewardLimits)


def read_evaluation_yaml(store: ModelStore, key: str) -> dict[str, Any]:
    """The evaluation YAML as a dict; a one-element list (DRfC) becomes its element, longer
    lists (one value per model of a head-to-head race) stay lists."""
    if not store.exists(key):
        raise RunInputError(f"S3_YAML_NAME is {key!r} but {store.url} has no such file.")
    try:
        loaded = yaml.safe_load(store.get_text(key)) or {}
    except yaml.YAMLError as error:
        raise EvaluationConfigError(f"{key} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise EvaluationConfigError(f'{key} must be a YAML mapping of KEY: "value" lines.')
    params: dict[str, Any] = {}
    for name, value in loaded.items():
        if isinstance(value, list) and name != "OBJECT_POSITIONS":
            if not value:
                raise EvaluationConfigError(
                    f"{key}: {name} is an empty list; give a value (or one per model)"
                )
            values = ["" if item is None else item for item in value]
            value = values[0] if len(values) == 1 else values
        params[str(name)] = "" if value is None else value
    return params


def job_from_environment(store: ModelStore, environ: Mapping[str, str]) -> EvaluationJob:
    """Resolve the job from the YAML (``S3_YAML_NAME``) and the environment variables."""
    settings: dict[str, Any] = {}
    yaml_key = environ.get("S3_YAML_NAME", "").strip()
    if yaml_key:
        settings.update(read_evaluation_yaml(store, _key(yaml_key)))
    settings.update({name: environ[name] for name in OVERRIDABLE_KEYS if name in environ})

    count = _model_count(settings)
    prefixes = [
        normalize_prefix(_key(item)) for item in _per_model(settings, "MODEL_S3_PREFIX", count)
    ]
    world_name = _required(settings, "WORLD_NAME")
    evaluation = EvaluationSettings.from_params(settings)
    evaluation_id = _evaluation_id(store, prefixes, environ.get("EVALUATION_ID", "").strip())
    names = ("DISPLAY_NAME", "RACER_NAME", *_PER_MODEL_FILE_KEYS, "MODEL_METADATA_FILE_S3_KEY")
    columns = {name: _per_model(settings, name, count) for name in names}
    models = []
    for index, prefix in enumerate(prefixes):
        value = {name: column[index] for name, column in columns.items()}
        layout = RunLayout(prefix)
        reward_key = value["REWARD_FILE_S3_KEY"]
        if not reward_key and store.exists(layout.reward_function):
            reward_key = layout.reward_function
        metadata_key = value["MODEL_METADATA_FILE_S3_KEY"] or layout.model_metadata
        metrics_key = value["METRICS_S3_OBJECT_KEY"] or layout.evaluation_metrics(evaluation_id)
        models.append(
            ModelJob(
                prefix=prefix,
                name=value["DISPLAY_NAME"] or value["RACER_NAME"] or prefix,
                checkpoint=value["EVAL_CHECKPOINT"] or DEFAULT_EVAL_CHECKPOINT,
                metadata_key=_key(metadata_key),
                reward_key=_key(reward_key) if reward_key else None,
                metrics_key=_key(metrics_key),
                simtrace_prefix=layout.evaluation_simtrace(evaluation_id),
                video_key=layout.evaluation_video(evaluation_id),
            )
        )
    _check_distinct(models)
    return EvaluationJob(
        models=tuple(models),
        world_name=world_name,
        evaluation_id=evaluation_id,
        settings=evaluation,
        save_mp4=parse_bool("SAVE_MP4", environ.get("SAVE_MP4", "true")),
        reward_limits=RewardLimits.from_environment(environ),
    )


def load_checkpoint_agent(
    store: ModelStore, prefix: str, which: str, metadata_key: str
) -> tuple[ClippedPPOAgent, CheckpointRef, ModelMetadata]:
    """The agent of checkpoint ``which``, shaped by the model metadata at ``metadata_key``."""
    ref = find_checkpoint(store, prefix, which)
    model_metadata = read_model_metadata(store, metadata_key)
    agent = build_agent(model_metadata, Hyperparameters(), num_threads=1)
    try:
        load_weights(agent, CheckpointReader(store, prefix).load(ref))
    except AgentInputError as error:
        raise ModelMetadataError(
            f"{metadata_key} does not match checkpoint {ref.name} of {store.url}/{prefix}: {error}"
        ) from None
    return agent, ref, model_metadata


@dataclass(frozen=True)
class _LoadedModel:
    """A model ready to drive: its agent, checkpoint, metadata and reward function."""

    job: ModelJob
    agent: ClippedPPOAgent
    ref: CheckpointRef
    metadata: ModelMetadata
    reward_function: RewardFunction | None


def _load_model(
    store: ModelStore, model: ModelJob, limits: RewardLimits, hard_stop: bool
) -> _LoadedModel:
    """Load a model's checkpoint, metadata and reward function (for its simtrace rewards); the
    reward function runs under the watchdog's ``limits``."""
    agent, ref, metadata = load_checkpoint_agent(
        store, model.prefix, model.checkpoint, model.metadata_key
    )
    reward_function = None
    if model.reward_key:
        source = read_reward_source(store, model.reward_key)
        reward_function = reward_function_from_source(source, model.reward_key)
        reward_function.guard(limits, hard_stop=hard_stop)
    return _LoadedModel(model, agent, ref, metadata, reward_function)


class _ModelFiles:
    """One model's simtrace and metrics files, rewritten after each of its trials."""

    def __init__(self, store: ModelStore, model: ModelJob, label: str) -> None:
        self.model = model
        self.label = label
        self.simtrace = SimtraceWriter(store, model.simtrace_prefix)
        self.metrics = EvaluationMetricsWriter(store, model.metrics_key)

    def record(self, trial: TrialResult, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.simtrace.add_row(row)
        self.simtrace.flush(0)
        self.metrics.add_episode(
            start_time_s=trial.start_time_s,
            end_time_s=trial.end_time_s,
            completion_percentage=trial.completion_percentage,
            episode_status=trial.episode_status,
            **trial.reset_counts(),
        )
        print(
            f"Evaluation> {self.label}trial={trial.trial}, status={trial.episode_status}, "
            f"progress={trial.completion_percentage:.1f}, time={trial.lap_time_s:.2f} s, "
            f"resets={trial.reset_count}",
            flush=True,
        )

    @property
    def written(self) -> list[str]:
        """The keys of the files this model's trials are written to."""
        return [simtrace_iteration_key(self.model.simtrace_prefix, 0), self.model.metrics_key]


def run_job(
    store: ModelStore, job: EvaluationJob, *, hard_stop: bool = False
) -> list[EvaluationResult]:
    """Load the checkpoints, run the trials (or the race) and write simtrace, metrics and video;
    returns one result per model. ``hard_stop`` (worker processes only) lets the reward
    watchdog end the process when a reward function cannot be stopped otherwise."""
    loaded = [_load_model(store, model, job.reward_limits, hard_stop) for model in job.models]
    racing = len(loaded) > 1
    settings = job.settings
    for index, model in enumerate(loaded):
        print(
            f"Evaluation> {_label(index, racing)}model={store.url}/{model.job.prefix}, "
            f"checkpoint={model.ref.name}, world={job.world_name}, "
            f"trials={settings.number_of_trials}, continuous={settings.is_continuous}, "
            f"resets={settings.number_of_resets}, id={job.evaluation_id}",
            flush=True,
        )
    files = [_ModelFiles(store, model.job, _label(i, racing)) for i, model in enumerate(loaded)]
    video = VideoRecorder(job.models[0].video_key, store=store) if job.save_mp4 else None
    try:
        results = _drive(job, loaded, files, video)
    except BaseException:
        if video is not None:
            video.discard()
        raise
    if video is not None:
        first = str(video.close())
        for model in job.models[1:]:
            store.put_bytes(model.video_key, store.get_bytes(first))
    for index, (result, model_files) in enumerate(zip(results, files, strict=True)):
        written = [*model_files.written, *([model_files.model.video_key] if video else [])]
        best = result.best_lap_time_s
        print(
            f"Evaluation> {_label(index, racing)}done: {result.laps_completed}/"
            f"{len(result.trials)} laps completed, best lap "
            f"{'-' if best is None else f'{best:.2f} s'}; wrote {', '.join(written)}",
            flush=True,
        )
    return results


def _drive(
    job: EvaluationJob,
    loaded: Sequence[_LoadedModel],
    files: Sequence[_ModelFiles],
    video: VideoRecorder | None,
) -> list[EvaluationResult]:
    """Evaluate the one model, or race the models; every trial is written as it ends."""
    if len(loaded) > 1:
        return race(
            [checkpoint_policy(model.agent) for model in loaded],
            job.world_name,
            [model.metadata for model in loaded],
            job.settings,
            reward_functions=[model.reward_function for model in loaded],
            car_names=[model.job.name for model in loaded],
            video=video,
            on_trial=lambda index, trial, rows: files[index].record(trial, rows),
        )
    (model,) = loaded
    result = evaluate(
        checkpoint_policy(model.agent),
        job.world_name,
        model.metadata,
        job.settings,
        reward_function=model.reward_function,
        video=video,
        on_trial=files[0].record,
    )
    return [result]


def main(environ: Mapping[str, str] | None = None, *, hard_stop: bool = False) -> int:
    """Run the job the environment describes; returns the exit status (``EXIT_BAD_INPUT``
    after the failure block when the input or the reward function fails)."""
    environ = os.environ if environ is None else environ
    try:
        store = open_store(_required(environ, "MODEL_STORE_URL"))
        run_job(store, job_from_environment(store, environ), hard_stop=hard_stop)
    except (
        *DETERMINISTIC_ERRORS,
        AgentInputError,
        CheckpointNotFound,
        EvaluationConfigError,
        IncompleteCheckpoint,
        RunInputError,
        StoreConfigError,
    ) as error:
        return report_failure("evaluation worker", error)
    return 0


def _label(index: int, racing: bool) -> str:
    """How the log lines name a model: nothing for a single model, ``car=<n>, `` in a race."""
    return f"car={index + 1}, " if racing else ""


def _model_count(settings: Mapping[str, Any]) -> int:
    """How many models ``MODEL_S3_PREFIX`` names; every other list must give one value each."""
    prefixes = settings.get("MODEL_S3_PREFIX", "")
    count = len(prefixes) if isinstance(prefixes, list) else 1
    for name, value in settings.items():
        if not isinstance(value, list) or name == "OBJECT_POSITIONS":
            continue
        if name not in PER_MODEL_KEYS:
            raise EvaluationConfigError(
                f"{name} lists {len(value)} values; it is one setting for the whole race, so "
                "give one value"
            )
        if len(value) != count:
            raise EvaluationConfigError(
                f"{name} lists {len(value)} values but MODEL_S3_PREFIX names {count} "
                f"model{'s' if count > 1 else ''}; give one value per model, in the order of "
                "MODEL_S3_PREFIX (or one value for every model)"
            )
    return count


def _per_model(settings: Mapping[str, Any], name: str, count: int) -> list[str]:
    """One value of ``name`` per model ('' when unset); MODEL_S3_PREFIX entries must be set."""
    value = settings.get(name, "")
    items = value if isinstance(value, list) else [value] * count
    values = [str(item).strip() for item in items]
    if name == "MODEL_S3_PREFIX":
        if count == 1:
            return [_required(settings, name)]
        for index, item in enumerate(values):
            if not _key(item):
                raise EvaluationConfigError(
                    f"MODEL_S3_PREFIX entry {index + 1} is empty; give the store prefix of each "
                    "model that races"
                )
    return values


def _check_distinct(models: Sequence[ModelJob]) -> None:
    """Models of a race must not share a prefix or a metrics file."""
    for name, values in [
        ("MODEL_S3_PREFIX", [model.prefix for model in models]),
        ("METRICS_S3_OBJECT_KEY", [model.metrics_key for model in models]),
    ]:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            hint = (
                "race two different models (copy a model to a second prefix to race it against "
                "itself)"
                if name == "MODEL_S3_PREFIX"
                else "give each model its own key, e.g. <prefix>/evaluation_metrics.json"
            )
            raise EvaluationConfigError(
                f"{name} gives {repeated[0]!r} to more than one model; {hint}"
            )


def _required(settings: Mapping[str, Any], name: str) -> str:
    value = str(settings.get(name, "")).strip()
    if not value:
        raise EvaluationConfigError(
            f"{name} is not set; set the environment variable {name} "
            "(or the key in the evaluation YAML named by S3_YAML_NAME)"
        )
    return value


def _key(text: str) -> str:
    """A store key from a YAML value; the templates' keys start with '/'."""
    return text.strip().lstrip("/")


def _evaluation_id(store: ModelStore, prefixes: Sequence[str], requested: str) -> str:
    """The given id (checked), or the current UTC time moved on past ids any model uses."""
    if requested:
        try:
            return format_run_timestamp(requested)
        except ValueError:
            raise EvaluationConfigError(
                f"EVALUATION_ID is {requested!r}; use 14 digits YYYYmmddHHMMSS (deepracer-utils "
                "reads evaluation-<YYYYmmddHHMMSS> folders), distinct for parallel evaluations"
            ) from None
    moment = datetime.now(UTC)
    while True:
        stamp = format_run_timestamp(moment)
        if not any(
            store.list(RunLayout(prefix).evaluation_folder(stamp))
            or store.exists(RunLayout(prefix).evaluation_metrics(stamp))
            for prefix in prefixes
        ):
            return stamp
        moment += timedelta(seconds=1)


if __name__ == "__main__":
    sys.exit(main(hard_stop=True))
