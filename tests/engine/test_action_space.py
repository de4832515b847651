"""Discrete and continuous action spaces (docs/simulator-contract.md §4)."""

import numpy as np
import pytest
from gymnasium import spaces

from markov.environment.action_space import ContinuousActionSpace, DiscreteActionSpace

ACTIONS = [(-30, 0.8), (-15, 1.0), (0, 1.5), (15, 1.0), (30, 0.8)]


def test_discrete_space_maps_index_to_commanded_values():
    space = DiscreteActionSpace(ACTIONS)
    assert space.gym_space == spaces.Discrete(5)
    assert space.is_discrete and space.size == 5
    assert space.command(2) == (0.0, 1.5)
    assert space.command(np.int64(4)) == (30.0, 0.8)
    assert space.simtrace_action(np.int64(1)) == 1
    assert type(space.simtrace_action(np.int64(1))) is int


def test_discrete_default_is_the_first_straight_action():
    assert DiscreteActionSpace(ACTIONS).default_action == 2
    assert DiscreteActionSpace([(10, 1.0), (-10, 1.0)]).default_action == 0


def test_discrete_describe_lists_every_action():
    rows = DiscreteActionSpace(ACTIONS[:2]).describe()
    assert rows == [
        {"index": 0, "steering_angle": -30.0, "speed": 0.8},
        {"index": 1, "steering_angle": -15.0, "speed": 1.0},
    ]


@pytest.mark.parametrize("bad", [5, -1, 1.5, "x", None])
def test_discrete_rejects_actions_outside_the_index_range(bad):
    with pytest.raises(ValueError, match=r"0\.\.4"):
        DiscreteActionSpace(ACTIONS).command(bad)


def test_discrete_rejects_empty_and_malformed_lists():
    with pytest.raises(ValueError, match="at least one"):
        DiscreteActionSpace([])
    with pytest.raises(ValueError, match="action 1 speed"):
        DiscreteActionSpace([(0, 1.0), (0, "fast")])


PPO = ContinuousActionSpace(-20.0, 30.0, 1.0, 3.0)


def test_ppo_space_is_the_normalised_box():
    assert PPO.gym_space == spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert not PPO.is_discrete and PPO.size == 2


@pytest.mark.parametrize(
    ("network_output", "expected"),
    [
        ([-1.0, -1.0], (-20.0, 1.0)),
        ([1.0, 1.0], (30.0, 3.0)),
        ([-1.0, 1.0], (-20.0, 3.0)),
        ([0.0, 0.0], (5.0, 2.0)),
        ([0.5, -0.5], (17.5, 1.5)),
    ],
)
def test_ppo_scales_the_network_output_onto_the_box(network_output, expected):
    assert PPO.command(np.array(network_output, dtype=np.float32)) == pytest.approx(expected)


def test_ppo_clips_network_outputs_outside_minus_one_to_one():
    assert PPO.command([3.7, -2.0]) == pytest.approx((30.0, 1.0))
    assert PPO.command([-9.0, 1.0001]) == pytest.approx((-20.0, 3.0))


def test_sac_space_is_the_physical_box_and_clips_to_it():
    sac = ContinuousActionSpace(-20.0, 30.0, 1.0, 3.0, algorithm="sac")
    np.testing.assert_allclose(sac.gym_space.low, [-20.0, 1.0])
    np.testing.assert_allclose(sac.gym_space.high, [30.0, 3.0])
    assert sac.command([12.0, 2.5]) == (12.0, 2.5)
    assert sac.command([-45.0, 3.5]) == (-20.0, 3.0)
    np.testing.assert_allclose(sac.default_action, [5.0, 2.0])


def test_continuous_default_action_is_the_centre():
    np.testing.assert_array_equal(PPO.default_action, [0.0, 0.0])
    assert PPO.command(PPO.default_action) == pytest.approx((5.0, 2.0))


def test_continuous_simtrace_action_is_the_bracketed_commanded_pair():
    space = ContinuousActionSpace(-30.0, 30.0, 0.5, 2.5)
    assert space.simtrace_action([-5.0 / 6.0, -1.0]) == f"[{-25.0} {0.5}]"
    assert space.simtrace_action([0.0, 1.0]) == "[0.0 2.5]"
    assert "," not in space.simtrace_action([0.1, 0.2])


def test_continuous_rejects_inverted_bounds_unknown_algorithm_and_bad_outputs():
    with pytest.raises(ValueError, match=r"speed_low.*swap"):
        ContinuousActionSpace(-30.0, 30.0, 3.0, 1.0)
    with pytest.raises(ValueError, match="algorithm"):
        ContinuousActionSpace(-30.0, 30.0, 1.0, 3.0, algorithm="ppo2")
    with pytest.raises(ValueError, match="2 values"):
        PPO.command([0.0])
    with pytest.raises(ValueError, match="finite"):
        PPO.command([float("nan"), 0.0])


def test_continuous_describe_gives_bounds_and_units():
    rows = PPO.describe()
    assert rows[0] == {"quantity": "steering_angle", "low": -20.0, "high": 30.0, "unit": "degrees"}
    assert rows[1]["unit"] == "m/s" and rows[1]["high"] == 3.0
