"""Model metadata documents shared by tests of several folders."""

from __future__ import annotations

# A continuous PPO model on the front camera, for env tests that steer with exact values.
CONTINUOUS = {
    "action_space": {
        "steering_angle": {"low": -30.0, "high": 30.0},
        "speed": {"low": 0.5, "high": 2.0},
    },
    "action_space_type": "continuous",
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "version": "5",
}
