"""Load and validate `model_metadata.json` (docs/file-formats.md §2).

The file says which action space, sensors, network and physics version a model uses. The
simapp reads it leniently; this loader accepts the same files (console, DRfC and DeepRacer on
AWS variants, with the same defaults) but rejects values that would make a run meaningless,
with an error that names the field, the value and the fix.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markov.environment.action_space import (
    TRAINING_ALGORITHMS,
    ActionSpace,
    ContinuousActionSpace,
    DiscreteActionSpace,
)

CAMERA_SENSORS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS", "observation")
LIDAR_SENSORS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
NEURAL_NETWORKS = (
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "DEEP_CONVOLUTIONAL_NETWORK",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
)
ACTION_SPACE_TYPES = ("discrete", "continuous")
KNOWN_KEYS = (
    "action_space",
    "action_space_type",
    "training_algorithm",
    "sensor",
    "neural_network",
    "version",
    "lidar_config",
    "preprocess_type",
    "regional_parameters",
)

MIN_SPEED_MPS, MAX_SPEED_MPS = 0.1, 4.0
MIN_STEERING_DEG, MAX_STEERING_DEG = -30.0, 30.0
LIDAR_RAY_COUNT = 64
MIN_CLIPPING_DIST_M, MAX_CLIPPING_DIST_M = 0.15, 12.0

BUILTIN_DEFAULT_ACTIONS: tuple[tuple[float, float], ...] = (
    (45.0, 0.8),
    (-45.0, 0.8),
    (0.0, 0.8),
    (22.5, 0.8),
    (-22.5, 0.8),
    (0.0, 0.4),
)
"""The simapp's actions when a file has no `action_space` (`markov/defaults.py`). Their ±45°
exceeds the ±30° steering check; they are exempt from it because the simapp ships them (the
car's physical command is clipped to ±30° anyway)."""

_TYPO_CUTOFF = 0.8


class ModelMetadataError(ValueError):
    """A model_metadata.json value the simulator cannot use."""


@dataclass(frozen=True)
class LidarConfig:
    """How LIDAR rays are grouped (`lidar_config`): sectors, values per sector, range."""

    num_sectors: int = 8
    num_values_per_sector: int = 8
    clipping_dist: float = 2.0

    def __post_init__(self) -> None:
        sectors = self.num_sectors
        if not _is_int(sectors) or sectors < 1 or LIDAR_RAY_COUNT % sectors != 0:
            raise ModelMetadataError(
                f"lidar_config.num_sectors is {sectors!r}; it must divide {LIDAR_RAY_COUNT}: "
                "use 1, 2, 4, 8, 16, 32 or 64 (default 8)"
            )
        values = self.num_values_per_sector
        if not _is_int(values) or values < 1:
            raise ModelMetadataError(
                f"lidar_config.num_values_per_sector is {values!r}; use a whole number >= 1 "
                "(default 8)"
            )
        distance = self.clipping_dist
        if not _is_number(distance) or not (MIN_CLIPPING_DIST_M <= distance <= MAX_CLIPPING_DIST_M):
            raise ModelMetadataError(
                f"lidar_config.clipping_dist is {distance!r}; use a distance in metres between "
                f"{MIN_CLIPPING_DIST_M} and {MAX_CLIPPING_DIST_M} (default 2.0)"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the `lidar_config` object as written in model_metadata.json."""
        return {
            "num_sectors": self.num_sectors,
            "num_values_per_sector": self.num_values_per_sector,
            "clipping_dist": self.clipping_dist,
        }


@dataclass(frozen=True)
class ModelMetadata:
    """A validated model_metadata.json."""

    action_space: ActionSpace
    action_space_type: str
    training_algorithm: str
    sensors: tuple[str, ...]
    neural_network: str
    version: int
    lidar_config: LidarConfig | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """Return the file layout of docs/file-formats.md §2 (discrete items carry `index`,
        `version` is a string as in DRfC), ready for `json.dump`."""
        space = self.action_space
        if isinstance(space, DiscreteActionSpace):
            action_space: Any = [
                {"steering_angle": steering, "speed": speed, "index": index}
                for index, (steering, speed) in enumerate(space.actions)
            ]
        else:
            action_space = {
                "steering_angle": {"low": space.steering_low, "high": space.steering_high},
                "speed": {"low": space.speed_low, "high": space.speed_high},
            }
        document: dict[str, Any] = {
            "action_space": action_space,
            "sensor": list(self.sensors),
            "neural_network": self.neural_network,
            "training_algorithm": self.training_algorithm,
            "action_space_type": self.action_space_type,
            "version": str(self.version),
        }
        if self.lidar_config is not None:
            document["lidar_config"] = self.lidar_config.to_dict()
        return document


def default_model_metadata() -> ModelMetadata:
    """The workshop default: front camera, shallow network, clipped PPO, version 5, and five
    discrete actions (steering -30, -15, 0, 15, 30 degrees) all at 1.0 m/s.

    DRfC's default uses 0.6 m/s; 1.0 m/s is chosen here so a car completes laps sooner in
    short workshop training runs while staying slow enough to learn the corners.
    """
    actions = [(steering, 1.0) for steering in (-30.0, -15.0, 0.0, 15.0, 30.0)]
    return ModelMetadata(
        action_space=DiscreteActionSpace(actions),
        action_space_type="discrete",
        training_algorithm="clipped_ppo",
        sensors=("FRONT_FACING_CAMERA",),
        neural_network="DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        version=5,
    )


def load_model_metadata(source: Mapping[str, Any] | str | os.PathLike[str]) -> ModelMetadata:
    """Validate model metadata given as a parsed dict or as the path of a JSON file."""
    if isinstance(source, Mapping):
        return _parse(source)
    if not isinstance(source, str | os.PathLike):
        raise ModelMetadataError(
            f"model_metadata must be a dict or the path of model_metadata.json, "
            f"got a {type(source).__name__}"
        )
    path = Path(source)
    document = _read_json(path)
    try:
        return _parse(document)
    except ModelMetadataError as error:
        raise ModelMetadataError(f"{path}: {error}") from None


def _read_json(path: Path) -> Mapping[str, Any]:
    """Read a JSON object from `path`, with errors that point at the file and line."""
    if not path.is_file():
        raise ModelMetadataError(
            f"model_metadata file {str(path)!r} does not exist; pass the path of your "
            "model_metadata.json (or a dict with its contents)"
        )
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        lines = text.splitlines()
        line = lines[error.lineno - 1] if 0 < error.lineno <= len(lines) else ""
        raise ModelMetadataError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column "
            f"{error.colno}:\n    {line}\n    {' ' * (error.colno - 1)}^\n"
            "fix the JSON syntax (commas, quotes, brackets) on or just before that line"
        ) from None
    if not isinstance(document, Mapping):
        raise ModelMetadataError(
            f"{path} must hold a JSON object ({{...}}) of model metadata keys, "
            f"got a {type(document).__name__}"
        )
    return document


def require_trainable(metadata: ModelMetadata) -> None:
    """Refuse a model this engine cannot train or run: only Clipped PPO is implemented.

    SAC model metadata loads (it is a valid DeepRacer file), but training it as Clipped PPO
    would silently be a different model, so workers and the notebooks stop with this error.
    """
    if metadata.training_algorithm != "clipped_ppo":
        raise ModelMetadataError(
            f"training_algorithm is {metadata.training_algorithm!r}; this engine trains "
            "Clipped PPO only (SAC is not implemented). Set training_algorithm to "
            "'clipped_ppo': it trains the same continuous or discrete action space."
        )


def _parse(data: Mapping[str, Any]) -> ModelMetadata:
    """Apply the simapp's defaults and this product's checks to a parsed file."""
    _reject_typos(data)
    sensors = _parse_sensors(data["sensor"]) if "sensor" in data else ("observation",)
    if "version" in data:
        version = _parse_version(data["version"])
    else:
        version = 2 if "sensor" in data else 1
    neural_network = _choice(
        data, "neural_network", NEURAL_NETWORKS, "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    )
    algorithm = _choice(data, "training_algorithm", TRAINING_ALGORITHMS, "clipped_ppo")
    action_space_type, action_space = _parse_action_space(data, algorithm)
    return ModelMetadata(
        action_space=action_space,
        action_space_type=action_space_type,
        training_algorithm=algorithm,
        sensors=sensors,
        neural_network=neural_network,
        version=version,
        lidar_config=_parse_lidar_config(data, sensors),
    )


def _reject_typos(data: Mapping[str, Any]) -> None:
    """Reject an unknown key that looks like a misspelt known key the file lacks; the
    misspelt value would otherwise be silently replaced by a default."""
    for key in data:
        if key in KNOWN_KEYS or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=_TYPO_CUTOFF)
        if close and close[0] not in data:
            raise ModelMetadataError(
                f"unknown key {key!r}: did you mean {close[0]!r}? Rename the key, or the "
                "default is used"
            )


def _suggestion(value: str, choices: Sequence[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, ignoring case, or ''."""
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def _choice(data: Mapping[str, Any], key: str, choices: Sequence[str], default: str) -> str:
    """Return data[key] if it is one of `choices`, `default` if absent, else raise."""
    value = data.get(key, default)
    if value in choices:
        return value
    hint = _suggestion(value, choices) if isinstance(value, str) else ""
    raise ModelMetadataError(
        f"{key} is {value!r}{hint}; use one of: {', '.join(choices)} (default {default})"
    )


def _parse_sensors(value: Any) -> tuple[str, ...]:
    """Check the `sensor` list: one camera, at most one LIDAR, no unknown names."""
    example = '["FRONT_FACING_CAMERA"]'
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ModelMetadataError(f"sensor is {value!r}; it must be a list such as {example}")
    known = CAMERA_SENSORS + LIDAR_SENSORS
    for name in value:
        if name not in known:
            hint = _suggestion(name, known) if isinstance(name, str) else ""
            raise ModelMetadataError(
                f"sensor contains unknown name {name!r}{hint}; use one camera of "
                f"{', '.join(CAMERA_SENSORS)} and optionally one of {', '.join(LIDAR_SENSORS)}"
            )
    cameras = [name for name in value if name in CAMERA_SENSORS]
    lidars = [name for name in value if name in LIDAR_SENSORS]
    if len(cameras) != 1:
        found = " and ".join(cameras) if cameras else "none"
        raise ModelMetadataError(
            f"sensor must contain exactly one camera, found {found}; keep one of "
            f"{', '.join(CAMERA_SENSORS)}, e.g. {example}"
        )
    if len(lidars) > 1:
        raise ModelMetadataError(
            f"sensor may contain at most one LIDAR, found {' and '.join(lidars)}; keep one"
        )
    return tuple(value)


def _parse_version(value: Any) -> int:
    """Accept the version as an int (DRoA) or a string (console, DRfC)."""
    number: float | None = None
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not number.is_integer() or number < 1:
        raise ModelMetadataError(
            f'version is {value!r}; use a whole physics version number such as "5" '
            "(5 or later selects the calibrated car physics)"
        )
    return int(number)


def _parse_action_space(data: Mapping[str, Any], algorithm: str) -> tuple[str, ActionSpace]:
    """Infer or check `action_space_type`, then build the action space it describes."""
    raw = data.get("action_space")
    if raw is None:
        shape_type = "discrete"
    elif isinstance(raw, Mapping):
        shape_type = "continuous"
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        shape_type = "discrete"
    else:
        raise ModelMetadataError(
            f"action_space is {raw!r}; use a list of {{steering_angle, speed}} items "
            "(discrete) or {steering_angle: {low, high}, speed: {low, high}} (continuous)"
        )
    declared = data.get("action_space_type")
    if declared is not None:
        declared = _choice(data, "action_space_type", ACTION_SPACE_TYPES, "discrete")
        if declared != shape_type:
            described = (
                "missing, so the built-in discrete default applies"
                if raw is None
                else f"a {'dict' if shape_type == 'continuous' else 'list'} (a {shape_type} space)"
            )
            raise ModelMetadataError(
                f"action_space_type is {declared!r} but action_space is {described}; set "
                f"action_space_type to {shape_type!r} or give action_space in the "
                f"{declared} layout"
            )
    if algorithm == "sac" and shape_type == "discrete":
        raise ModelMetadataError(
            "training_algorithm is 'sac' but the action space is discrete. SAC needs a "
            "continuous action space: set action_space_type to continuous and action_space "
            "to {steering_angle: {low, high}, speed: {low, high}}, or use clipped_ppo"
        )
    if raw is None:
        return "discrete", DiscreteActionSpace(BUILTIN_DEFAULT_ACTIONS)
    if shape_type == "continuous":
        return "continuous", _parse_continuous(raw, algorithm)
    return "discrete", _parse_discrete(raw)


def _parse_discrete(items: Sequence[Any]) -> DiscreteActionSpace:
    """Check every {steering_angle, speed[, index]} item of a discrete action space."""
    if len(items) == 0:
        raise ModelMetadataError(
            "action_space is an empty list; add at least one "
            '{"steering_angle": <degrees>, "speed": <m/s>} item'
        )
    actions = []
    for position, item in enumerate(items):
        field = f"action_space[{position}]"
        if not isinstance(item, Mapping):
            raise ModelMetadataError(
                f'{field} is {item!r}; use {{"steering_angle": <degrees>, "speed": <m/s>}}'
            )
        for key in ("steering_angle", "speed"):
            if key not in item:
                raise ModelMetadataError(
                    f"{field} has no {key!r} (item {dict(item)!r}); add "
                    f'"{key}": <{"degrees" if key == "steering_angle" else "m/s"}>'
                )
        if "index" in item and (not _is_int(item["index"]) or item["index"] != position):
            raise ModelMetadataError(
                f"{field}.index is {item['index']!r} but the item is at position {position}; "
                "number the items 0, 1, 2, ... in list order, or drop the index keys"
            )
        actions.append(
            (
                _number(item["steering_angle"], f"{field}.steering_angle"),
                _number(item["speed"], f"{field}.speed"),
            )
        )
    if tuple(actions) != BUILTIN_DEFAULT_ACTIONS:
        for position, (steering, speed) in enumerate(actions):
            _check_steering(steering, f"action_space[{position}].steering_angle")
            _check_speed(speed, f"action_space[{position}].speed")
    return DiscreteActionSpace(actions)


def _parse_continuous(raw: Mapping[str, Any], algorithm: str) -> ContinuousActionSpace:
    """Check the {steering_angle: {low, high}, speed: {low, high}} box."""
    steering_low, steering_high = _parse_bounds(raw, "steering_angle", _check_steering)
    speed_low, speed_high = _parse_bounds(raw, "speed", _check_speed)
    return ContinuousActionSpace(steering_low, steering_high, speed_low, speed_high, algorithm)


def _parse_bounds(
    raw: Mapping[str, Any], quantity: str, check_range: Callable[[float, str], None]
) -> tuple[float, float]:
    """Return the checked (low, high) of one continuous dimension."""
    limits = raw.get(quantity)
    if not isinstance(limits, Mapping) or "low" not in limits or "high" not in limits:
        raise ModelMetadataError(
            f"action_space.{quantity} is {limits!r}; a continuous action space needs "
            f'"{quantity}": {{"low": <number>, "high": <number>}}'
        )
    low = _number(limits["low"], f"action_space.{quantity}.low")
    high = _number(limits["high"], f"action_space.{quantity}.high")
    check_range(low, f"action_space.{quantity}.low")
    check_range(high, f"action_space.{quantity}.high")
    if low > high:
        raise ModelMetadataError(
            f"action_space.{quantity}.low ({low}) is greater than "
            f"action_space.{quantity}.high ({high}); swap the two values"
        )
    return low, high


def _parse_lidar_config(data: Mapping[str, Any], sensors: Sequence[str]) -> LidarConfig | None:
    """Return the given lidar_config, the defaults when a LIDAR has none, else None."""
    raw = data.get("lidar_config")
    if raw is None:
        has_lidar = any(name in LIDAR_SENSORS for name in sensors)
        return LidarConfig() if has_lidar else None
    if not isinstance(raw, Mapping):
        raise ModelMetadataError(
            f"lidar_config is {raw!r}; use "
            '{"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0}'
        )
    defaults = LidarConfig()
    return LidarConfig(
        num_sectors=raw.get("num_sectors", defaults.num_sectors),
        num_values_per_sector=raw.get("num_values_per_sector", defaults.num_values_per_sector),
        clipping_dist=raw.get("clipping_dist", defaults.clipping_dist),
    )


def _is_number(value: Any) -> bool:
    """True for finite ints and floats, excluding booleans."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    """True for ints, excluding booleans."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, field: str) -> float:
    """Return `value` as a float, or raise naming `field`."""
    if not _is_number(value):
        raise ModelMetadataError(f"{field} is {value!r}; it must be a finite number (no quotes)")
    return float(value)


def _check_speed(speed: float, field: str) -> None:
    """Reject speeds the console would not allow (0.1–4.0 m/s)."""
    if not MIN_SPEED_MPS <= speed <= MAX_SPEED_MPS:
        raise ModelMetadataError(
            f"{field} is {speed} m/s; use a speed between {MIN_SPEED_MPS} and {MAX_SPEED_MPS} m/s"
        )


def _check_steering(steering: float, field: str) -> None:
    """Reject steering angles beyond the car's ±30° limit."""
    if not MIN_STEERING_DEG <= steering <= MAX_STEERING_DEG:
        raise ModelMetadataError(
            f"{field} is {steering} degrees; use an angle between {MIN_STEERING_DEG} and "
            f"{MAX_STEERING_DEG} degrees"
        )
