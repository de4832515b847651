"""World configuration: the training_params.yaml keys that shape an episode.

All YAML values are strings in DeepRacer's templates ("true", "0.05"); they are converted and
validated here, with defaults from docs/simulator-contract.md §6.6 for training or evaluation jobs.

Objects follow DRfC: the obstacle keys act only when ``RACE_TYPE`` is ``OBJECT_AVOIDANCE`` and
the bot-car keys only when it is ``HEAD_TO_BOT`` (other race types validate and ignore them).
Their defaults are DRfC's (6 obstacles, 3 bot cars) and the simapp's (§9).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import yaml

from markov.environment.episode_status import EpisodeStatus

RACE_TYPES = ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT", "HEAD_TO_MODEL", "F1")
BEST_MODEL_METRICS = ("progress", "reward", "laptime")
MAX_EPISODE_STEPS = 100_000
OBSTACLE_TYPES = ("box_obstacle", "deepracer_box_obstacle", "amazon_box_obstacle")
INNER_LANE, OUTER_LANE = 1, -1
"""Lane numbers of ``OBJECT_POSITIONS`` entries ("ndist,lane")."""

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
    BEST_MODEL_METRIC ENABLE_DOMAIN_RANDOMIZATION RACE_DURATION MULTI_CONFIG""".split()
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
    # OBJECT_AVOIDANCE (docs/simulator-contract.md §9.1)
    number_of_obstacles: int = 6
    min_distance_between_obstacles: float = 2.0  # percent of the track length
    randomize_obstacle_locations: bool = False
    is_obstacle_bot_car: bool = False
    obstacle_type: str = "box_obstacle"
    object_positions: tuple[tuple[float, int], ...] = ()  # (ndist, lane); overrides the count
    # HEAD_TO_BOT (§9.2)
    number_of_bot_cars: int = 3
    min_distance_between_bot_cars: float = 2.0  # metres
    randomize_bot_car_locations: bool = False
    bot_car_speed: float = 0.2
    is_lane_change: bool = False
    lower_lane_change_time: float = 3.0
    upper_lane_change_time: float = 5.0
    lane_change_distance: float = 1.0
    penalty_seconds: float = 2.0  # a bot car's pause after it runs into the agent
    # Respawn next to a static obstacle (§6.4), with the simapp's optional "mercy reset".
    reset_behind_dist: float = 1.0
    enable_mercy_reset: bool = False
    reset_ahead_dist: float = 1.0
    max_resets_after_crash: int = 3
    # Noise for robustness (0 = off): on camera images (grey levels) and on the executed
    # command (the reward params still show the commanded steering and speed).
    camera_noise_std: float = 0.0
    steering_noise_std_deg: float = 0.0
    speed_noise_std: float = 0.0

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
            if key == "OBJECT_POSITIONS":
                values["object_positions"] = parse_object_positions(raw)
            elif key in known:
                values[known[key].name] = _convert(key, raw, known[key].type)
            elif key not in PASS_THROUGH_KEYS:
                suggestion = difflib.get_close_matches(
                    key, [*known, *PASS_THROUGH_KEYS], n=1, cutoff=0.75
                )
                hint = f" Did you mean {suggestion[0]!r}?" if suggestion else ""
                raise WorldConfigError(
                    f"Unknown training_params key {key!r}.{hint} Remove it or fix its spelling."
                )
        check_run_settings(params)
        config = cls(**{**defaults, **values})
        config._check()
        return config

    @property
    def obstacle_count(self) -> int:
        """Obstacles in the world: none unless RACE_TYPE is OBJECT_AVOIDANCE."""
        if self.race_type != "OBJECT_AVOIDANCE":
            return 0
        return len(self.object_positions) or self.number_of_obstacles

    @property
    def bot_car_count(self) -> int:
        """Bot cars in the world: none unless RACE_TYPE is HEAD_TO_BOT."""
        return self.number_of_bot_cars if self.race_type == "HEAD_TO_BOT" else 0

    def penalty_for(self, status: EpisodeStatus) -> float:
        """Seconds of pause after a reset rule fires with resets remaining."""
        if status == EpisodeStatus.CRASHED:
            return self.collision_penalty
        if status == EpisodeStatus.REVERSED and self.reverse_penalty is not None:
            return self.reverse_penalty
        if status == EpisodeStatus.IMMOBILIZED and self.immobilized_penalty is not None:
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
        for key, value, low in [
            ("NUMBER_OF_RESETS", self.number_of_resets, 0),
            ("NUMBER_OF_TRIALS", self.number_of_trials, 1),
            ("NUMBER_OF_REVERSE_COUNTS", self.number_of_reverse_counts, 1),
            ("MAX_EPISODE_STEPS", self.max_episode_steps, 1),
        ]:
            if value < low:
                raise WorldConfigError(f"{key} is {value}; use a whole number >= {low}.")
        for key, value in [
            ("OFF_TRACK_PENALTY", self.off_track_penalty),
            ("COLLISION_PENALTY", self.collision_penalty),
            ("REVERSE_PENALTY", self.reverse_penalty or 0.0),
            ("IMMOBILIZED_PENALTY", self.immobilized_penalty or 0.0),
        ]:
            if value < 0:
                raise WorldConfigError(f"{key} is {value}; a penalty is seconds >= 0.")
        for key, value, unit, example in [
            ("CAMERA_NOISE_STD", self.camera_noise_std, "grey levels", "4"),
            ("STEERING_NOISE_STD_DEG", self.steering_noise_std_deg, "degrees", "2"),
            ("SPEED_NOISE_STD", self.speed_noise_std, "m/s", "0.1"),
        ]:
            if not value >= 0:
                raise WorldConfigError(
                    f'{key} is {value}; it is a standard deviation in {unit}: use a value >= 0, '
                    f'e.g. "{example}" ("0" turns the noise off).'
                )
        self._check_objects()

    def _check_objects(self) -> None:
        for key, value in [
            ("NUMBER_OF_OBSTACLES", self.number_of_obstacles),
            ("NUMBER_OF_BOT_CARS", self.number_of_bot_cars),
        ]:
            if value < 0:
                raise WorldConfigError(f"{key} is {value}; use a whole number >= 0 (0 = none).")
        if self.max_resets_after_crash < 1:
            raise WorldConfigError(
                f"MAX_RESETS_AFTER_CRASH is {self.max_resets_after_crash}; use a whole number "
                ">= 1 (crashes into one obstacle before the mercy reset puts the car ahead)."
            )
        if self.obstacle_type not in OBSTACLE_TYPES:
            raise WorldConfigError(
                f"OBSTACLE_TYPE is {self.obstacle_type!r}; use one of {', '.join(OBSTACLE_TYPES)}."
            )
        lower_time = self.lower_lane_change_time
        minimums = [
            ("MIN_DISTANCE_BETWEEN_OBSTACLES", self.min_distance_between_obstacles, 0.0, "%"),
            ("MIN_DISTANCE_BETWEEN_BOT_CARS", self.min_distance_between_bot_cars, 0.0, "m"),
            ("LOWER_LANE_CHANGE_TIME", lower_time, 0.0, "s"),
            ("UPPER_LANE_CHANGE_TIME", self.upper_lane_change_time, lower_time, "s"),
            ("PENALTY_SECONDS", self.penalty_seconds, 0.0, "s"),
            ("RESET_BEHIND_DIST", self.reset_behind_dist, 0.0, "m"),
            ("RESET_AHEAD_DIST", self.reset_ahead_dist, 0.0, "m"),
        ]
        for key, value, low, unit in minimums:
            if not (math.isfinite(value) and value >= low):
                bound = f"{low} {unit}"
                if key == "UPPER_LANE_CHANGE_TIME":
                    bound = f"LOWER_LANE_CHANGE_TIME ({low} s)"
                raise WorldConfigError(f"{key} is {value}; use a finite value >= {bound}.")
        if self.min_distance_between_obstacles >= 100.0:
            raise WorldConfigError(
                f"MIN_DISTANCE_BETWEEN_OBSTACLES is {self.min_distance_between_obstacles}; it is "
                "a percentage of the track length, use a value below 100 (default 2.0)."
            )
        if not (math.isfinite(self.bot_car_speed) and self.bot_car_speed > 0):
            raise WorldConfigError(
                f"BOT_CAR_SPEED is {self.bot_car_speed}; use a speed > 0 m/s (default 0.2; for "
                "parked cars use RACE_TYPE OBJECT_AVOIDANCE with IS_OBSTACLE_BOT_CAR true)."
            )
        if not (math.isfinite(self.lane_change_distance) and self.lane_change_distance > 0):
            raise WorldConfigError(
                f"LANE_CHANGE_DISTANCE is {self.lane_change_distance}; use a distance > 0 m "
                "(default 1.0)."
            )


def check_run_settings(params: Mapping[str, Any]) -> None:
    """Check the keys a training run reads besides the world (they pass through WorldConfig):
    ``MIN_EVAL_TRIALS``, ``BEST_MODEL_METRIC`` and ``NUM_WORKERS``, so a bad value fails when
    the YAML is written or loaded, not inside training."""
    trials = _whole_number(params, "MIN_EVAL_TRIALS", "0 turns the evaluation off; default 5")
    if trials is not None and trials < 0:
        raise WorldConfigError(
            f"MIN_EVAL_TRIALS is {params['MIN_EVAL_TRIALS']!r}; use a whole number >= 0 of "
            "evaluation episodes after each iteration (0 turns the evaluation off; default 5)."
        )
    workers = _whole_number(params, "NUM_WORKERS", "default 1")
    if workers is not None and workers < 1:
        raise WorldConfigError(
            f"NUM_WORKERS is {params['NUM_WORKERS']!r}; use a whole number >= 1 of rollout "
            "workers (default 1)."
        )
    metric = params.get("BEST_MODEL_METRIC")
    if metric is not None and str(metric).strip() not in ("", *BEST_MODEL_METRICS):
        raise WorldConfigError(
            f"BEST_MODEL_METRIC is {metric!r}; use one of {', '.join(BEST_MODEL_METRICS)} "
            "(the evaluation value that picks the best checkpoint; default progress)."
        )


def _whole_number(params: Mapping[str, Any], key: str, default_note: str) -> int | None:
    """A whole-number key of ``params`` (None when absent or empty)."""
    raw = params.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None")):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(raw, bool) or not (math.isfinite(number) and number.is_integer()):
        raise WorldConfigError(f"{key} is {raw!r}; it must be a whole number ({default_note}).")
    return int(number)


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


_POSITIONS_FIX = 'write a list of "ndist,lane" strings, for example ["0.25,1", "0.5,-1"]'


def parse_object_positions(raw: Any) -> tuple[tuple[float, int], ...]:
    """``OBJECT_POSITIONS`` as ((ndist, lane), ...): lane 1 = inner, -1 = outer.

    Accepts a YAML list of "ndist,lane" strings (or [ndist, lane] pairs), the same list as one
    YAML string (``"['0.25,1', '0.5,-1']"``, as training_params files read back as text), or
    entries separated by semicolons (``"0.25,1;0.5,-1"``). Empty means no fixed positions.
    """
    entries = raw
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("", "None", "[]"):
            return ()
        if text.startswith("["):
            try:
                entries = yaml.safe_load(text)
            except yaml.YAMLError:
                entries = None
            if not isinstance(entries, list):
                raise WorldConfigError(f"OBJECT_POSITIONS is {raw!r}; {_POSITIONS_FIX}.")
        else:
            entries = [part for part in text.split(";") if part.strip()]
    elif raw is None:
        return ()
    if not isinstance(entries, list | tuple):
        raise WorldConfigError(f"OBJECT_POSITIONS is {raw!r}; {_POSITIONS_FIX}.")
    return tuple(_object_position(entry) for entry in entries)


def _object_position(entry: Any) -> tuple[float, int]:
    parts = entry.split(",") if isinstance(entry, str) else entry
    fix = (
        'write "ndist,lane" with ndist a fraction of the lap in [0, 1] and lane 1 (inner) '
        'or -1 (outer), for example "0.25,1"'
    )
    try:
        ndist_text, lane_text = parts
        ndist, lane = float(ndist_text), float(lane_text)
    except (TypeError, ValueError):
        raise WorldConfigError(f"OBJECT_POSITIONS entry {entry!r} is not valid; {fix}.") from None
    if not 0.0 <= ndist <= 1.0:
        raise WorldConfigError(
            f"OBJECT_POSITIONS entry {entry!r} has ndist {ndist} outside [0, 1]; {fix}."
        )
    if lane not in (INNER_LANE, OUTER_LANE):
        raise WorldConfigError(f"OBJECT_POSITIONS entry {entry!r} has lane {lane_text}; {fix}.")
    return ndist, int(lane)


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
    if not math.isfinite(number):
        raise WorldConfigError(f"{key} is {raw!r}; it must be a finite number.")
    if kind == "int":
        if number != int(number):
            raise WorldConfigError(f"{key} is {raw!r}; it must be a whole number.")
        return int(number)
    return number
