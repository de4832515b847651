"""Which errors end a worker for good, and how they read in its failure block.

A reward function that fails, or an input the worker rejects (model metadata, world settings,
hyperparameters, track, a worker variable), fails the same way after every restart. Workers
catch these, print :func:`describe_failure`'s text through
:func:`markov.workers.failure.report_deterministic_failure` and exit with
:data:`~markov.workers.failure.EXIT_DETERMINISTIC_FAILURE`. Anything else (a store that cannot be
reached, a missing file the trainer has not written yet) stays an ordinary crash a restart may
fix.
"""

from __future__ import annotations

from markov.environment.model_metadata import ModelMetadataError
from markov.environment.reward_function import RewardFunctionError
from markov.environment.reward_watchdog import RewardLimitsError
from markov.environment.world_config import WorldConfigError
from markov.presets.preset import HyperparameterError
from markov.tracks.official import TrackNotFoundError
from markov.tracks.route import RouteFileError
from markov.workers.config import WorkerConfigError
from markov.workers.failure import report_deterministic_failure

_WHAT_FAILED: tuple[tuple[type[BaseException], str], ...] = (
    (RewardFunctionError, "the reward function failed"),
    (ModelMetadataError, "the model metadata (model_metadata.json) cannot be used"),
    (WorldConfigError, "a world setting (training_params YAML) cannot be used"),
    (HyperparameterError, "a hyperparameter (hyperparameters.json) cannot be used"),
    (TrackNotFoundError, "the track (WORLD_NAME) cannot be found"),
    (RouteFileError, "the track file (WORLD_NAME) cannot be used"),
    (WorkerConfigError, "a worker environment variable cannot be used"),
    (RewardLimitsError, "a reward limit variable cannot be used"),
)

DETERMINISTIC_ERRORS: tuple[type[BaseException], ...] = tuple(kind for kind, _ in _WHAT_FAILED)
"""Errors a restart of the worker cannot fix."""


def describe_failure(worker: str, error: BaseException) -> str:
    """The failure block's text: which worker stopped and why, then the error's own message
    (for a reward function: its message, the learner's traceback and the params)."""
    what = next(
        (text for kind, text in _WHAT_FAILED if isinstance(error, kind)), "its input is invalid"
    )
    return f"{worker} stopped: {what}.\n{error}"


def report_failure(worker: str, error: BaseException) -> int:
    """Print the failure block for ``error`` and return the exit code to end with."""
    return report_deterministic_failure(describe_failure(worker, error))
