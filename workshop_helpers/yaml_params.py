"""The simulation YAML files (training_params.yaml and friends): fill, validate and write them.

The four templates in ``src/artifacts/yaml`` hold every key with its template value, as quoted
strings. They also define what kind of value each key takes: a template value "true"/"false"
marks a boolean, "0" a whole number and "2.0" a number. The engine decides the rest: the keys a
training run reads come from ``markov.formats.run_inputs.training_params``, the world keys are
checked by ``WorldConfig.from_params`` and track names by ``markov.tracks``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from markov.environment.objects import check_objects_fit
from markov.environment.world_config import PASS_THROUGH_KEYS, WorldConfig, WorldConfigError
from markov.formats.layout import (
    EVALUATION_PARAMS_NAME,
    TRAINING_PARAMS_NAME,
    RunLayout,
    format_run_timestamp,
)
from markov.formats.run_inputs import (
    dump_params,
    read_params,
    training_params,
)
from markov.races.settings import EvaluationSettings
from markov.tracks import available_tracks, load_track
from markov.tracks.official import resolve_route_file
from workshop_helpers.budget import workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.paths import artifacts_dir

TEMPLATE_KINDS = ("training", "evaluation", "head2head", "tournament")
EVALUATION_PARAMS = EVALUATION_PARAMS_NAME
RACE_TYPE_DEFAULTS: dict[str, dict[str, str]] = {
    "TIME_TRIAL": {},
    "OBJECT_AVOIDANCE": {"NUMBER_OF_OBSTACLES": "6"},
    "HEAD_TO_BOT": {"NUMBER_OF_BOT_CARS": "3"},
}
"""What the workshop changes in the template for each race type it trains."""

RACE_WORLD_KEYS = (
    "RACE_TYPE",
    "NUMBER_OF_OBSTACLES",
    "MIN_DISTANCE_BETWEEN_OBSTACLES",
    "RANDOMIZE_OBSTACLE_LOCATIONS",
    "IS_OBSTACLE_BOT_CAR",
    "OBSTACLE_TYPE",
    "OBJECT_POSITIONS",
    "NUMBER_OF_BOT_CARS",
    "MIN_DISTANCE_BETWEEN_BOT_CARS",
    "RANDOMIZE_BOT_CAR_LOCATIONS",
    "BOT_CAR_SPEED",
    "IS_LANE_CHANGE",
    "LOWER_LANE_CHANGE_TIME",
    "UPPER_LANE_CHANGE_TIME",
    "LANE_CHANGE_DISTANCE",
    "PENALTY_SECONDS",
)
"""Training keys that make the race a model was trained for; its evaluation keeps them."""

ONE_CAR_LIST_KEYS = ("OBJECT_POSITIONS",)
"""List-valued keys of a one-car file; the engine reads them back from the written text."""

_BOOLEAN, _INTEGER, _NUMBER, _TEXT = "boolean", "whole number", "number", "text"


class ParamsError(ValueError):
    """A simulation YAML key or value the simulator cannot use."""


def load_template(kind: str) -> dict[str, Any]:
    """A fresh copy of one template: "training", "evaluation", "head2head" or "tournament"."""
    if kind not in TEMPLATE_KINDS:
        raise ParamsError(f"template kind is {kind!r}; use one of {', '.join(TEMPLATE_KINDS)}")
    return copy.deepcopy(_templates()[kind])


def training_params_for(
    experiment: Experiment,
    world_name: str | None = None,
    race_type: str = "TIME_TRIAL",
    num_workers: int = 1,
    **overrides: Any,
) -> dict[str, str]:
    """training_params.yaml for this experiment, validated.

    The template is filled as in the workshop notebook (buckets, MP4 keys, race-type defaults);
    the keys the engine reads come from ``markov.formats.run_inputs.training_params`` so workers
    find the run's files; ``overrides`` (YAML key = value) are applied last. ``world_name`` defaults
    to the experiment's track.
    """
    _check_workers(num_workers)
    prefix, bucket = experiment.prefix, experiment.bucket
    params = load_template("training")
    params.update(
        {
            "SAGEMAKER_SHARED_S3_BUCKET": bucket,
            "METRICS_S3_BUCKET": bucket,
            "SIMTRACE_S3_BUCKET": bucket,
            "MP4_S3_BUCKET": bucket,
            "MP4_S3_OBJECT_PREFIX": RunLayout(prefix).training_video_folder,
            **RACE_TYPE_DEFAULTS.get(race_type, {}),
        }
    )
    world = world_name or experiment.world_name
    params.update(
        training_params(prefix, world, num_workers, {"RACE_TYPE": race_type, **overrides})
    )
    validate_params(params)
    return params


def trained_world_params(experiment: Experiment) -> dict[str, str]:
    """The race keys the experiment trained with (``RACE_WORLD_KEYS`` of its training YAML in
    the store, else of ``runs/<id>/training_params.yaml``); {} before either exists."""
    store, key = experiment.open_store(), RunLayout(experiment.prefix).training_params
    if store.exists(key):
        trained: Mapping[str, Any] = read_params(store, key)
    else:
        path = experiment.input_path(TRAINING_PARAMS_NAME)
        trained = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    return {key: trained[key] for key in RACE_WORLD_KEYS if key in trained}


def evaluation_params_for(
    experiment: Experiment,
    world_name: str | None = None,
    number_of_trials: int = 3,
    race_type: str | None = None,
    timestamp: datetime | str | None = None,
    **overrides: Any,
) -> dict[str, str]:
    """evaluation_params.yaml for this experiment's model, validated.

    The race is the one the model trained for: its race type and object settings
    (``trained_world_params``) unless ``race_type`` names another; the workshop budget's
    evaluation keys come next and ``overrides`` last. Results go where DRfC puts them, so
    deepracer-utils finds them next to the training files: ``<prefix>/evaluation-<id>/``
    (simtrace) and ``<prefix>/metrics/`` (metrics). ``timestamp`` (default now, UTC) names that
    evaluation run; the evaluation jobs started from this YAML each fill in their own id.
    """
    prefix, bucket = experiment.prefix, experiment.bucket
    layout = RunLayout(prefix)
    stamp = format_run_timestamp(timestamp or datetime.now(UTC))
    trained = trained_world_params(experiment)
    race_type = race_type or trained.get("RACE_TYPE") or "TIME_TRIAL"
    params = load_template("evaluation")
    params.update(
        {
            "WORLD_NAME": world_name or experiment.world_name,
            "MODEL_S3_BUCKET": bucket,
            "MODEL_S3_PREFIX": prefix,
            "MODEL_METADATA_FILE_S3_KEY": layout.model_metadata,
            "METRICS_S3_BUCKET": bucket,
            "METRICS_S3_OBJECT_KEY": layout.evaluation_metrics(stamp),
            "SIMTRACE_S3_BUCKET": bucket,
            "SIMTRACE_S3_PREFIX": layout.evaluation_folder(stamp),
            "MP4_S3_BUCKET": bucket,
            "MP4_S3_OBJECT_PREFIX": layout.evaluation_video_folder,
            "NUMBER_OF_TRIALS": _as_yaml_string(number_of_trials),
            **RACE_TYPE_DEFAULTS.get(race_type, {}),
            **trained,
            "RACE_TYPE": race_type,
            **workshop_budget().evaluation_params,
        }
    )
    params.update({key: _as_yaml_string(value) for key, value in overrides.items()})
    validate_params(params)
    return params


def head_to_head_params_for(
    experiments: Sequence[Experiment],
    world_name: str | None = None,
    number_of_trials: int = 3,
    race_type: str = "HEAD_TO_MODEL",
    **overrides: Any,
) -> dict[str, Any]:
    """The head2head YAML for two or more experiments' models racing on one track, validated.

    Per-car keys are lists in the order of ``experiments`` (the first model is the
    experiment whose evaluations list the race); the world keys are one value for the race.
    The models must live in one store, where the one evaluation job can read them all.
    """
    if len(experiments) < 2:
        raise ParamsError(f"a head-to-head race needs two or more experiments, got {experiments!r}")
    stores = {experiment.store_url for experiment in experiments}
    if len(stores) > 1:
        raise ParamsError(
            f"the experiments keep their models in different stores ({', '.join(sorted(stores))}); "
            "race models of one backend and store"
        )
    params = load_template("head2head")
    count = len(experiments)
    for key, value in params.items():
        if isinstance(value, list):
            params[key] = [value[index % len(value)] for index in range(count)]
    params.update(
        {
            "WORLD_NAME": world_name or experiments[0].world_name,
            "MODEL_S3_BUCKET": [e.bucket for e in experiments],
            "MODEL_S3_PREFIX": [e.prefix for e in experiments],
            "MODEL_METADATA_FILE_S3_KEY": [RunLayout(e.prefix).model_metadata for e in experiments],
            "METRICS_S3_BUCKET": [e.bucket for e in experiments],
            "SIMTRACE_S3_BUCKET": [e.bucket for e in experiments],
            "MP4_S3_BUCKET": [e.bucket for e in experiments],
            "MP4_S3_OBJECT_PREFIX": [
                RunLayout(e.prefix).evaluation_video_folder for e in experiments
            ],
            "DISPLAY_NAME": [_racer_name(e) for e in experiments],
            "RACER_NAME": [_racer_name(e) for e in experiments],
            "MODEL_NAME": [e.id for e in experiments],
            "NUMBER_OF_TRIALS": _as_yaml_string(number_of_trials),
            "RACE_TYPE": race_type,
            **workshop_budget().evaluation_params,
        }
    )
    params.update({key: _as_yaml_string(value) for key, value in overrides.items()})
    validate_params(params)
    return params


def validate_params(params: Mapping[str, Any]) -> None:
    """Raise ParamsError naming the key, the value and the fix for anything the simulator
    cannot use: unknown keys, values that are not strings or not of the key's kind, an unknown
    track or race type, world and run settings out of range (MIN_EVAL_TRIALS,
    BEST_MODEL_METRIC, NUM_WORKERS), and obstacles or bot cars that do not fit on the track."""
    if not isinstance(params, Mapping):
        raise ParamsError(f"params must be a mapping of YAML keys to strings, got {params!r}")
    for key, value in params.items():
        _check_key(key)
        for item in value if isinstance(value, list) else [value]:
            _check_value(key, item)
    _check_world_name(params.get("WORLD_NAME"))
    world_keys = {key: value for key, value in params.items() if key in _world_config_keys()}
    try:
        if params.get("JOB_TYPE") == "EVALUATION":  # read as the evaluation worker reads it
            world = EvaluationSettings.from_params(world_keys).world
        else:
            world = WorldConfig.from_params(world_keys)
        check_objects_fit(world, params["WORLD_NAME"])
    except WorldConfigError as error:
        raise ParamsError(str(error)) from None


def write_params(
    experiment: Experiment,
    params: Mapping[str, Any],
    name: str = TRAINING_PARAMS_NAME,
    overwrite: bool = False,
) -> Path:
    """Validate and save ``params`` as ``runs/<id>/<name>`` with every value a quoted string.

    Writes one car's settings (training or evaluation): per-car lists (head-to-head,
    tournament) are refused; OBJECT_POSITIONS may be a list.
    """
    if Path(name).name != name or not name.endswith(".yaml"):
        raise ParamsError(
            f"name is {name!r}; use a plain file name such as {TRAINING_PARAMS_NAME!r}"
        )
    validate_params(params)
    for key, value in params.items():
        if isinstance(value, list) and key not in ONE_CAR_LIST_KEYS:
            raise ParamsError(
                f"{key} is a list {value!r}; write_params writes one car's settings, so give "
                f"{key} a single quoted string"
            )
    return experiment.write_input(name, dump_params(params), overwrite)


@cache
def _templates() -> dict[str, dict[str, Any]]:
    folder = artifacts_dir() / "yaml"
    return {
        kind: yaml.safe_load((folder / f"{kind}_yaml_template.yaml").read_text(encoding="utf-8"))
        for kind in TEMPLATE_KINDS
    }


@cache
def _key_kinds() -> dict[str, str]:
    """The kind of value each template key takes, read from its template value."""
    kinds: dict[str, str] = {}
    for template in _templates().values():
        for key, value in template.items():
            kinds[key] = _kind_of(value[0] if isinstance(value, list) else value)
    return kinds


@cache
def _world_config_keys() -> frozenset[str]:
    fields = {field.name.upper() for field in dataclasses.fields(WorldConfig)}
    return frozenset(fields | PASS_THROUGH_KEYS)


def _kind_of(template_value: str) -> str:
    if template_value in ("true", "false"):
        return _BOOLEAN
    if template_value.isdigit():
        return _INTEGER
    try:
        float(template_value)
    except ValueError:
        return _TEXT
    return _NUMBER


def _check_key(key: Any) -> None:
    known = set(_key_kinds()) | _world_config_keys()
    if isinstance(key, str) and key in known:
        return
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ParamsError(
        f"unknown key {key!r}; {hint}Fix its spelling or remove it (the simulator only reads "
        "the keys of docs/file-formats.md §1)"
    )


def _check_value(key: str, value: Any) -> None:
    if value is None:
        raise ParamsError(f'{key} has no value; write {key}: "" for an empty value')
    if not isinstance(value, str):
        raise ParamsError(
            f"{key} is {value!r} ({type(value).__name__}); write it as a quoted string, "
            f'{key}: "{_as_yaml_string(value)}", so the simulator reads it exactly as written'
        )
    kind = _key_kinds().get(key, _TEXT)
    if kind == _BOOLEAN and value.strip().lower() not in ("true", "false"):
        raise ParamsError(f'{key} is {value!r}; it is a yes/no setting: use "true" or "false"')
    if kind in (_INTEGER, _NUMBER):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (kind == _INTEGER and not number.is_integer()):
            example = "3" if kind == _INTEGER else "0.05"
            raise ParamsError(
                f'{key} is {value!r}; it must be a {kind} in quotes, e.g. "{example}"'
            )


def _check_world_name(world_name: Any) -> None:
    example = f"e.g. {available_tracks()[0]!r}"
    if not isinstance(world_name, str) or not world_name.strip():
        raise ParamsError(f"WORLD_NAME is {world_name!r}; set it to a track name, {example}")
    if world_name in available_tracks():
        return
    is_path = world_name.endswith(".npy") or "/" in world_name
    try:
        if is_path:
            load_track(world_name)
        else:
            resolve_route_file(world_name, download=False)
    except (OSError, ValueError) as error:
        raise ParamsError(f"WORLD_NAME is {world_name!r}: {error}") from None


def _check_workers(num_workers: int) -> None:
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ParamsError(f"num_workers is {num_workers!r}; use a whole number of workers >= 1")


def _racer_name(experiment: Experiment) -> str:
    """The name part of the experiment id (``two-workers`` of ``two-workers-<time>-<hex>``)."""
    return experiment.id.rsplit("-", 3)[0]


def _as_yaml_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
