"""The simapp step contract, pinned rule by rule (docs/simulator-contract.md §1, §2, §6)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from model_fixtures import CONTINUOUS
from track_fixtures import circle_route, kidney_route, official_route, straight_route

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.reward_function import RewardFunctionError
from markov.environment.scripted import CenterLineDriver, action_for
from markov.tracks import Track

LIDAR_ONLY = ["LIDAR"]


class Recorder:
    """A reward function that records the params it was called with."""

    def __init__(self, value: float = 1.0) -> None:
        self.calls: list[dict] = []
        self.value = value

    def __call__(self, params: dict) -> float:
        self.calls.append(params)
        return self.value


def make_env(route=None, reward=None, params=None, **kwargs) -> DeepRacerRacetrackEnv:
    track = Track(circle_route() if route is None else route, "circle")
    kwargs.setdefault("sensors", LIDAR_ONLY)
    return DeepRacerRacetrackEnv(
        track,
        model_metadata=kwargs.pop("model_metadata", CONTINUOUS),
        reward_function=reward or Recorder(),
        params=params,
        **kwargs,
    )


def straight_ahead(env: DeepRacerRacetrackEnv, speed: float = 1.0):
    return action_for(env.actions, 0.0, speed)


def test_prepare_step_holds_the_car_and_pays_nothing() -> None:
    reward = Recorder()
    env = make_env(reward=reward)
    env.reset(seed=1)
    start = env.car
    _, r, terminated, _, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    assert r == 0.0 and not terminated
    assert reward.calls == []  # the reward function is not called on the PREPARE step
    assert info["episode_status"] == "prepare"
    assert (env.car.x, env.car.y, env.car.yaw) == (start.x, start.y, start.yaw)
    assert info["params"]["steps"] == 1.0 and isinstance(info["params"]["steps"], float)
    # the PREPARE row still shows the chosen (not executed) action
    assert info["simtrace"]["steer"] == 30.0 and info["simtrace"]["throttle"] == 2.0


def test_params_use_the_pre_action_pose_and_commanded_values() -> None:
    reward = Recorder()
    env = make_env(reward=reward)
    env.reset(seed=1)
    _, _, _, _, prepare = env.step(straight_ahead(env))
    _, _, _, _, first = env.step(np.array([-1.0, 1.0], dtype=np.float32))
    params = reward.calls[0]
    # step 2 is computed on the start pose (the car did not move during PREPARE)
    assert (params["x"], params["y"]) == (prepare["params"]["x"], prepare["params"]["y"])
    assert params["steering_angle"] == -30.0 and params["speed"] == 2.0
    assert params["steps"] == 2.0
    assert first["params"] is not params  # the reward function got a copy


def test_front_point_is_014_m_ahead_of_the_origin_and_heading_in_degrees() -> None:
    env = make_env()
    env.reset(seed=1)
    car = env.car
    _, _, _, _, info = env.step(straight_ahead(env))
    p = info["params"]
    assert p["x"] == pytest.approx(car.x + 0.14 * math.cos(car.yaw))
    assert p["y"] == pytest.approx(car.y + 0.14 * math.sin(car.yaw))
    assert p["heading"] == pytest.approx(math.degrees(car.yaw))
    assert p["progress"] == pytest.approx(100 * 0.14 / p["track_length"], rel=1e-2)


def test_every_params_key_has_the_documented_type() -> None:
    env = make_env()
    env.reset(seed=1)
    _, _, _, _, info = env.step(straight_ahead(env))
    p = info["params"]
    expected = {
        "all_wheels_on_track": bool,
        "x": float,
        "y": float,
        "heading": float,
        "distance_from_center": float,
        "is_left_of_center": bool,
        "progress": float,
        "steps": float,
        "speed": float,
        "steering_angle": float,
        "track_width": float,
        "track_length": float,
        "waypoints": list,
        "closest_waypoints": list,
        "is_offtrack": bool,
        "is_crashed": bool,
        "is_reversed": bool,
        "projection_distance": float,
        "closest_objects": list,
        "objects_location": list,
        "objects_distance": list,
        "objects_distance_from_center": list,
        "objects_left_of_center": list,
        "objects_heading": list,
        "objects_speed": list,
        "object_in_camera": bool,
        "sim_time": float,
    }
    assert set(p) == set(expected)
    for key, kind in expected.items():
        assert isinstance(p[key], kind), key
    assert p["closest_objects"] == [0, 0] and p["objects_location"] == []
    assert p["object_in_camera"] is False and p["is_crashed"] is False
    assert len(p["waypoints"]) == 121 and p["waypoints"][0] == p["waypoints"][-1]
    assert p["track_width"] == pytest.approx(1.067, abs=2e-3)
    assert p["projection_distance"] == pytest.approx(p["progress"] / 100 * p["track_length"])


@pytest.mark.parametrize("reverse", [False, True])
def test_distance_and_side_of_center(reverse: bool) -> None:
    env = make_env(params={"REVERSE_DIR": str(reverse).lower()})
    env.reset(seed=1)
    env.step(straight_ahead(env))
    heading = math.pi / 2 if not reverse else -math.pi / 2
    # front point 0.2 m towards the inner border (radius 2.8) at angle 0 on a ccw circle
    env.place_car(2.8, -0.14 if not reverse else 0.14, heading)
    _, _, _, _, info = env.step(straight_ahead(env))
    p = info["params"]
    assert p["distance_from_center"] == pytest.approx(0.2, abs=1e-3)
    # inner is on the left when driving ccw, on the right when the direction is reversed
    assert p["is_left_of_center"] is (not reverse)
    assert p["is_reversed"] is reverse


def test_closest_waypoints_and_simtrace_closest_waypoint() -> None:
    env = make_env(route=circle_route(points=13))
    env.reset(seed=1)
    _, _, _, _, info = env.step(straight_ahead(env))
    prev, nxt = info["params"]["closest_waypoints"]
    assert (prev, nxt) == (0, 1)
    wp = info["params"]["waypoints"]
    x, y = info["params"]["x"], info["params"]["y"]
    nearer = nxt if math.dist((x, y), wp[nxt]) < math.dist((x, y), wp[prev]) else prev
    assert info["simtrace"]["closest_waypoint"] == nearer


def test_off_track_needs_all_four_wheels_out_and_calls_the_reward() -> None:
    reward = Recorder()
    env = make_env(reward=reward)
    env.reset(seed=1)
    env.step(straight_ahead(env))
    # origin on the outer border line: two wheels in, two out
    env.place_car(3.5335, 0.0, math.pi / 2)
    _, _, terminated, _, info = env.step(straight_ahead(env))
    assert not info["params"]["all_wheels_on_track"] and not info["params"]["is_offtrack"]
    assert not terminated
    env.place_car(3.9, 0.0, math.pi / 2)
    _, _, terminated, _, info = env.step(straight_ahead(env))
    assert terminated and info["episode_status"] == "off_track"
    assert reward.calls[-1]["is_offtrack"] is True  # the terminal RUN step is rewarded
    assert info["simtrace"]["done"] is True
    with pytest.raises(RuntimeError, match="reset"):
        env.step(straight_ahead(env))


def test_reversed_after_15_steps_of_falling_progress() -> None:
    env = make_env()
    env.reset(seed=1)
    x, y, yaw = env.track.start_pose(0.5)
    env.place_car(x, y, yaw + math.pi)
    statuses = []
    for _ in range(40):
        _, _, terminated, _, info = env.step(straight_ahead(env, speed=1.0))
        statuses.append(info["episode_status"])
        if terminated:
            break
    assert statuses[-1] == "reversed"
    # PREPARE, one RUN step with the car still at rest, then 15 steps going backwards
    assert len(statuses) == 17


def test_immobilized_after_15_still_run_steps() -> None:
    env = make_env()
    env.reset(seed=1)
    x, y, yaw = env.car.x, env.car.y, env.car.yaw
    statuses = []
    for _ in range(30):
        env.place_car(x, y, yaw)
        _, _, terminated, _, info = env.step(straight_ahead(env))
        statuses.append(info["episode_status"])
        if terminated:
            break
    assert statuses[0] == "prepare" and statuses[-1] == "immobilized"
    assert len(statuses) == 16


def test_a_scripted_lap_completes_with_progress_100() -> None:
    env = make_env()
    env.reset(seed=1)
    driver = CenterLineDriver(speed=1.5)
    for _ in range(2000):
        _, _, terminated, truncated, info = env.step(driver.act(env))
        if terminated or truncated:
            break
    assert info["episode_status"] == "lap_complete"
    assert info["params"]["progress"] == 100.0
    assert info["simtrace"]["done"] is True


def test_round_robin_start_and_direction_alternation() -> None:
    env = make_env(
        params={"ROUND_ROBIN_ADVANCE_DIST": "0.1", "ALTERNATE_DRIVING_DIRECTION": "true"}
    )
    _, info = env.reset(seed=1)
    assert info["start_ndist"] == 0.0 and not info["is_reversed"]
    env.step(straight_ahead(env))
    _, info = env.reset()
    assert info["start_ndist"] == pytest.approx(0.1) and info["is_reversed"]
    x, y, _ = env.car.x, env.car.y, env.car.yaw
    assert (x, y) == pytest.approx(env.track.start_pose(0.1)[:2])
    _, _, _, _, step_info = env.step(straight_ahead(env))
    assert step_info["params"]["is_reversed"] is True
    assert step_info["params"]["waypoints"][0] == env.forward_track.waypoints[-1]
    # an evaluation episode does not move the start
    _, info = env.reset(options={"evaluation": True})
    env.step(straight_ahead(env))
    _, info2 = env.reset()
    assert info2["start_ndist"] == pytest.approx(info["start_ndist"])


def test_no_advance_when_change_start_position_is_false_and_offset_is_honoured() -> None:
    env = make_env(params={"CHANGE_START_POSITION": "false", "START_POSITION_OFFSET": "0.25"})
    _, info = env.reset(seed=1)
    env.step(straight_ahead(env))
    _, info2 = env.reset()
    assert info["start_ndist"] == info2["start_ndist"] == 0.25


def test_progress_is_relative_to_the_start_position() -> None:
    env = make_env(params={"START_POSITION_OFFSET": "0.5"})
    env.reset(seed=1)
    _, _, _, _, info = env.step(straight_ahead(env))
    assert info["params"]["progress"] == pytest.approx(
        100 * 0.14 / info["params"]["track_length"], rel=1e-2
    )


def test_resets_with_penalty_pause_then_continue() -> None:
    env = make_env(params={"NUMBER_OF_RESETS": "1", "OFF_TRACK_PENALTY": "1.0"}, evaluation=True)
    env.reset(seed=1)
    env.step(straight_ahead(env))
    env.place_car(3.9, 0.0, math.pi / 2)
    _, _, terminated, _, info = env.step(straight_ahead(env))
    assert info["episode_status"] == "off_track" and not terminated
    statuses, rewards, pauses = [], [], []
    for _ in range(15):
        _, r, terminated, _, info = env.step(straight_ahead(env))
        statuses.append(info["episode_status"])
        rewards.append(r)
        pauses.append(info["simtrace"]["pause_duration"])
    assert statuses == ["pause"] * 15 and set(rewards) == {0.0}
    assert pauses[0] == pytest.approx(1.0) and pauses[-1] == pytest.approx(1 / 15)
    _, _, _, _, info = env.step(straight_ahead(env))
    assert info["episode_status"] == "in_progress"
    assert info["params"]["all_wheels_on_track"]  # respawned on a lane
    env.place_car(3.9, 0.0, math.pi / 2)
    _, _, terminated, _, info = env.step(straight_ahead(env))
    assert terminated and info["resets"] == 1  # no resets left


def test_continuous_race_counts_laps_until_number_of_trials() -> None:
    env = make_env(params={"IS_CONTINUOUS": "true", "NUMBER_OF_TRIALS": "2"}, evaluation=True)
    env.reset(seed=1)
    driver = CenterLineDriver(speed=2.0)
    statuses = []
    for _ in range(4000):
        _, _, terminated, _, info = env.step(driver.act(env))
        statuses.append(info["episode_status"])
        if terminated:
            break
    assert statuses.count("lap_complete") == 2 and info["laps"] == 2


def test_step_cap_truncates() -> None:
    env = make_env(params={"MAX_EPISODE_STEPS": "5"})
    env.reset(seed=1)
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(straight_ahead(env))
    assert truncated and not terminated


@pytest.mark.parametrize(
    ("returned", "message"),
    [(float("nan"), "finite"), ("fast", "not text"), (1e9, "100000"), (None, "None")],
)
def test_bad_reward_values_stop_with_a_clear_error(returned, message) -> None:
    env = make_env(reward=lambda params: returned)
    env.reset(seed=1)
    env.step(straight_ahead(env))
    with pytest.raises(RewardFunctionError, match=message):
        env.step(straight_ahead(env))


def test_unknown_training_param_is_named_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="CHANGE_START_POSITION"):
        make_env(params={"CHANGE_START_POSTION": "true"})
    with pytest.raises(ValueError, match="RACE_TYPE"):
        make_env(params={"RACE_TYPE": "DRAG_RACE"})


def test_action_noise_changes_only_the_executed_command() -> None:
    quiet, noisy = make_env(), make_env(steering_noise_std_deg=5.0, speed_noise_std=0.2)
    for env in (quiet, noisy):
        env.reset(seed=3)
        for _ in range(20):
            _, _, _, _, info = env.step(straight_ahead(env))
    assert info["params"]["steering_angle"] == 0.0  # the reward still sees the command
    assert (quiet.car.x, quiet.car.y) != pytest.approx((noisy.car.x, noisy.car.y))


def test_open_track_lap_and_default_sensor() -> None:
    env = DeepRacerRacetrackEnv(
        Track(straight_route(length=6.0), "strip"),
        model_metadata=CONTINUOUS,
        reward_function=Recorder(),
    )
    obs, _ = env.reset(seed=1)
    assert obs["FRONT_FACING_CAMERA"].shape == (120, 160, 1)
    for _ in range(400):
        obs, _, terminated, _, info = env.step(straight_ahead(env, speed=2.0))
        if terminated:
            break
    assert info["episode_status"] == "lap_complete"


def test_gymnasium_checker_make_and_seed_determinism() -> None:
    from gymnasium.utils.env_checker import check_env

    env = make_env(
        sensors=["FRONT_FACING_CAMERA", "LIDAR"], render_mode="rgb_array", wall_clock=lambda: 0.0
    )
    check_env(env, skip_render_check=False)
    made = gym.make("DeepRacer-v0", world_name=Track(circle_route(), "c"), sensors=LIDAR_ONLY)
    obs, _ = made.reset(seed=5)
    assert set(obs) == {"LIDAR"}

    first, second = make_env(wall_clock=lambda: 0.0), make_env(wall_clock=lambda: 0.0)
    for e in (first, second):
        e.reset(seed=11)
        e.action_space.seed(11)
    for _ in range(30):
        a1, a2 = first.action_space.sample(), second.action_space.sample()
        out1, out2 = first.step(a1), second.step(a2)
        assert out1[4]["simtrace"] == out2[4]["simtrace"]
        np.testing.assert_array_equal(out1[0]["LIDAR"], out2[0]["LIDAR"])


def test_render_shows_a_top_down_frame() -> None:
    env = make_env(render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


def scripted_lap(track: Track, reverse: bool) -> list[dict]:
    """The params of every step of a centre-line lap at 1 m/s (until the episode ends)."""
    env = DeepRacerRacetrackEnv(
        track,
        model_metadata=CONTINUOUS,
        reward_function=Recorder(),
        sensors=LIDAR_ONLY,
        params={"REVERSE_DIR": str(reverse).lower()},
    )
    env.reset(seed=1)
    driver = CenterLineDriver(speed=1.0)
    steps = []
    for _ in range(5000):
        _, _, terminated, _, info = env.step(driver.act(env))
        steps.append(info["params"])
        if terminated:
            break
    assert info["episode_status"] == "lap_complete"
    assert info["params"]["is_reversed"] is reverse
    progress = [p["progress"] for p in steps]
    assert np.all(np.diff(progress[2:]) > -0.5)  # progress only moves forwards on a clean lap
    return steps


def _signed_offset(params: dict) -> tuple[float, float]:
    """(cross, heading error in degrees) of the car against its closest waypoint segment:
    cross > 0 when the car is left of the segment in the direction of travel."""
    prev, nxt = params["closest_waypoints"]
    waypoints = params["waypoints"]
    (ax, ay), (bx, by) = waypoints[prev], waypoints[nxt]
    if (ax, ay) == (bx, by):  # a repeated waypoint: use the segment after it
        bx, by = waypoints[(nxt + 1) % len(waypoints)]
    cross = (bx - ax) * (params["y"] - ay) - (by - ay) * (params["x"] - ax)
    error = params["heading"] - math.degrees(math.atan2(by - ay, bx - ax))
    return cross / math.hypot(bx - ax, by - ay), (error + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("clockwise", [False, True], ids=["ccw-file", "cw-file"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_scripted_lap_on_an_official_like_track(clockwise: bool, reverse: bool) -> None:
    track = Track(kidney_route(clockwise=clockwise), "kidney")
    steps = scripted_lap(track, reverse)
    waypoints = steps[0]["waypoints"]
    assert waypoints == (track.waypoints[::-1] if reverse else track.waypoints)
    assert steps[0]["track_length"] == pytest.approx(track.length)
    sides = set()
    for params in steps[1:]:
        offset, heading_error = _signed_offset(params)
        assert abs(offset) < 0.3, params["closest_waypoints"]  # the closest segment is nearby
        assert abs(heading_error) < 45.0, params["closest_waypoints"]  # heading follows travel
        if params["distance_from_center"] > 0.003:  # pure pursuit cuts the bends by ~1 cm
            assert params["is_left_of_center"] is (offset > 0), params["closest_waypoints"]
            sides.add(params["is_left_of_center"])
    assert sides == {True, False}  # the bends take the car to both sides of the centre line


@pytest.mark.parametrize("clockwise", [False, True], ids=["ccw-file", "cw-file"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
@pytest.mark.parametrize("row", [6, 24, 44], ids=["wide-end", "dent", "tight-end"])
def test_side_of_center_towards_the_inner_border(clockwise: bool, reverse: bool, row: int) -> None:
    route = kidney_route(clockwise=clockwise, repeated_row=None)
    env = make_env(route=route, params={"REVERSE_DIR": str(reverse).lower()})
    env.reset(seed=1)
    env.step(straight_ahead(env))
    center, inner = route[row, :2], route[row, 2:4]
    towards_inner = (inner - center) / np.linalg.norm(inner - center)
    step = route[row + 1, :2] - route[row - 1, :2]
    heading = math.atan2(step[1], step[0]) + (math.pi if reverse else 0.0)
    front = center + 0.2 * towards_inner
    env.place_car(front[0] - 0.14 * math.cos(heading), front[1] - 0.14 * math.sin(heading), heading)
    _, _, _, _, info = env.step(straight_ahead(env))
    p = info["params"]
    assert p["distance_from_center"] == pytest.approx(0.2, abs=0.02)
    # the inner border is on the left exactly when the car drives counter-clockwise
    assert p["is_left_of_center"] is ((not clockwise) != reverse)
    assert p["is_reversed"] is reverse


@pytest.mark.parametrize(
    ("name", "reverse"), [("reinvent_base", False), ("Spain_track", False), ("reinvent_base", True)]
)
def test_scripted_lap_on_official_tracks(name: str, reverse: bool) -> None:
    scripted_lap(Track(official_route(name), name), reverse)
