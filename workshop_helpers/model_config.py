"""The model the learner chooses in notebook 01: action space, sensors, network, hyperparameters.

The builders here only assemble the dicts; every check is the engine's (``load_model_metadata``
and ``load_hyperparameters``), so an error names the field, the value and the fix exactly as a
training worker would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from markov.environment.model_metadata import (
    CAMERA_SENSORS,
    LIDAR_SENSORS,
    NEURAL_NETWORKS,
    ModelMetadata,
    load_model_metadata,
    require_trainable,
)
from markov.formats.layout import HYPERPARAMETERS_NAME, MODEL_METADATA_NAME
from markov.presets.preset import Hyperparameters, describe_hyperparameters, load_hyperparameters
from workshop_helpers.experiment import Experiment
from workshop_helpers.paths import artifact_file, artifact_names

MODEL_METADATA_FILE = MODEL_METADATA_NAME
HYPERPARAMETERS_FILE = HYPERPARAMETERS_NAME
PHYSICS_VERSION = "5"
"""Physics version written into new files: 5 or later selects the calibrated car model."""


def discrete_action_space(
    steering_levels: int, max_steering: float, speeds: Sequence[float]
) -> list[dict[str, float]]:
    """Every combination of symmetric steering levels and the given speeds, steering first.

    The levels are spread evenly from ``-max_steering`` to ``+max_steering``: 5 levels at 30
    give -30, -15, 0, 15, 30. An odd count includes straight ahead (0); an even count does not
    (4 levels at 30 give -30, -10, 10, 30), so the car can never drive perfectly straight.
    1 level means straight ahead only.
    """
    if isinstance(steering_levels, bool) or not isinstance(steering_levels, int):
        raise ValueError(f"steering_levels is {steering_levels!r}; use a whole number such as 5")
    if steering_levels < 1:
        raise ValueError(f"steering_levels is {steering_levels}; use at least 1 (e.g. 3, 5 or 7)")
    if (
        isinstance(max_steering, bool)
        or not isinstance(max_steering, int | float)
        or not (max_steering >= 0)
    ):
        raise ValueError(
            f"max_steering is {max_steering!r}; give the largest angle in degrees as a positive "
            "number (e.g. 30): the levels are mirrored to the left and the right"
        )
    if isinstance(speeds, str) or len(speeds) == 0:
        raise ValueError(f"speeds is {speeds!r}; give a list of speeds in m/s, e.g. [1.0, 2.0]")
    if steering_levels == 1:
        angles = [0.0]
    else:
        step = 2.0 * max_steering / (steering_levels - 1)
        angles = [round(-max_steering + i * step, 2) + 0.0 for i in range(steering_levels)]
    return [{"steering_angle": angle, "speed": speed} for angle in angles for speed in speeds]


def continuous_action_space(
    min_steering: float = -30.0,
    max_steering: float = 30.0,
    min_speed: float = 0.5,
    max_speed: float = 2.0,
) -> dict[str, dict[str, float]]:
    """A continuous steering (degrees) x speed (m/s) box in the model_metadata.json layout."""
    return {
        "steering_angle": {"low": min_steering, "high": max_steering},
        "speed": {"low": min_speed, "high": max_speed},
    }


def make_model_metadata(
    sensors: str | Sequence[str],
    neural_network: str,
    action_space: Sequence[Mapping[str, float]] | Mapping[str, Mapping[str, float]],
    training_algorithm: str = "clipped_ppo",
    lidar_config: Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Assemble model_metadata.json and validate it with the engine (errors name the field)."""
    document: dict[str, Any] = {
        "action_space": action_space,
        "sensor": [sensors] if isinstance(sensors, str) else list(sensors),
        "neural_network": neural_network,
        "training_algorithm": training_algorithm,
        "action_space_type": "continuous" if isinstance(action_space, Mapping) else "discrete",
        "version": PHYSICS_VERSION,
    }
    if lidar_config is not None:
        document["lidar_config"] = dict(lidar_config)
    metadata = load_model_metadata(document)
    require_trainable(metadata)
    return metadata


def list_action_presets() -> list[str]:
    """Names of the action-space presets in ``src/artifacts/actions``."""
    return artifact_names("actions", ".json")


def load_action_preset(name: str) -> ModelMetadata:
    """A preset (e.g. "console_default"), validated by the engine."""
    return load_model_metadata(artifact_file("actions", name, ".json", "action preset"))


def write_model_metadata(
    experiment: Experiment,
    metadata: ModelMetadata | Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Validate and save the model as ``runs/<id>/model_metadata.json`` (a model this engine
    cannot train, such as SAC, is refused)."""
    model = metadata if isinstance(metadata, ModelMetadata) else load_model_metadata(metadata)
    require_trainable(model)
    text = json.dumps(model.to_json_dict(), indent=2) + "\n"
    return experiment.write_input(MODEL_METADATA_FILE, text, overwrite)


def write_hyperparameters(
    experiment: Experiment,
    hyperparameters: Mapping[str, Any] | Hyperparameters,
    overwrite: bool = False,
) -> Path:
    """Validate and save the resolved hyperparameters as ``runs/<id>/hyperparameters.json``.

    Keys that are not given keep the workshop defaults; the file lists every value used.
    """
    resolved = (
        hyperparameters
        if isinstance(hyperparameters, Hyperparameters)
        else load_hyperparameters(hyperparameters)
    )
    text = json.dumps(resolved.to_json_dict(), indent=2) + "\n"
    return experiment.write_input(HYPERPARAMETERS_FILE, text, overwrite)


def hyperparameter_table(
    hyperparameters: Mapping[str, Any] | Hyperparameters | None = None,
) -> list[dict[str, Any]]:
    """One row per hyperparameter: name, current value, default, allowed values and meaning.

    The current values are those given (validated by the engine), else the defaults.
    """
    if hyperparameters is None:
        current = Hyperparameters()
    elif isinstance(hyperparameters, Hyperparameters):
        current = hyperparameters
    else:
        current = load_hyperparameters(hyperparameters)
    values = current.to_json_dict()
    return [
        {
            "name": row["name"],
            "current": values[row["name"]],
            "default": row["default"],
            "allowed": row["allowed"],
            "meaning": row["meaning"],
        }
        for row in describe_hyperparameters()
    ]


def sensor_choices() -> dict[str, tuple[str, ...]]:
    """The sensor names: pick exactly one camera and at most one LIDAR."""
    return {"camera": CAMERA_SENSORS, "lidar": LIDAR_SENSORS}


def network_choices() -> tuple[str, ...]:
    """The ``neural_network`` names, the shallow default first."""
    return NEURAL_NETWORKS
