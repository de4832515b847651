"""Check and save the learner's reward function, and offer the reward examples.

Before a reward function is saved it is compiled and called once by the engine, on the params of
a real simulator step: the experiment's track, race type and model, one PREPARE step and one RUN
step driven by a scripted centre-line driver. A mistake therefore shows up in the notebook, with
the engine's message, instead of in a training worker minutes later.
"""

from __future__ import annotations

import difflib
import html
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from markov.environment.deepracer_racetrack_env import DEFAULT_TRACK, DeepRacerRacetrackEnv
from markov.environment.model_metadata import ModelMetadata, load_model_metadata
from markov.environment.reward_function import RewardFunctionError, reward_function_from_source
from markov.environment.scripted import CenterLineDriver
from markov.formats.run_inputs import REWARD_FUNCTION, TRAINING_PARAMS
from markov.rewards import default as default_reward
from workshop_helpers.experiment import Experiment
from workshop_helpers.model_config import MODEL_METADATA_FILE
from workshop_helpers.paths import artifact_file, artifact_names, shown_path

DEFAULT_REWARD_EXAMPLE = "follow_center_line"
"""The reward example that is the engine's default reward (``markov.rewards.default``): runs
without a reward function and learners who load this example get the same function."""

TRIAL_SPEED_MPS = 1.0


@dataclass(frozen=True)
class RewardCheck:
    """The outcome of checking a reward function: ok with the trial reward, or the error."""

    ok: bool
    message: str
    reward: float | None = None
    saved_to: Path | None = None

    def __repr__(self) -> str:
        if not self.ok:
            return f"Reward function has a problem: {self.message}"
        saved = f"; saved to {shown_path(self.saved_to)}" if self.saved_to is not None else ""
        return f"Reward function OK: {self.message}{saved}"

    def _repr_html_(self) -> str:
        colour, title = (
            ("#1a7f37", "Reward function OK")
            if self.ok
            else ("#cf222e", "Reward function has a problem")
        )
        saved = (
            f"<br>Saved to <code>{html.escape(shown_path(self.saved_to))}</code>"
            if (self.ok and self.saved_to is not None)
            else ""
        )
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 8px">'
            f'<b style="color:{colour}">{title}</b>'
            f'<pre style="white-space:pre-wrap">{html.escape(self.message)}</pre>{saved}</div>'
        )


def check_reward_function(
    source: str,
    world_name: str = DEFAULT_TRACK,
    model_metadata: ModelMetadata | None = None,
    params: Mapping[str, Any] | None = None,
) -> RewardCheck:
    """Compile ``source`` and call its ``reward_function`` on the params of one RUN step.

    ``params``: training_params keys that shape the world, e.g. {"RACE_TYPE":
    "OBJECT_AVOIDANCE"} so the step has obstacles for a reward function that looks at them.
    """
    try:
        reward_fn = reward_function_from_source(source, REWARD_FUNCTION)
    except RewardFunctionError as error:
        return RewardCheck(ok=False, message=str(error))
    env = DeepRacerRacetrackEnv(
        world_name,
        model_metadata=model_metadata,
        params=params,
        sensors=(),
    )
    env.reset(seed=0)
    race_type = env.config.race_type
    driver = CenterLineDriver(speed=TRIAL_SPEED_MPS)
    env.step(driver.act(env))  # PREPARE: the car does not move and no reward is asked
    _, _, _, _, info = env.step(driver.act(env))
    try:
        reward = reward_fn(info["params"])
    except RewardFunctionError as error:
        return RewardCheck(ok=False, message=str(error))
    return RewardCheck(
        ok=True,
        message=f"returned {reward:g} on a test step ({race_type} on {world_name})",
        reward=reward,
    )


def write_reward_function(
    experiment: Experiment,
    source: str,
    overwrite: bool = False,
    params: Mapping[str, Any] | None = None,
) -> RewardCheck:
    """Check ``source``, then save it as ``runs/<id>/reward_function.py``; a function that
    fails the check is not saved.

    The trial step uses the experiment's model (``model_metadata.json`` when written) and the
    world of ``params``, by default the experiment's ``training_params.yaml`` when written
    (track, race type, obstacles), else a time trial on the experiment's track.
    """
    path = experiment.input_path(REWARD_FUNCTION)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists and holds your earlier reward function; pass "
            "overwrite=True to replace it"
        )
    metadata_path = experiment.input_path(MODEL_METADATA_FILE)
    metadata = load_model_metadata(metadata_path) if metadata_path.is_file() else None
    if params is None:
        params = _training_params(experiment)
    world_name = params.get("WORLD_NAME") or experiment.world_name
    check = check_reward_function(source, world_name, metadata, params)
    if not check.ok:
        return check
    saved = experiment.write_input(REWARD_FUNCTION, source, overwrite=overwrite)
    return RewardCheck(ok=True, message=check.message, reward=check.reward, saved_to=saved)


def list_reward_examples() -> list[str]:
    """Names of the reward examples: ``DEFAULT_REWARD_EXAMPLE`` and those in
    ``src/artifacts/rewards``."""
    return sorted({DEFAULT_REWARD_EXAMPLE, *artifact_names("rewards", ".py")})


def load_reward_example(name: str) -> str:
    """The source code of a reward example (e.g. "follow_center_line"), ready to edit."""
    stem = name.removesuffix(".py")
    if stem == DEFAULT_REWARD_EXAMPLE:
        return inspect.getsource(default_reward)
    if stem not in list_reward_examples():
        close = difflib.get_close_matches(stem, list_reward_examples(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise FileNotFoundError(
            f"no reward example {name!r}; {hint}Available: {', '.join(list_reward_examples())}"
        )
    return artifact_file("rewards", stem, ".py", "reward example").read_text(encoding="utf-8")


def _training_params(experiment: Experiment) -> dict[str, Any]:
    path = experiment.input_path(TRAINING_PARAMS)
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}
