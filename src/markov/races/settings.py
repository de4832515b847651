"""The settings of one evaluation, read once from the evaluation YAML (docs/file-formats.md §1.2).

``EvaluationSettings`` is built from the YAML keys (``from_params``) or directly, checked when
it is built, and handed whole to ``evaluate`` (one car) and ``race`` (head-to-head), which give
the environment of every car ``env_params()``. Its ``world`` is the ``WorldConfig`` those
params make, for everyone who needs the penalties, the start line or the objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from markov.environment.world_config import WorldConfig, WorldConfigError

DEFAULT_NUMBER_OF_TRIALS = 10
"""The simapp's NUMBER_OF_TRIALS when the evaluation YAML has none."""

SETTING_KEYS = (
    "NUMBER_OF_TRIALS",
    "IS_CONTINUOUS",
    "NUMBER_OF_RESETS",
    "OFF_TRACK_PENALTY",
    "COLLISION_PENALTY",
    "REVERSE_DIR",
    "RACE_TYPE",
)
"""The evaluation YAML keys that are fields of ``EvaluationSettings`` (lower-cased)."""

JOB_KEYS = frozenset(
    {"MODEL_S3_PREFIX", "EVAL_CHECKPOINT", "METRICS_S3_OBJECT_KEY", "REWARD_FILE_S3_KEY"}
)
"""Evaluation YAML keys that say which model to load and where its files go: the evaluation
job reads them per model; they are not handed to the environment."""


@dataclass(frozen=True)
class EvaluationSettings:
    """How an evaluation is driven: trials, resets and their penalties, race and world keys.

    ``world_params`` holds the other world keys of the YAML (``START_POSITION_OFFSET``,
    ``NUMBER_OF_OBSTACLES``, ...), as the YAML gives them. Building the settings checks every
    value the way the environment will (``WorldConfigError`` naming the key, the value and the
    fix).
    """

    number_of_trials: int = 1
    is_continuous: bool = False
    number_of_resets: int = 0
    off_track_penalty: float = 2.0
    collision_penalty: float = 5.0
    reverse_dir: bool = False
    race_type: str = "TIME_TRIAL"
    world_params: Mapping[str, Any] = field(default_factory=dict)
    world: WorldConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        trials = self.number_of_trials
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise WorldConfigError(f"NUMBER_OF_TRIALS is {trials!r}; use a whole number >= 1")
        clashes = sorted(set(self.world_params) & set(SETTING_KEYS))
        if clashes:
            raise WorldConfigError(
                f"world_params repeats {clashes}; set them as the fields "
                f"{[key.lower() for key in clashes]} instead"
            )
        object.__setattr__(self, "world_params", MappingProxyType(dict(self.world_params)))
        object.__setattr__(self, "world", WorldConfig.from_params(self.env_params(), True))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EvaluationSettings:
        """The settings of an evaluation YAML (values as strings, as in the templates, or as
        values); ``JOB_KEYS`` are left out, NUMBER_OF_TRIALS defaults to the simapp's 10."""
        params = {"NUMBER_OF_TRIALS": str(DEFAULT_NUMBER_OF_TRIALS), **params}
        world_params = {key: value for key, value in params.items() if key not in JOB_KEYS}
        world = WorldConfig.from_params(world_params, evaluation=True)
        return cls(
            number_of_trials=world.number_of_trials,
            is_continuous=world.is_continuous,
            number_of_resets=world.number_of_resets,
            off_track_penalty=world.off_track_penalty,
            collision_penalty=world.collision_penalty,
            reverse_dir=world.reverse_dir,
            race_type=world.race_type,
            world_params={
                key: value for key, value in world_params.items() if key not in SETTING_KEYS
            },
        )

    @property
    def episodes(self) -> int:
        """Episodes per car: one of every lap when continuous, else one per trial."""
        return 1 if self.is_continuous else self.number_of_trials

    def env_params(self) -> dict[str, Any]:
        """The params of every car's ``DeepRacerRacetrackEnv`` in this evaluation."""
        return {
            **self.world_params,
            "NUMBER_OF_TRIALS": self.number_of_trials,
            "IS_CONTINUOUS": bool(self.is_continuous),
            "NUMBER_OF_RESETS": self.number_of_resets,
            "OFF_TRACK_PENALTY": self.off_track_penalty,
            "COLLISION_PENALTY": self.collision_penalty,
            "REVERSE_DIR": bool(self.reverse_dir),
            "RACE_TYPE": self.race_type,
        }
