"""What the workers of a run were told (track, direction, reward function, hyperparameters),
read back from the run's store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markov.formats.layout import RunLayout
from markov.formats.run_inputs import (
    params_key_of_worker,
    read_hyperparameters,
    read_params,
    read_reward_source,
)
from markov.tracks import Track, load_track
from workshop_helpers.experiment import Experiment


@dataclass(frozen=True)
class WorkerSettings:
    """The track and direction one rollout worker drove (its own YAML in multi-config runs)."""

    world_name: str
    reverse_dir: bool
    alternate_direction: bool


@dataclass(frozen=True)
class RunSettings:
    """What the workers of a run were told: track, direction, reward function and the
    hyperparameters (defaults filled in for the keys the learner did not set).

    ``world_name``, ``reverse_dir`` and ``alternate_direction`` are the run's main settings
    (worker 0's); ``workers`` holds every worker's own, which differ in a multi-config run.
    """

    world_name: str
    reverse_dir: bool
    alternate_direction: bool
    reward_source: str | None
    hyperparameters: dict[str, Any]
    workers: dict[int, WorkerSettings] = field(default_factory=dict)

    @property
    def tracks(self) -> dict[int, Track]:
        """``{worker: Track}`` in each worker's direction, for the analysis functions."""
        loaded = {name: load_track(name) for name in {w.world_name for w in self._all().values()}}
        return {
            worker: loaded[own.world_name].reversed() if own.reverse_dir else loaded[own.world_name]
            for worker, own in self._all().items()
        }

    @property
    def multi_track(self) -> bool:
        """Whether the workers drove more than one track or direction."""
        return len({(w.world_name, w.reverse_dir) for w in self._all().values()}) > 1

    def describe_tracks(self) -> str:
        """E.g. ``Workshop_Oval (worker 0), Workshop_Kidney (worker 1)``."""
        groups: dict[str, list[int]] = {}
        for worker, own in sorted(self._all().items()):
            name = own.world_name + (", reversed" if own.reverse_dir else "")
            groups.setdefault(name, []).append(worker)
        return ", ".join(
            f"{name} ({'worker' if len(ws) == 1 else 'workers'} {', '.join(map(str, ws))})"
            for name, ws in groups.items()
        )

    def _all(self) -> dict[int, WorkerSettings]:
        main = WorkerSettings(self.world_name, self.reverse_dir, self.alternate_direction)
        return dict(self.workers) or {0: main}


def run_settings(experiment: Experiment) -> RunSettings:
    """The track, direction, reward function and hyperparameters a run trained with, read
    from its store, and each worker's own track and direction (the YAML it read).

    Falls back to the experiment's track (and no reward source) when the run's
    ``training_params.yaml`` or ``reward_function.py`` is not in the store.
    """
    store, prefix = experiment.open_store(), experiment.prefix
    params_key = RunLayout(prefix).training_params
    params = read_params(store, params_key) if store.exists(params_key) else {}
    main = _worker_settings(params, experiment.world_name)
    workers = {
        worker: _worker_settings(read_params(store, key), main.world_name)
        if (key := params_key_of_worker(store, prefix, worker)) != params_key
        else main
        for worker in range(_worker_count(params))
    }
    reward_key = RunLayout(prefix).reward_function
    return RunSettings(
        world_name=main.world_name,
        reverse_dir=main.reverse_dir,
        alternate_direction=main.alternate_direction,
        reward_source=read_reward_source(store, reward_key) if store.exists(reward_key) else None,
        hyperparameters=read_hyperparameters(store, prefix).to_json_dict(),
        workers=workers,
    )


def _worker_settings(params: Mapping[str, str], default_world: str) -> WorkerSettings:
    return WorkerSettings(
        world_name=params.get("WORLD_NAME") or default_world,
        reverse_dir=_yaml_true(params.get("REVERSE_DIR", "false")),
        alternate_direction=_yaml_true(params.get("ALTERNATE_DRIVING_DIRECTION", "false")),
    )


def _worker_count(params: Mapping[str, str]) -> int:
    try:
        return max(1, int(params.get("NUM_WORKERS", "1")))
    except ValueError:
        return 1


def _yaml_true(value: str) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")
