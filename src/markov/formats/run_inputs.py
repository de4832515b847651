"""The inputs of a training run in the model store, and how workers read them back.

Under the run's prefix (the experiment id) a notebook or the CLI writes, before any worker starts:

- ``training_params.yaml`` (``S3_YAML_NAME``): DeepRacer's world keys, all values strings;
  ``training_params_<i>.yaml`` optionally gives rollout worker ``i`` its own settings;
- ``reward_function.py`` (``REWARD_FILE_S3_KEY``);
- ``model/model_metadata.json`` (``MODEL_METADATA_FILE_S3_KEY``);
- ``hyperparameters.json``: the learner's hyperparameters; the trainer publishes the resolved
  values as ``ip/hyperparameters.json``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import yaml

from markov.environment.model_metadata import (
    ModelMetadata,
    load_model_metadata,
    require_trainable,
)
from markov.environment.objects import check_objects_fit
from markov.environment.reward_function import reward_function_from_source
from markov.environment.world_config import WorldConfig
from markov.formats.layout import (
    HYPERPARAMETERS_NAME,
    REWARD_FUNCTION_NAME,
    TRAINING_PARAMS_NAME,
    RunLayout,
)
from markov.presets.preset import Hyperparameters, load_hyperparameters
from markov.rewards import default as default_reward
from markov.store import ModelStore

# The names as older callers import them; new code asks RunLayout for the keys.
TRAINING_PARAMS = TRAINING_PARAMS_NAME
REWARD_FUNCTION = REWARD_FUNCTION_NAME
MODEL_METADATA = RunLayout().model_metadata
HYPERPARAMETERS = HYPERPARAMETERS_NAME


class RunInputError(ValueError):
    """A run input is missing from the store or cannot be read."""


def worker_params_key(prefix: str, worker: int) -> str:
    """Key of worker ``i``'s own training_params file (multi-config runs)."""
    return RunLayout(prefix).worker_training_params(worker)


def params_key_of_worker(store: ModelStore, prefix: str, worker: int) -> str:
    """The training_params YAML rollout worker ``worker`` reads: its own file when it has one
    (workers 1 and up; worker 0 drives the run's main settings), else the run's main file."""
    layout = RunLayout(prefix)
    own = layout.worker_training_params(worker)
    return own if worker > 0 and store.exists(own) else layout.training_params


def training_params(
    prefix: str,
    world_name: str,
    num_workers: int,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The training_params.yaml keys the engine needs, as strings (DRfC-style DeepRacer keys)."""
    layout = RunLayout(prefix)
    params = {
        "JOB_TYPE": "TRAINING",
        "WORLD_NAME": world_name,
        "SAGEMAKER_SHARED_S3_PREFIX": prefix,
        "METRICS_S3_OBJECT_KEY": layout.training_metrics(0),
        "SIMTRACE_S3_PREFIX": prefix,
        "MODEL_METADATA_FILE_S3_KEY": layout.model_metadata,
        "REWARD_FILE_S3_KEY": layout.reward_function,
        "NUM_WORKERS": str(num_workers),
        "RACE_TYPE": "TIME_TRIAL",
        "CHANGE_START_POSITION": "true",
        "ALTERNATE_DRIVING_DIRECTION": "false",
        "REVERSE_DIR": "false",
        "NUMBER_OF_RESETS": "0",
        "MIN_EVAL_TRIALS": "5",
        "BEST_MODEL_METRIC": "progress",
        "BODY_SHELL_TYPE": "deepracer",
        "CAR_COLOR": "Blue",
    }
    params.update({key: _as_yaml_string(value) for key, value in (overrides or {}).items()})
    return params


def dump_params(params: Mapping[str, Any]) -> str:
    """YAML text with every value quoted as a string, as DeepRacer's templates keep them."""
    return yaml.safe_dump(
        {key: _as_yaml_string(value) for key, value in params.items()},
        sort_keys=False,
        default_style=None,
        allow_unicode=True,
    )


def write_run_inputs(
    store: ModelStore,
    prefix: str,
    *,
    world_name: str,
    num_workers: int,
    model_metadata: ModelMetadata,
    hyperparameters: Hyperparameters,
    reward_source: str | None = None,
    params: Mapping[str, Any] | None = None,
    worker_params: Mapping[int, Mapping[str, Any]] | None = None,
    overwrite: bool = False,
) -> None:
    """Write a run's inputs; existing inputs are kept unless ``overwrite`` (nothing is lost).

    Everything a worker would reject later (reward code, SAC metadata, world and run settings,
    objects that do not fit on the track) is refused here, before anything is written.
    """
    source = reward_source if reward_source is not None else inspect.getsource(default_reward)
    reward_function_from_source(source, REWARD_FUNCTION)  # fail now, not in a worker
    require_trainable(model_metadata)
    base = training_params(prefix, world_name, num_workers, params)
    for settings in [base, *({**base, **extra} for extra in (worker_params or {}).values())]:
        check_objects_fit(WorldConfig.from_params(settings), settings["WORLD_NAME"])
    layout = RunLayout(prefix)
    files = {
        layout.training_params: dump_params(base),
        layout.reward_function: source,
    }
    for worker, extra in (worker_params or {}).items():
        files[layout.worker_training_params(worker)] = dump_params({**base, **extra})
    for key, text in files.items():
        if overwrite or not store.exists(key):
            store.put_text(key, text)
    for key, value in [
        (layout.model_metadata, model_metadata.to_json_dict()),
        (layout.hyperparameters, hyperparameters.to_json_dict()),
    ]:
        if overwrite or not store.exists(key):
            store.put_json(key, value)


def read_params(store: ModelStore, key: str) -> dict[str, str]:
    """A training_params YAML from the store as a dict of strings."""
    text = _required_text(store, key, "the training_params YAML (S3_YAML_NAME)")
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise RunInputError(f"{key} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise RunInputError(f"{key} must be a YAML mapping of KEY: \"value\" lines.")
    return {str(k): "" if v is None else str(v) for k, v in loaded.items()}


def read_model_metadata(store: ModelStore, key: str) -> ModelMetadata:
    """The run's validated model metadata."""
    if not store.exists(key):
        raise RunInputError(f"{key} is missing in {store.url}: upload model_metadata.json first.")
    return load_model_metadata(store.get_json(key))


def read_reward_source(store: ModelStore, key: str) -> str:
    """The run's reward function source code."""
    return _required_text(store, key, "the reward function (REWARD_FILE_S3_KEY)")


def read_hyperparameters(store: ModelStore, prefix: str) -> Hyperparameters:
    """The learner's hyperparameters (defaults for any key that is not given)."""
    key = RunLayout(prefix).hyperparameters
    return load_hyperparameters(store.get_json(key)) if store.exists(key) else Hyperparameters()


def _required_text(store: ModelStore, key: str, what: str) -> str:
    if not store.exists(key):
        raise RunInputError(f"{key} ({what}) is missing in {store.url}; write the run inputs.")
    return store.get_text(key)


def _as_yaml_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
