"""``python -m markov.evaluation_worker``: evaluate a trained model, configured like the simapp.

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

Files, in the DRfC layout that deepracer-utils reads (file-formats.md §8.3), rewritten after
every trial:

* ``<prefix>/evaluation-<id>/evaluation-simtrace/0-iteration.csv``;
* ``<prefix>/metrics/EvaluationMetrics-<id>.json``, or ``METRICS_S3_OBJECT_KEY`` when given
  (parallel workers must not share one);
* ``<prefix>/mp4/evaluation-<id>.mp4`` at the end.

The policy acts deterministically (argmax or mean). Exit status: 0 on success, 2 for bad input
(missing checkpoint, model metadata that does not fit the checkpoint, bad settings).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from markov.agents.clipped_ppo import AgentInputError, ClippedPPOAgent
from markov.checkpoints import CheckpointNotFound, build_agent, find_checkpoint, load_weights
from markov.environment.model_metadata import ModelMetadata, ModelMetadataError
from markov.environment.reward_function import RewardFunctionError, reward_function_from_source
from markov.environment.world_config import WorldConfig, WorldConfigError, parse_bool
from markov.evaluation import (
    EVALUATION_KEYS,
    EvaluationResult,
    TrialResult,
    checkpoint_policy,
    evaluate,
)
from markov.metrics import EvaluationMetricsWriter, evaluation_metrics_key
from markov.presets.preset import Hyperparameters
from markov.run_inputs import RunInputError, read_model_metadata, read_reward_source
from markov.simtrace import SimtraceWriter, evaluation_simtrace_prefix, format_run_timestamp
from markov.store import ModelStore, StoreConfigError, open_store
from markov.store.base import normalize_prefix
from markov.sync import CheckpointReader, CheckpointRef, IncompleteCheckpoint
from markov.tracks.official import TrackNotFoundError
from markov.video import VideoRecorder

DEFAULT_NUMBER_OF_TRIALS = "10"
DEFAULT_EVAL_CHECKPOINT = "last"
EXIT_BAD_INPUT = 2

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
_WORKER_KEYS = frozenset({"EVAL_CHECKPOINT", "METRICS_S3_OBJECT_KEY", "REWARD_FILE_S3_KEY"})
"""Keys this worker uses itself; they are not handed to the environment."""


class EvaluationConfigError(ValueError):
    """An environment variable or YAML value of the evaluation job cannot be used."""


@dataclass(frozen=True)
class EvaluationJob:
    """A resolved evaluation job: where the model is, what to run, where files go."""

    prefix: str
    world_name: str
    checkpoint: str
    evaluation_id: str
    world: WorldConfig
    world_params: dict[str, Any]
    metrics_key: str
    metadata_key: str
    reward_key: str | None
    save_mp4: bool

    @property
    def simtrace_prefix(self) -> str:
        return evaluation_simtrace_prefix(self.prefix, self.evaluation_id)

    @property
    def video_key(self) -> str:
        return f"{self.prefix}/mp4/evaluation-{self.evaluation_id}.mp4"


def read_evaluation_yaml(store: ModelStore, key: str) -> dict[str, Any]:
    """The evaluation YAML as a dict; DRfC's one-element lists become their element."""
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
        if isinstance(value, list):
            if len(value) != 1:
                raise EvaluationConfigError(
                    f"{key}: {name} lists {len(value)} values; this worker evaluates one car, "
                    "so give one value (head-to-head evaluation is not supported)"
                )
            value = value[0]
        params[str(name)] = "" if value is None else value
    return params


def job_from_environment(store: ModelStore, environ: Mapping[str, str]) -> EvaluationJob:
    """Resolve the job from the YAML (``S3_YAML_NAME``) and the environment variables."""
    settings: dict[str, Any] = {}
    yaml_key = environ.get("S3_YAML_NAME", "").strip()
    if yaml_key:
        settings.update(read_evaluation_yaml(store, _key(yaml_key)))
    settings.update({name: environ[name] for name in OVERRIDABLE_KEYS if name in environ})

    prefix = normalize_prefix(_key(_required(settings, "MODEL_S3_PREFIX")))
    world_name = _required(settings, "WORLD_NAME")
    world_params = {
        name: value
        for name, value in settings.items()
        if name not in _WORKER_KEYS and name != "MODEL_S3_PREFIX"
    }
    world_params.setdefault("NUMBER_OF_TRIALS", DEFAULT_NUMBER_OF_TRIALS)
    world = WorldConfig.from_params(world_params, evaluation=True)
    evaluation_id = _evaluation_id(store, prefix, environ.get("EVALUATION_ID", "").strip())
    metrics_key = str(settings.get("METRICS_S3_OBJECT_KEY", "")).strip()
    reward_key = str(settings.get("REWARD_FILE_S3_KEY", "")).strip()
    if not reward_key and store.exists(f"{prefix}/reward_function.py"):
        reward_key = f"{prefix}/reward_function.py"
    metadata_key = str(settings.get("MODEL_METADATA_FILE_S3_KEY", "")).strip()
    if not metrics_key:
        metrics_key = evaluation_metrics_key(prefix, evaluation_id)
    if not metadata_key:
        metadata_key = f"{prefix}/model/model_metadata.json"
    return EvaluationJob(
        prefix=prefix,
        world_name=world_name,
        checkpoint=str(settings.get("EVAL_CHECKPOINT", DEFAULT_EVAL_CHECKPOINT)).strip(),
        evaluation_id=evaluation_id,
        world=world,
        world_params=world_params,
        metrics_key=_key(metrics_key),
        metadata_key=_key(metadata_key),
        reward_key=_key(reward_key) if reward_key else None,
        save_mp4=parse_bool("SAVE_MP4", environ.get("SAVE_MP4", "true")),
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


def run_job(store: ModelStore, job: EvaluationJob) -> EvaluationResult:
    """Load the checkpoint, run the trials and write simtrace, metrics and video."""
    agent, ref, model_metadata = load_checkpoint_agent(
        store, job.prefix, job.checkpoint, job.metadata_key
    )
    reward_function = (
        reward_function_from_source(read_reward_source(store, job.reward_key), job.reward_key)
        if job.reward_key
        else None
    )
    world = job.world
    print(
        f"Evaluation> model={store.url}/{job.prefix}, checkpoint={ref.name}, "
        f"world={job.world_name}, trials={world.number_of_trials}, "
        f"continuous={world.is_continuous}, resets={world.number_of_resets}, "
        f"id={job.evaluation_id}",
        flush=True,
    )
    simtrace = SimtraceWriter(store, job.simtrace_prefix)
    metrics = EvaluationMetricsWriter(store, job.metrics_key)

    def record_trial(trial: TrialResult, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            simtrace.add_row(row)
        simtrace.flush(0)
        metrics.add_episode(
            start_time_s=trial.start_time_s,
            end_time_s=trial.end_time_s,
            completion_percentage=trial.completion_percentage,
            episode_status=trial.episode_status,
            **trial.reset_counts(),
        )
        print(
            f"Evaluation> trial={trial.trial}, status={trial.episode_status}, "
            f"progress={trial.completion_percentage:.1f}, time={trial.lap_time_s:.2f} s, "
            f"resets={trial.reset_count}",
            flush=True,
        )

    video = VideoRecorder(job.video_key, store=store) if job.save_mp4 else None
    extra = {name: value for name, value in job.world_params.items() if name not in EVALUATION_KEYS}
    try:
        result = evaluate(
            checkpoint_policy(agent),
            job.world_name,
            model_metadata,
            number_of_trials=world.number_of_trials,
            is_continuous=world.is_continuous,
            number_of_resets=world.number_of_resets,
            off_track_penalty=world.off_track_penalty,
            collision_penalty=world.collision_penalty,
            reverse_dir=world.reverse_dir,
            race_type=world.race_type,
            extra_params=extra,
            reward_function=reward_function,
            video=video,
            on_trial=record_trial,
        )
    except BaseException:
        if video is not None:
            video.discard()
        raise
    written = [f"{job.simtrace_prefix}/0-iteration.csv", job.metrics_key]
    if video is not None:
        written.append(str(video.close()))
    best = result.best_lap_time_s
    print(
        f"Evaluation> done: {result.laps_completed}/{len(result.trials)} laps completed, "
        f"best lap {'-' if best is None else f'{best:.2f} s'}; wrote {', '.join(written)}",
        flush=True,
    )
    return result


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the job the environment describes; returns the exit status."""
    environ = os.environ if environ is None else environ
    try:
        store = open_store(_required(environ, "MODEL_STORE_URL"))
        run_job(store, job_from_environment(store, environ))
    except (
        AgentInputError,
        CheckpointNotFound,
        EvaluationConfigError,
        IncompleteCheckpoint,
        ModelMetadataError,
        RewardFunctionError,
        RunInputError,
        StoreConfigError,
        TrackNotFoundError,
        WorldConfigError,
    ) as error:
        print(f"evaluation_worker: error: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    return 0


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


def _evaluation_id(store: ModelStore, prefix: str, requested: str) -> str:
    """The given id (checked), or the current UTC time moved on past ids already in use."""
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
        if not store.list(f"{prefix}/evaluation-{stamp}") and not store.exists(
            evaluation_metrics_key(prefix, stamp)
        ):
            return stamp
        moment += timedelta(seconds=1)


if __name__ == "__main__":
    sys.exit(main())
