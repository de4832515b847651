"""What a published checkpoint contains, and how a policy is rebuilt from one.

A checkpoint ``<N>_Step-<M>.ckpt`` is two files in the model store (written by
``markov.formats.checkpoints.CheckpointPublisher``): the policy weights as safetensors and a small
JSON info file. That is all rollout workers and evaluation read. What only the trainer needs to
go on training, the value network and Adam's moments (together five times the policy's size), is
one ``model/trainer_state.pt`` (``torch.save`` output that loads with ``weights_only=True``),
overwritten for the newest checkpoint so an interrupted trainer resumes exactly; a training that
finishes deletes it (retention: see the README, "Memory and disk").
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import safetensors.torch
import torch

from markov.agents.clipped_ppo import NETWORKS, ClippedPPOAgent
from markov.agents.export import export_model_archive
from markov.agents.update_options import UpdateOptions
from markov.environment.model_metadata import (
    ModelMetadata,
    load_model_metadata,
    require_trainable,
)
from markov.environment.sensors import build_observation_space
from markov.formats.checkpoints import (
    CheckpointBook,
    CheckpointReader,
    CheckpointRef,
    newest_loadable,
    parse_checkpoint_name,
)
from markov.formats.layout import RunLayout
from markov.presets.preset import Hyperparameters
from markov.store import ModelStore

logger = logging.getLogger(__name__)
WEIGHTS_SUFFIX = ".safetensors"
INFO_SUFFIX = ".info.json"
POLICY = ("policy",)
VALUE = ("value",)


class CheckpointNotFound(FileNotFoundError):
    """The requested checkpoint is not in the store."""


def build_agent(
    model_metadata: ModelMetadata,
    hyperparameters: Hyperparameters,
    *,
    device: str = "cpu",
    seed: int | None = None,
    num_threads: int | None = None,
    update_options: UpdateOptions | None = None,
    acting_precision: str = "fp32",
) -> ClippedPPOAgent:
    """A Clipped PPO agent shaped by the model metadata (sensors, network, action space);
    other training algorithms (SAC) are refused with the fix."""
    require_trainable(model_metadata)
    lidar = model_metadata.lidar_config
    observation_space = build_observation_space(
        model_metadata.sensors, None if lidar is None else lidar.to_dict()
    )
    return ClippedPPOAgent(
        observation_space,
        model_metadata.action_space.gym_space,
        model_metadata.neural_network,
        hyperparameters,
        device=device,
        seed=seed,
        num_threads=num_threads,
        update_options=update_options,
        acting_precision=acting_precision,
    )


def checkpoint_files(agent: ClippedPPOAgent, info: Mapping[str, Any]) -> dict[str, bytes]:
    """Serialise an agent's policy into the suffix -> bytes files of one checkpoint (no pickle)."""
    weights = safetensors.torch.save(
        agent.state_tensors(POLICY), metadata={"neural_network": agent.neural_network.value}
    )
    return {WEIGHTS_SUFFIX: weights, INFO_SUFFIX: json.dumps(dict(info), sort_keys=True).encode()}


def load_weights(agent: ClippedPPOAgent, files: Mapping[str, bytes]) -> None:
    """Load a checkpoint's policy into ``agent`` (shapes are checked by the agent).

    Checkpoints written before the value network moved to the trainer's state hold both
    networks; both are loaded then.
    """
    tensors = safetensors.torch.load(files[WEIGHTS_SUFFIX])
    with_value = any(name.startswith("value.") for name in tensors)
    agent.load_state_tensors(tensors, NETWORKS if with_value else POLICY)


def validate_checkpoint_files(files: Mapping[str, bytes]) -> None:
    """Raise unless the weights deserialise and the info is JSON (a damaged file fails here)."""
    safetensors.torch.load(files[WEIGHTS_SUFFIX])
    checkpoint_info(files)


def checkpoint_info(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The JSON info the trainer stored with a checkpoint (iteration, episodes, ...)."""
    return json.loads(files[INFO_SUFFIX])


def save_trainer_state(
    store: ModelStore, prefix: str, agent: ClippedPPOAgent, checkpoint_name: str
) -> None:
    """Overwrite the trainer's state (value network and Adam's moments), tagged with the
    checkpoint it belongs to."""
    state = {
        "checkpoint": checkpoint_name,
        "value": agent.state_tensors(VALUE),
        "optimizer": agent.optimizer_state(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    store.put_bytes(RunLayout(prefix).trainer_state, buffer.getvalue())


def load_trainer_state(
    store: ModelStore, prefix: str, agent: ClippedPPOAgent, checkpoint_name: str
) -> list[str]:
    """Restore what the trainer's state holds for ``checkpoint_name``: the names of the parts
    restored ("value network", "optimizer"), empty when it belongs to another checkpoint."""
    key = RunLayout(prefix).trainer_state
    if not store.exists(key):
        return []
    state = torch.load(io.BytesIO(store.get_bytes(key)), weights_only=True)
    if state.get("checkpoint") != checkpoint_name:
        return []
    restored = []
    if "value" in state:
        agent.load_state_tensors(state["value"], VALUE)
        restored.append("value network")
    if "optimizer" in state:
        agent.load_optimizer_state(state["optimizer"])
        restored.append("optimizer")
    return restored


def find_checkpoint(
    store: ModelStore, prefix: str, which: Literal["last", "best"] | str = "last"
) -> CheckpointRef:
    """The checkpoint named by ``which``: "last", "best" (deepracer_checkpoints.json) or a name.

    "last" is the newest checkpoint whose files all load (a damaged newer one is skipped with a
    warning); "best" falls back to it when the best checkpoint's files do not load.
    """
    if which not in ("last", "best"):
        ref = parse_checkpoint_name(which)
        if ref is None:
            raise CheckpointNotFound(
                f"EVAL_CHECKPOINT is {which!r}; use 'last', 'best' or a checkpoint name such as "
                "'3_Step-2231.ckpt'."
            )
        return ref
    if which == "best":
        best = CheckpointBook(store, prefix).read().best
        ref = None if best is None else parse_checkpoint_name(best.name)
        if ref is not None:
            try:
                validate_checkpoint_files(CheckpointReader(store, prefix).load(ref))
            except Exception as error:  # damaged weights raise the deserialiser's own error
                logger.warning("best checkpoint unusable (%s); taking the newest one", error)
            else:
                return ref
    ref, skipped = newest_loadable(store, prefix, validate_checkpoint_files)
    for reason in skipped:
        logger.warning("skipped checkpoint %s", reason)
    if ref is None:
        raise CheckpointNotFound(
            f"No checkpoint under {store.url}/{RunLayout(prefix).model_folder}: train a model "
            "first, or check the store URL and the prefix (the experiment id)."
        )
    return ref


def load_policy(
    store: ModelStore, prefix: str, which: str = "last", *, num_threads: int | None = None
) -> tuple[ClippedPPOAgent, CheckpointRef, ModelMetadata]:
    """Rebuild the policy of a trained model from the store, for evaluation or export."""
    metadata_key = RunLayout(prefix).model_metadata
    if not store.exists(metadata_key):
        raise CheckpointNotFound(f"{metadata_key} is missing in {store.url}: not a trained model.")
    model_metadata = load_model_metadata(store.get_json(metadata_key))
    hyperparameters = Hyperparameters()
    agent = build_agent(model_metadata, hyperparameters, num_threads=num_threads)
    ref = find_checkpoint(store, prefix, which)
    load_weights(agent, CheckpointReader(store, prefix).load(ref))
    return agent, ref, model_metadata


def export_archives(
    store: ModelStore, prefix: str, agent: ClippedPPOAgent, model_metadata: ModelMetadata
) -> list[str]:
    """Write the best policy as an ONNX archive (``<prefix>/export/best-model.tar.gz``).

    The archive holds ``model.onnx`` and ``model_metadata.json``, for use outside training (the
    model to import or to put on a car). The best checkpoint is the one evaluation picked; the
    last one stays in ``model/``. ``agent`` is reused as scratch: its policy is replaced.
    """
    ref = find_checkpoint(store, prefix, "best")
    load_weights(agent, CheckpointReader(store, prefix).load(ref))
    with tempfile.TemporaryDirectory() as folder:
        archive = export_model_archive(
            agent, model_metadata.to_json_dict(), Path(folder) / "model.tar.gz"
        )
        key = RunLayout(prefix).export_archive("best")
        store.put_bytes(key, archive.read_bytes())
    return [key]
