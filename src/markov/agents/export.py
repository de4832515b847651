"""Export a trained policy for use outside training: ONNX, and a model archive around it.

This engine has no TensorFlow, so it does not write the simapp's frozen graph (`model_<N>.pb`);
the ONNX model plays that role. Its inputs are named after the sensors (the observation keys)
and its single output `policy` holds action probabilities (discrete, (batch, n)) or the action
mean in the normalised [-1, 1] box (continuous, (batch, d)).
"""

from __future__ import annotations

import copy
import io
import json
import os
import tarfile
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from markov.agents.clipped_ppo import ClippedPPOAgent, atomic_output_path
from markov.environment.model_metadata import ModelMetadataError
from markov.formats.layout import MODEL_METADATA_NAME

ONNX_OPSET = 17
ONNX_OUTPUT_NAME = "policy"
ARCHIVE_MODEL_NAME = "model.onnx"
ARCHIVE_METADATA_NAME = MODEL_METADATA_NAME


class _PositionalPolicy(nn.Module):
    """Adapts the dict-input policy to positional inputs in sensor order, for the exporter."""

    def __init__(self, policy: nn.Module, sensors: list[str]):
        super().__init__()
        self.policy = policy
        self.sensors = sensors

    def forward(self, *sensor_inputs: torch.Tensor) -> torch.Tensor:
        return self.policy(dict(zip(self.sensors, sensor_inputs, strict=True)))


def export_onnx(agent: ClippedPPOAgent, path: str | os.PathLike[str]) -> Path:
    """Write the agent's policy network as ONNX (opset 17, dynamic batch); returns the path."""
    sensors = list(agent.observation_space.spaces)
    module = _PositionalPolicy(copy.deepcopy(agent.policy).cpu().eval(), sensors)
    examples = tuple(
        torch.as_tensor(agent.observation_space[sensor].sample()[None]) for sensor in sensors
    )
    dynamic_axes = {name: {0: "batch"} for name in [*sensors, ONNX_OUTPUT_NAME]}
    target = Path(path)
    with atomic_output_path(target) as temporary, warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no extra package (onnxscript).
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            examples,
            str(temporary),
            input_names=sensors,
            output_names=[ONNX_OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return target


def export_model_archive(
    agent: ClippedPPOAgent, model_metadata_json: dict[str, Any], path: str | os.PathLike[str]
) -> Path:
    """Write a .tar.gz holding model.onnx (the policy) and model_metadata.json, atomically.

    The full weights (policy and value) stay in the store's checkpoints; the archive carries
    only what running the policy needs.
    """
    try:
        metadata = json.dumps(model_metadata_json, indent=2).encode("utf-8")
    except TypeError as error:
        raise ModelMetadataError(
            f"model_metadata_json cannot be written as JSON ({error}); pass the dict read from "
            "model_metadata.json (strings, numbers, lists and dicts only)"
        ) from None
    target = Path(path)
    with atomic_output_path(target) as temporary, tempfile.TemporaryDirectory() as staging:
        onnx_path = export_onnx(agent, Path(staging) / ARCHIVE_MODEL_NAME)
        with tarfile.open(temporary, "w:gz") as archive:
            archive.add(onnx_path, arcname=ARCHIVE_MODEL_NAME)
            info = tarfile.TarInfo(ARCHIVE_METADATA_NAME)
            info.size = len(metadata)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(metadata))
    return target
