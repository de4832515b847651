"""Episode batches: how rollout workers hand their experience to the trainer through the store.

One batch is one compressed .npz file per worker and iteration, read back with
allow_pickle=False, so no pickle ever crosses the store. Inside, episode i uses the arrays
`ep<i>/obs/<sensor>`, `ep<i>/actions`, `ep<i>/rewards` and `ep<i>/extra/<name>`, all with the
same first dimension T (the number of steps); `metadata` holds one JSON string per episode.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from markov.formats.layout import RunLayout
from markov.store import ModelStore

BATCH_FORMAT = "deepracer-workshop-episodes/1"
_FORMAT_KEY = "format"
_METADATA_KEY = "metadata"


class InvalidEpisode(ValueError):
    """An episode handed to save_episode_batch has inconsistent or unsupported arrays."""


class CorruptEpisodeFile(ValueError):
    """A stored episode batch is truncated, corrupt or not in the expected format."""


@dataclass
class EpisodeArrays:
    """One episode of T steps as arrays, plus JSON-serialisable metadata.

    `observations` maps a sensor name (e.g. FRONT_FACING_CAMERA) to a (T, ...) array.
    `actions` is (T,) int64 for discrete action spaces or (T, 2) float32 for continuous ones.
    `rewards` is (T,) float32. `extras` holds further per-step (T, ...) arrays a trainer may
    need (e.g. action probabilities). `metadata` carries worker, iteration, episode number,
    total reward, progress and status.
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        """T, the number of steps."""
        return int(self.rewards.shape[0])


def episode_batch_key(prefix: str, iteration: int, worker: int) -> str:
    """`<prefix>/episodes/iteration-<k>/worker-<i>.npz`, the batch of one worker and iteration."""
    return RunLayout(prefix).episode_batch(iteration, worker)


def _check_name(kind: str, name: str, index: int) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise InvalidEpisode(
            f"episode {index}: {kind} name {name!r} must be a non-empty string without '/'"
        )


def _normalised(episode: EpisodeArrays, index: int) -> dict[str, np.ndarray]:
    """The episode's arrays under their npz names, with checked shapes and dtypes."""
    rewards = np.asarray(episode.rewards)
    if rewards.ndim != 1 or rewards.shape[0] == 0:
        raise InvalidEpisode(
            f"episode {index}: rewards must have shape (T,) with T >= 1, got {rewards.shape}"
        )
    steps = rewards.shape[0]
    actions = np.asarray(episode.actions)
    if actions.ndim == 1 and np.issubdtype(actions.dtype, np.integer):
        actions = actions.astype(np.int64)
    elif actions.ndim == 2 and actions.shape[1] == 2 and np.issubdtype(actions.dtype, np.number):
        actions = actions.astype(np.float32)
    else:
        raise InvalidEpisode(
            f"episode {index}: actions must be (T,) integers (discrete) or (T, 2) floats "
            f"(continuous steering, speed), got shape {actions.shape} dtype {actions.dtype}"
        )
    if not episode.observations:
        raise InvalidEpisode(f"episode {index}: observations are empty; pass at least one sensor")
    prefix = f"ep{index}"
    arrays = {f"{prefix}/actions": actions, f"{prefix}/rewards": rewards.astype(np.float32)}
    for kind, group in (("obs", episode.observations), ("extra", episode.extras)):
        for name, value in group.items():
            _check_name(kind, name, index)
            array = np.asarray(value)
            if array.dtype == object:
                raise InvalidEpisode(
                    f"episode {index}: {kind} '{name}' has dtype object; pass numeric arrays"
                )
            arrays[f"{prefix}/{kind}/{name}"] = array
    for name, array in arrays.items():
        if array.ndim == 0 or array.shape[0] != steps:
            raise InvalidEpisode(
                f"episode {index}: '{name}' has {array.shape[0] if array.ndim else 0} steps but "
                f"rewards has {steps}; every per-step array needs the same first dimension T"
            )
    return arrays


def save_episode_batch(store: ModelStore, key: str, episodes: Sequence[EpisodeArrays]) -> None:
    """Write `episodes` as one compressed npz under `key`, atomically."""
    arrays: dict[str, np.ndarray] = {}
    metadata = []
    for index, episode in enumerate(episodes):
        arrays.update(_normalised(episode, index))
        try:
            metadata.append(json.dumps(episode.metadata, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise InvalidEpisode(
                f"episode {index}: metadata is not JSON-serialisable ({error}); use plain "
                "strings, ints and finite floats"
            ) from error
    arrays[_METADATA_KEY] = np.array(metadata, dtype=np.str_)
    arrays[_FORMAT_KEY] = np.array(BATCH_FORMAT)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    store.put_bytes(key, buffer.getvalue())


def _episodes_from(contents: dict[str, np.ndarray]) -> list[EpisodeArrays]:
    if str(contents.get(_FORMAT_KEY, "")) != BATCH_FORMAT:
        raise ValueError(f"format marker is not {BATCH_FORMAT!r}")
    episodes = []
    for index, text in enumerate(contents[_METADATA_KEY].tolist()):
        prefix = f"ep{index}/"
        observations, extras = {}, {}
        for name, array in contents.items():
            if name.startswith(prefix + "obs/"):
                observations[name[len(prefix) + 4 :]] = array
            elif name.startswith(prefix + "extra/"):
                extras[name[len(prefix) + 6 :]] = array
        episode = EpisodeArrays(
            observations=observations,
            actions=contents[prefix + "actions"],
            rewards=contents[prefix + "rewards"],
            metadata=json.loads(text),
            extras=extras,
        )
        _normalised(episode, index)
        episodes.append(episode)
    return episodes


def load_episode_batch(store: ModelStore, key: str) -> list[EpisodeArrays]:
    """Read the batch under `key`; raise CorruptEpisodeFile naming the key if it is damaged."""
    data = store.get_bytes(key)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
        return _episodes_from(contents)
    except (zipfile.BadZipFile, zlib.error, ValueError, KeyError, OSError, EOFError) as error:
        raise CorruptEpisodeFile(
            f"episode batch '{key}' in {store.url} is truncated or corrupt ({error}); "
            "skip it or have the worker upload it again"
        ) from error
