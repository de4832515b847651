"""The calibrated car model (docs/simulator-contract.md §5) and the car's reference points
(§2.2, §3)."""

import math

import numpy as np
import pytest

from markov.environment import car_geometry, dynamics
from markov.environment.dynamics import CarState, clip_physical_command, step

H = 1.0 / 120.0


def drive(state: CarState, steering_deg: float, speed: float, steps: int) -> CarState:
    for _ in range(steps):
        state = step(state, steering_deg, speed)
    return state


def test_car_at_rest_with_stop_command_stays_exactly_put():
    start = CarState(1.5, -2.0, 0.7)
    assert drive(start, *dynamics.STOP_COMMAND, steps=30) == start


def test_constant_command_on_a_straight_reaches_the_commanded_speed_within_a_second():
    state = drive(CarState(0.0, 0.0, 0.0), 0.0, 2.0, steps=15)
    assert state.speed == pytest.approx(2.0, abs=1e-3)
    assert state.y == 0.0 and state.yaw == 0.0
    assert state.x > 0.0


def test_first_25_ms_use_the_previous_command_then_the_speed_lag_applies():
    speed = 1.5
    after = step(CarState(0.0, 0.0, 0.0), 0.0, speed)
    # 3 sub-steps at the previous (0, 0) command move nothing; during the 5 remaining ones the
    # speed follows v_k = u (1 - r^k) with r = exp(-h / tau), and x grows by v_k * h.
    r = math.exp(-H / dynamics.TAU_SPEED_S)
    expected_x = H * speed * sum(1.0 - r**k for k in range(1, 6))
    assert after.x == pytest.approx(expected_x, rel=1e-12)
    assert after.speed == pytest.approx(speed * (1.0 - r**5), rel=1e-12)
    assert (after.cmd_speed, after.cmd_steer) == (speed, 0.0)


def test_previous_command_keeps_acting_during_the_latency_of_the_next_step():
    moving = drive(CarState(0.0, 0.0, 0.0), 0.0, 2.0, steps=30)
    braking = step(moving, 0.0, 0.0)
    r = math.exp(-H / dynamics.TAU_SPEED_S)
    # 3 sub-steps still at 2.0 m/s (already reached), then 5 decaying towards 0.
    assert braking.speed == pytest.approx(moving.speed * r**5, rel=1e-9)


def test_constant_left_steering_drives_a_circle_of_the_calibrated_radius():
    steering_deg, speed = 20.0, 1.0
    state = drive(CarState(0.0, 0.0, 0.0), steering_deg, speed, steps=45)
    points = []
    for _ in range(3):
        state = drive(state, steering_deg, speed, steps=5)
        points.append((state.x, state.y))
    (ax, ay), (bx, by), (cx, cy) = points
    a, b, c = (
        math.dist((ax, ay), (bx, by)),
        math.dist((bx, by), (cx, cy)),
        math.dist((ax, ay), (cx, cy)),
    )
    twice_area = abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay))
    radius = a * b * c / (2.0 * twice_area)
    expected = dynamics.WHEELBASE_M / (dynamics.YAW_GAIN * math.tan(math.radians(steering_deg)))
    assert radius == pytest.approx(expected, rel=0.01)


def test_positive_steering_turns_left():
    state = drive(CarState(0.0, 0.0, 0.0), 15.0, 1.0, steps=5)
    assert state.yaw > 0.0 and state.y > 0.0


def test_step_is_pure():
    start = CarState(0.3, 0.4, 1.0, speed=1.2, steer=0.1, cmd_speed=1.0, cmd_steer=0.2)
    snapshot = CarState(0.3, 0.4, 1.0, speed=1.2, steer=0.1, cmd_speed=1.0, cmd_steer=0.2)
    first = step(start, -10.0, 2.5)
    second = step(start, -10.0, 2.5)
    assert first == second
    assert start == snapshot


def test_yaw_stays_in_minus_pi_to_pi():
    state = CarState(0.0, 0.0, math.pi - 0.01)
    state = drive(state, 30.0, 2.0, steps=5)
    assert -math.pi < state.yaw <= math.pi
    assert state.yaw < 0.0  # wrapped past +pi into the negative half
    assert dynamics.wrap_angle(-math.pi) == math.pi
    assert dynamics.wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)


def test_other_step_lengths_use_equal_sub_steps_and_reach_the_same_speed():
    state = CarState(0.0, 0.0, 0.0)
    for _ in range(20):
        state = step(state, 0.0, 1.0, dt=0.05)
    assert state.speed == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="dt"):
        step(state, 0.0, 1.0, dt=0.0)


def test_physical_command_is_clipped_to_car_limits():
    assert clip_physical_command(45.0, 5.0) == (30.0, 4.0)
    assert clip_physical_command(-45.0, 0.0) == (-30.0, 0.1)
    assert clip_physical_command(12.5, 1.3) == (12.5, 1.3)
    with pytest.raises(ValueError, match="finite"):
        clip_physical_command(float("nan"), 1.0)


def test_front_point_is_14_cm_ahead_along_the_heading():
    assert car_geometry.front_point(1.0, 2.0, 0.0) == pytest.approx((1.14, 2.0))
    assert car_geometry.front_point(1.0, 2.0, math.pi / 2) == pytest.approx((1.0, 2.14))


def test_wheel_positions_at_yaw_zero_and_rotated():
    expected = np.array(
        [
            [-0.081663, 0.08105],
            [0.082311, 0.079601],
            [-0.081663, -0.08105],
            [0.082311, -0.079601],
        ]
    )
    np.testing.assert_allclose(car_geometry.wheel_positions(0.0, 0.0, 0.0), expected)
    # Heading +y: the car's left (+y in its frame) becomes world -x.
    rotated = car_geometry.wheel_positions(1.0, 2.0, math.pi / 2)
    np.testing.assert_allclose(rotated[0], [1.0 - 0.08105, 2.0 - 0.081663], atol=1e-12)
    np.testing.assert_allclose(rotated[3], [1.0 + 0.079601, 2.0 + 0.082311], atol=1e-12)


def test_footprint_corners_are_a_counter_clockwise_rectangle_around_the_origin():
    corners = car_geometry.footprint_corners(0.0, 0.0, 0.0)
    half_l, half_w = 0.32352 / 2, 0.1961 / 2
    np.testing.assert_allclose(
        corners, [[half_l, half_w], [-half_l, half_w], [-half_l, -half_w], [half_l, -half_w]]
    )
    rotated = car_geometry.footprint_corners(0.0, 0.0, math.pi)
    np.testing.assert_allclose(rotated, -corners, atol=1e-12)
    small = car_geometry.footprint_corners(5.0, 5.0, 0.0, length=2.0, width=1.0)
    np.testing.assert_allclose(small[0], [6.0, 5.5])
