"""Shared fixtures: synthetic route arrays and the optional official route files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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

SHARED_TRACKS = Path(__file__).resolve().parents[1].parent / "shared" / "tracks"


def circle_route(
    radius: float = 3.0, width: float = 1.067, points: int = 121, clockwise: bool = False
) -> np.ndarray:
    """A closed circular route (first row == last row), counter-clockwise unless asked."""
    angles = np.linspace(0.0, 2.0 * np.pi, points)
    if clockwise:
        angles = -angles
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    route = np.hstack([unit * radius, unit * (radius - width / 2), unit * (radius + width / 2)])
    route[-1] = route[0]
    return route


def straight_route(length: float = 10.0, width: float = 1.067, points: int = 41) -> np.ndarray:
    """An open straight route along +x."""
    xs = np.linspace(0.0, length, points)
    zeros = np.zeros_like(xs)
    half = width / 2
    return np.stack([xs, zeros, xs, zeros + half, xs, zeros - half], axis=1)


@pytest.fixture
def circle() -> np.ndarray:
    return circle_route()


def shared_track(name: str) -> Path:
    """Path of an official route file from ../shared/tracks, or skip the test."""
    path = SHARED_TRACKS / f"{name}.npy"
    if not path.is_file():
        pytest.skip(f"{path.name} is not available in shared/tracks")
    return path


# ------------------------------------------------------------------ AWS backend (moto harness)
def pytest_configure(config: pytest.Config) -> None:
    """Register the ``aws`` marker of the tests that run against the moto harness."""
    config.addinivalue_line(
        "markers", "aws: runs SageMaker jobs as local processes behind a moto server"
    )


@pytest.fixture(scope="session")
def aws_harness():
    """A moto server whose training jobs run (tests/aws_harness.py), started on first use."""
    from aws_harness import MotoHarness

    harness = MotoHarness().start()
    yield harness
    harness.stop()


@pytest.fixture(scope="session")
def strict_requests():
    """Every botocore request of the session checked against its service model
    (tests/strict_requests.py), installed on first use."""
    from strict_requests import RequestRecorder

    recorder = RequestRecorder().install()
    yield recorder
    recorder.uninstall()


@pytest.fixture
def requests_fit_the_model(strict_requests):
    """Fails a test (at its end) when any request made for it breaks a model constraint."""
    yield strict_requests
    problems = strict_requests.take_problems()
    assert not problems, "requests AWS would refuse:\n" + "\n".join(problems)
