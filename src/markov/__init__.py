"""The DeepRacer engine: simulator, Clipped PPO trainer and rollout/evaluation workers."""

__version__ = "0.1.0"
