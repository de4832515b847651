"""Clipped PPO hyperparameters, network names and the trainer's synchronisation type.

The values and names follow the DeepRacer simapp (`sagemaker_graph_manager`) so that a
`hyperparameters.json` written for the original workshop, DeepRacer for Cloud or DeepRacer on
AWS loads unchanged. SageMaker passes every hyperparameter as a string; `from_mapping` parses
strings and numbers alike.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Mapping
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any


class HyperparameterError(ValueError):
    """A hyperparameter is unknown, has the wrong type or lies outside its allowed range."""


class SyncType(Enum):
    """How rollout workers and the trainer exchange policies (Coach's synchronisation type).

    SYNC (the default): every worker plays with checkpoint k and the trainer waits for all of
    their episodes before publishing checkpoint k+1. ASYNC: workers keep playing with the newest
    checkpoint they have while the trainer updates.
    """

    SYNC = "sync"
    ASYNC = "async"


SYNC_TYPE: SyncType = SyncType.SYNC
"""The training's synchronisation, the simapp preset's setting that the trainer and every rollout
worker read when they start. Change it here to change every run (the bundle carries this file to
AWS); ``SYNC_TYPE_VARIABLE`` in a run's environment overrides it for that run only."""

SYNC_TYPE_VARIABLE = "DISTRIBUTED_COACH_SYNCHRONIZATION_TYPE"


class NeuralNetwork(StrEnum):
    """The `neural_network` values of `model_metadata.json`."""

    SHALLOW = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    STANDARD = "DEEP_CONVOLUTIONAL_NETWORK"
    DEEP = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"

    @classmethod
    def parse(cls, value: str) -> NeuralNetwork:
        """Return the member named by `value`, or raise an error listing the three names."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(member.value for member in cls)
            raise HyperparameterError(
                f"neural_network={value!r} is not a DeepRacer network; use one of {names}"
            ) from None


class ExplorationType(StrEnum):
    """How training picks actions: sample the policy, or ε-greedy around it."""

    CATEGORICAL = "categorical"
    E_GREEDY = "e-greedy"


class LossType(StrEnum):
    """The value-function loss."""

    HUBER = "huber"
    MEAN_SQUARED_ERROR = "mean squared error"


# Keys SageMaker, DRfC and DRoA send next to the model hyperparameters. They configure the
# infrastructure, not the learner, so they are accepted and ignored.
INFRASTRUCTURE_KEYS: frozenset[str] = frozenset(
    {
        "s3_bucket",
        "s3_prefix",
        "aws_region",
        "model_metadata_s3_key",
        "reward_function_s3_source",
        "pretrained_s3_bucket",
        "pretrained_s3_prefix",
        "s3_endpoint_url",
        "pretrained_checkpoint",
        "RLCOACH_PRESET",
        "max_sample_count",
        "sampling_frequency",
        "heartbeat_s3_location",
        "kinesis_stream_name",
        "s3_kms_cmk_arn",
        "s3_ros_log_bucket",
        "s3_yaml_name",
        "simulation_launch_file",
        "track_direction_clockwise",
        "world_name",
    }
)

MAX_MEMORY_STEPS_SHALLOW = 10_000
MAX_MEMORY_STEPS_OTHER = 3_000
MAX_MEMORY_STEPS_ENV_VAR = "MAX_MEMORY_STEPS"


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one hyperparameter is parsed, checked and explained."""

    kind: type
    low: float | None
    high: float | None
    allowed: str
    fix: str
    meaning: str
    low_open: bool = False


_RULES: dict[str, _Rule] = {
    "batch_size": _Rule(
        kind=int,
        low=1,
        high=None,
        allowed="an integer >= 1",
        fix="use a positive integer; 32 to 512 works well (64 is the default)",
        meaning=(
            "Transitions per gradient step; iterations with fewer transitions use the largest "
            "power of two that fits."
        ),
    ),
    "num_epochs": _Rule(
        kind=int,
        low=1,
        high=100,
        allowed="an integer from 1 to 100",
        fix="use 3 to 10 as DeepRacer on AWS allows (10 is the default)",
        meaning="How many passes the update makes over the experience of one iteration.",
    ),
    "stack_size": _Rule(
        kind=int,
        low=1,
        high=None,
        allowed="an integer >= 1",
        fix="use 1; camera frames are never stacked, as in the simapp",
        meaning=(
            "Frames stacked per observation; the simapp fixes it at 1 for cameras, so it has no "
            "effect."
        ),
    ),
    "lr": _Rule(
        kind=float,
        low=0.0,
        high=1e-2,
        low_open=True,
        allowed="a number in (0, 0.01]",
        fix="use a small positive rate such as 0.0003 (DeepRacer on AWS allows 1e-8 to 1e-3)",
        meaning="Adam learning rate: how far each gradient step moves the weights.",
    ),
    "exploration_type": _Rule(
        kind=ExplorationType,
        low=None,
        high=None,
        allowed="'categorical' or 'e-greedy'",
        fix="use 'categorical' (sample from the policy) or 'e-greedy'",
        meaning=(
            "How training picks actions: sample the policy (categorical) or take a random action "
            "with probability epsilon (e-greedy)."
        ),
    ),
    "e_greedy_value": _Rule(
        kind=float,
        low=0.0,
        high=1.0,
        allowed="a number in [0, 1]",
        fix="use a probability such as 0.05",
        meaning=(
            "Final epsilon of e-greedy exploration; only used when exploration_type is e-greedy "
            "(the workshop's '1' would mean always random there)."
        ),
    ),
    "epsilon_steps": _Rule(
        kind=int,
        low=0,
        high=None,
        allowed="an integer >= 0",
        fix="use a non-negative number of environment steps such as 10000",
        meaning="Environment steps over which e-greedy epsilon falls from 1.0 to e_greedy_value.",
    ),
    "beta_entropy": _Rule(
        kind=float,
        low=0.0,
        high=1.0,
        allowed="a number in [0, 1]",
        fix="use a small weight such as 0.01",
        meaning="Weight of the entropy bonus: larger values keep the policy exploring for longer.",
    ),
    "discount_factor": _Rule(
        kind=float,
        low=0.0,
        high=1.0,
        allowed="a number in [0, 1]",
        fix="use a value close to 1 such as 0.999",
        meaning="How much future rewards count compared with the immediate reward.",
    ),
    "loss_type": _Rule(
        kind=LossType,
        low=None,
        high=None,
        allowed="'huber' or 'mean squared error'",
        fix="use 'huber' or 'mean squared error'",
        meaning=(
            "Loss between predicted state values and their targets; Huber is less sensitive to "
            "large errors."
        ),
    ),
    "num_episodes_between_training": _Rule(
        kind=int,
        low=1,
        high=1000,
        allowed="an integer from 1 to 1000",
        fix="use 10, 20 or 40 as the workshop recommends",
        meaning="Episodes the workers play with one policy before each policy update.",
    ),
    "term_cond_max_episodes": _Rule(
        kind=int,
        low=1,
        high=None,
        allowed="an integer >= 1",
        fix="use a positive number of training iterations",
        meaning="Maximum number of training iterations (policy updates), despite the name.",
    ),
    "term_cond_avg_score": _Rule(
        kind=float,
        low=None,
        high=None,
        allowed="a number",
        fix="use a number such as 100000.0",
        meaning="Training stops once the average evaluation score reaches this value.",
    ),
    "sac_alpha": _Rule(
        kind=float,
        low=0.0,
        high=None,
        allowed="a number >= 0",
        fix="use a non-negative entropy weight such as 0.2",
        meaning="Entropy weight of SAC; unused by Clipped PPO and kept so SAC files load.",
    ),
}


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """The learner's hyperparameters, defaulting to the 400-level workshop's values.

    `e_greedy_value` keeps the simapp default 0.05: the workshop notebook sends "1", which only
    matters under e-greedy exploration, where it would mean every action is random.
    `stack_size` is accepted but camera frames are never stacked, as in the simapp.
    """

    batch_size: int = 64
    num_epochs: int = 10
    stack_size: int = 1
    lr: float = 0.0003
    exploration_type: ExplorationType = ExplorationType.CATEGORICAL
    e_greedy_value: float = 0.05
    epsilon_steps: int = 10_000
    beta_entropy: float = 0.01
    discount_factor: float = 0.999
    loss_type: LossType = LossType.HUBER
    num_episodes_between_training: int = 20
    term_cond_max_episodes: int = 100_000
    term_cond_avg_score: float = 100_000.0
    sac_alpha: float = 0.2

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = _parse_value(field.name, getattr(self, field.name))
            object.__setattr__(self, field.name, value)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Hyperparameters:
        """Build from SageMaker-style values (strings or numbers); absent keys keep defaults."""
        known = {}
        for key, value in mapping.items():
            if key in _RULES:
                known[key] = value
            elif key not in INFRASTRUCTURE_KEYS:
                raise HyperparameterError(_unknown_key_message(key))
        return cls(**known)

    def to_json_dict(self) -> dict[str, int | float | str]:
        """The resolved values as written to `ip/hyperparameters.json`."""
        result: dict[str, int | float | str] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            result[field.name] = str(value) if isinstance(value, StrEnum) else value
        return result


def load_hyperparameters(source: Mapping[str, Any] | str | os.PathLike[str]) -> Hyperparameters:
    """Load hyperparameters from a mapping or from a `hyperparameters.json` file."""
    if isinstance(source, Mapping):
        return Hyperparameters.from_mapping(source)
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise HyperparameterError(
            f"{path} is not valid JSON ({error}); write the hyperparameters as a JSON object"
        ) from None
    if not isinstance(data, dict):
        raise HyperparameterError(
            f"{path} holds a JSON {type(data).__name__}; write the hyperparameters as a JSON object"
        )
    return Hyperparameters.from_mapping(data)


def describe_hyperparameters() -> list[dict[str, Any]]:
    """One row per hyperparameter: name, default, allowed range and what it means."""
    defaults = Hyperparameters().to_json_dict()
    return [
        {"name": name, "default": defaults[name], "allowed": rule.allowed, "meaning": rule.meaning}
        for name, rule in _RULES.items()
    ]


def max_memory_steps(neural_network: str, env: Mapping[str, str] = os.environ) -> int:
    """Transitions the trainer keeps per iteration: 10,000 for the shallow network, else 3,000.

    The environment variable MAX_MEMORY_STEPS overrides the rule, as in the simapp.
    """
    network = NeuralNetwork.parse(neural_network)
    override = env.get(MAX_MEMORY_STEPS_ENV_VAR)
    if override is not None:
        try:
            steps = int(override)
        except ValueError:
            steps = 0
        if steps < 1:
            raise HyperparameterError(
                f"{MAX_MEMORY_STEPS_ENV_VAR}={override!r} is not a positive integer; set it to a "
                "number of transitions such as 10000, or unset it"
            )
        return steps
    return MAX_MEMORY_STEPS_SHALLOW if network is NeuralNetwork.SHALLOW else MAX_MEMORY_STEPS_OTHER


# Names learners bring from other RL libraries, and the DeepRacer name they mean.
_ALIASES = {
    "learning_rate": "lr",
    "epochs": "num_epochs",
    "n_epochs": "num_epochs",
    "gamma": "discount_factor",
    "entropy_coefficient": "beta_entropy",
    "ent_coef": "beta_entropy",
    "minibatch_size": "batch_size",
    "episodes": "num_episodes_between_training",
}


def _unknown_key_message(key: str) -> str:
    suggestions = difflib.get_close_matches(key, list(_RULES) + sorted(INFRASTRUCTURE_KEYS), n=1)
    if key in _ALIASES:
        hint = f"DeepRacer calls it {_ALIASES[key]!r}."
    elif suggestions:
        hint = f"did you mean {suggestions[0]!r}?"
    else:
        hint = "remove it."
    return f"unknown hyperparameter {key!r}; {hint} Known names: {', '.join(_RULES)}"


def _parse_value(name: str, raw: Any) -> Any:
    rule = _RULES[name]
    if issubclass(rule.kind, StrEnum):
        return _parse_enum(name, raw, rule)
    value = _parse_number(name, raw, rule)
    too_low = rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low)
    too_high = rule.high is not None and value > rule.high
    if too_low or too_high:
        raise _invalid(name, raw, rule)
    return value


def _parse_enum(name: str, raw: Any, rule: _Rule) -> StrEnum:
    if not isinstance(raw, str):
        raise _invalid(name, raw, rule)
    text = " ".join(raw.strip().lower().split())
    text = text.replace("_", " ") if rule.kind is LossType else text.replace("_", "-")
    try:
        return rule.kind(text)
    except ValueError:
        raise _invalid(name, raw, rule) from None


def _parse_number(name: str, raw: Any, rule: _Rule) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _invalid(name, raw, rule)
    try:
        number = float(raw)
    except ValueError:
        raise _invalid(name, raw, rule) from None
    if not math.isfinite(number):
        raise _invalid(name, raw, rule)
    if rule.kind is float:
        return number
    if not number.is_integer():
        raise _invalid(name, raw, rule)
    return int(number)


def _invalid(name: str, raw: Any, rule: _Rule) -> HyperparameterError:
    return HyperparameterError(f"{name}={raw!r} is invalid: it must be {rule.allowed}; {rule.fix}")
