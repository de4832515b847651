"""Clipped PPO in PyTorch: DeepRacer's networks, the learner and policy export."""

from markov.agents.clipped_ppo import (
    AgentInputError,
    ClippedPPOAgent,
    Episode,
    configure_torch_threads,
    generalized_advantage_estimates,
    minibatch_size,
)
from markov.agents.export import export_model_archive, export_onnx
from markov.agents.networks import UnsupportedSpaceError

__all__ = [
    "AgentInputError",
    "ClippedPPOAgent",
    "Episode",
    "UnsupportedSpaceError",
    "configure_torch_threads",
    "export_model_archive",
    "export_onnx",
    "generalized_advantage_estimates",
    "minibatch_size",
]
