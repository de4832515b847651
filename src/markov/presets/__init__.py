"""Clipped PPO hyperparameters and training settings, as the simapp's preset defines them."""

from markov.presets.preset import (
    ExplorationType,
    HyperparameterError,
    Hyperparameters,
    LossType,
    NeuralNetwork,
    SyncType,
    describe_hyperparameters,
    load_hyperparameters,
    max_memory_steps,
)

__all__ = [
    "ExplorationType",
    "HyperparameterError",
    "Hyperparameters",
    "LossType",
    "NeuralNetwork",
    "SyncType",
    "describe_hyperparameters",
    "load_hyperparameters",
    "max_memory_steps",
]
