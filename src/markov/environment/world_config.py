"""World configuration: the training_params.yaml keys that shape an episode.

All YAML values are strings in DeepRacer's templates ("true", "0.05"); they are converted and
validated here, with defaults from simulator-contract.md §6.6 for training or evaluation jobs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

RACE_TYPES = ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT", "HEAD_TO_MODEL", "F1")
BEST_MODEL_METRICS = ("progress", "reward", "laptime")
MAX_EPISODE_STEPS = 100_000

# Keys that appear in DeepRacer YAML files but do not change the simulated world. They are
# accepted (so a real training_params.yaml loads unchanged) and ignored by the environment.
PASS_THROUGH_KEYS = frozenset(
    """JOB_TYPE WORLD_NAME SAGEMAKER_SHARED_S3_BUCKET SAGEMAKER_SHARED_S3_PREFIX TRAINING_JOB_ARN
    METRICS_S3_BUCKET METRICS_S3_OBJECT_KEY METRICS_S3_PREFIX SIMTRACE_S3_BUCKET SIMTRACE_S3_PREFIX
    SIMTRACE_EPISODE_S3_PREFIX AWS_REGION TARGET_REWARD_SCORE NUMBER_OF_EPISODES
    ROBOMAKER_SIMULATION_JOB_ACCOUNT_ID KINESIS_VIDEO_STREAM_NAME REWARD_FILE_S3_KEY
    MODEL_METADATA_FILE_S3_KEY CAR_COLOR CAR_NAME BODY_SHELL_TYPE NUM_WORKERS MP4_S3_BUCKET
    MP4_S3_OBJECT_PREFIX VIDEO_JOB_TYPE DISPLAY_NAME RACER_NAME MODEL_NAME LEADERBOARD_TYPE
    LEADERBOARD_NAME MODEL_S3_BUCKET MODEL_S3_PREFIX EVAL_CHECKPOINT CAMERA_MAIN_ENABLE
    CAMERA_SUB_ENABLE ENABLE_EXTRA_KVS_OVERLAY ENABLE_KINESIS ENABLE_GUI ENABLE_EPISODE_SIMTRACE
    HEARTBEAT_S3_LOCATION S3_ENDPOINT_URL ROLLOUT_IDX TRACK_DIRECTION_CLOCKWISE METRIC_NAME
    METRIC_NAMESPACE SQS_QUEUE_URL KINESIS_WEBRTC_SIGNALING_CHANNEL_NAME MIN_EVAL_TRIALS
    BEST_MODEL_METRIC ENABLE_DOMAIN_RANDOMIZATION RACE_DURATION MULTI_CONFIG
    NUMBER_OF_OBSTACLES MIN_DISTANCE_BETWEEN_OBSTACLES RANDOMIZE_OBSTACLE_LOCATIONS
    IS_OBSTACLE_BOT_CAR OBSTACLE_TYPE OBJECT_POSITIONS NUMBER_OF_BOT_CARS IS_LANE_CHANGE
    LOWER_LANE_CHANGE_TIME UPPER_LANE_CHANGE_TIME LANE_CHANGE_DISTANCE
    MIN_DISTANCE_BETWEEN_BOT_CARS RANDOMIZE_BOT_CAR_LOCATIONS BOT_CAR_SPEED
    RESET_BEHIND_DIST""".split()
)


class WorldConfigError(ValueError):
    """A training_params key has a value the simulator cannot use."""


@dataclass(frozen=True)
class WorldConfig:
    """Episode-shaping settings, already converted from YAML strings."""

    race_type: str = "TIME_TRIAL"
    change_start_position: bool = True
    round_robin_advance_dist: float = 0.05
    start_position_offset: float = 0.0
    alternate_driving_direction: bool = False
    reverse_dir: bool = False
    number_of_resets: int = 0
    off_track_penalty: float = 0.0
    collision_penalty: float = 0.0
    reverse_penalty: float | None = None
    immobilized_penalty: float | None = None
    is_continuous: bool = False
    number_of_trials: int = 1
    number_of_reverse_counts: int = 15
    max_episode_steps: int = MAX_EPISODE_STEPS

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None, evaluation: bool = False) -> WorldConfig:
        """Build from training_params.yaml keys; ``evaluation`` selects evaluation defaults."""
        params = dict(params or {})
        defaults = _EVALUATION_DEFAULTS if evaluation else {}
        values: dict[str, Any] = {}
        known = {f.name.upper(): f for f in fields(cls)}
        for key, raw in params.items():
            if not isinstance(key, str):
                raise WorldConfigError(f"training_params key {key!r} must be a string")
            if key in known:
                values[known[key].name] = _convert(key, raw, known[key].type)
            elif key not in PASS_THROUGH_KEYS:
                suggestion = difflib.get_close_matches(
                    key, [*known, *PASS_THROUGH_KEYS], n=1, cutoff=0.75
                )
                hint = f" Did you mean {suggestion[0]!r}?" if suggestion else ""
                raise WorldConfigError(
                    f"Unknown training_params key {key!r}.{hint} Remove it or fix its spelling."
                )
        config = cls(**{**defaults, **values})
        config._check()
        return config

    def penalty_for(self, status: str) -> float:
        """Seconds of pause after a reset rule fires with resets remaining."""
        if status == "crashed":
            return self.collision_penalty
        if status == "reversed" and self.reverse_penalty is not None:
            return self.reverse_penalty
        if status == "immobilized" and self.immobilized_penalty is not None:
            return self.immobilized_penalty
        return self.off_track_penalty

    def _check(self) -> None:
        if self.race_type not in RACE_TYPES:
            raise WorldConfigError(
                f"RACE_TYPE is {self.race_type!r}; use one of {', '.join(RACE_TYPES)}."
            )
        checks = [
            ("ROUND_ROBIN_ADVANCE_DIST", self.round_robin_advance_dist, 0.0, 1.0),
            ("START_POSITION_OFFSET", self.start_position_offset, 0.0, 1.0),
        ]
        for key, value, low, high in checks:
            if not low <= value <= high:
                raise WorldConfigError(
                    f"{key} is {value}; it is a fraction of a lap, use a value in [{low}, {high}]."
                )
        for key, value in [
            ("NUMBER_OF_RESETS", self.number_of_resets),
            ("NUMBER_OF_TRIALS", self.number_of_trials - 1),
            ("NUMBER_OF_REVERSE_COUNTS", self.number_of_reverse_counts - 1),
            ("MAX_EPISODE_STEPS", self.max_episode_steps - 1),
        ]:
            if value < 0:
                raise WorldConfigError(f"{key} must be a positive whole number; check its value.")
        for key, value in [
            ("OFF_TRACK_PENALTY", self.off_track_penalty),
            ("COLLISION_PENALTY", self.collision_penalty),
            ("REVERSE_PENALTY", self.reverse_penalty or 0.0),
            ("IMMOBILIZED_PENALTY", self.immobilized_penalty or 0.0),
        ]:
            if value < 0:
                raise WorldConfigError(f"{key} is {value}; a penalty is seconds >= 0.")


_EVALUATION_DEFAULTS: dict[str, Any] = {
    "change_start_position": False,
    "off_track_penalty": 2.0,
    "collision_penalty": 5.0,
}


def parse_bool(key: str, raw: Any) -> bool:
    """YAML booleans arrive as strings ("true", "False") or as real booleans."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise WorldConfigError(f'{key} is {raw!r}; use "true" or "false".')


def _convert(key: str, raw: Any, annotation: Any) -> Any:
    kind = str(annotation)
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None")):
        if "None" in kind:
            return None
        raise WorldConfigError(f"{key} is empty; give it a value or remove the key.")
    if kind == "bool":
        return parse_bool(key, raw)
    if kind == "str":
        return str(raw).strip()
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise WorldConfigError(f"{key} is {raw!r}; it must be a number.") from None
    if kind == "int":
        if number != int(number):
            raise WorldConfigError(f"{key} is {raw!r}; it must be a whole number.")
        return int(number)
    return number
