"""One builder of reward params: the env, the reward heatmap and the log replay all use it.

The env's params are the contract (docs/simulator-contract.md §2.3); the heatmap and the replay must
give a reward function exactly what the env would give it for the same pose.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv
from markov.environment.reward_params import (
    build_reward_params,
    measure_pose,
    pose_from_front,
    pose_from_origin,
)
from markov.environment.reward_params_glossary import REWARD_PARAMS_GLOSSARY
from markov.environment.scripted import CenterLineDriver
from markov.tracks import load_track
from workshop_helpers import analysis
from workshop_helpers.reward_testing import reward_heatmap

TRACK = "Workshop_Oval"
OBJECT_AVOIDANCE = {"RACE_TYPE": "OBJECT_AVOIDANCE", "NUMBER_OF_OBSTACLES": "3"}
HEAD_TO_BOT = {"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "2", "BOT_CAR_SPEED": "0.4"}
STEPS = 80


def drive_center_line(env: DeepRacerRacetrackEnv, steps: int) -> list[tuple[Any, Any, dict]]:
    """(car state, objects, info) for each step: the pose and objects the step started from."""
    env.reset(seed=0)
    driver = CenterLineDriver(speed=1.2)
    taken = []
    for _ in range(steps):
        car, objects = env.car, copy.deepcopy(env.objects)
        _, _, terminated, truncated, info = env.step(driver.act(env))
        taken.append((car, objects, info))
        if terminated or truncated:
            break
    return taken


def recording(seen: list[dict]):
    def reward_function(params: dict) -> float:
        seen.append(params)
        return 1.0

    return reward_function


@pytest.mark.parametrize("world", [None, OBJECT_AVOIDANCE, HEAD_TO_BOT], ids=["tt", "oa", "h2b"])
def test_env_params_at_every_step_are_the_builders_for_the_cars_pose(world) -> None:
    env = DeepRacerRacetrackEnv(TRACK, params=world)
    taken = drive_center_line(env, STEPS)

    assert len(taken) == STEPS
    for car, objects, info in taken:
        params = info["params"]
        expected = build_reward_params(
            env.track,
            pose_from_origin(env.track, car.x, car.y, car.yaw),
            progress=params["progress"],
            steps=params["steps"],
            speed=params["speed"],
            steering_angle=params["steering_angle"],
            sim_time=params["sim_time"],
            is_crashed=info["episode_status"] == "crashed",
            objects=objects,
        )
        assert params == expected
        assert list(params) == list(expected)
    if world is not None:
        assert any(info["params"]["objects_location"] for _, _, info in taken)


def test_heatmap_params_are_the_builders_for_each_cells_pose() -> None:
    track = load_track(TRACK)
    seen: list[dict] = []
    reward_heatmap(recording(seen), track, resolution=0.2, heading=30.0, speed=1.5, steering=-5)

    assert len(seen) > 50
    yaw = math.radians(30.0)
    for params in seen:
        pose = pose_from_front(track, measure_pose(track, params["x"], params["y"]), yaw)
        expected = build_reward_params(
            track,
            pose,
            progress=params["progress"],
            steps=params["steps"],
            speed=1.5,
            steering_angle=-5,
            sim_time=params["sim_time"],
        )
        assert params == expected
    assert {params["all_wheels_on_track"] for params in seen} == {True, False}


def test_heatmap_cell_gets_the_params_the_env_gives_a_car_at_that_pose() -> None:
    track = load_track(TRACK)
    seen: list[dict] = []
    reward_heatmap(recording(seen), track, resolution=0.3, heading=90.0)
    cell = seen[len(seen) // 2]
    env = DeepRacerRacetrackEnv(track)
    env.reset(seed=0)
    yaw = math.radians(90.0)
    env.place_car(cell["x"] - 0.14 * math.cos(yaw), cell["y"] - 0.14 * math.sin(yaw), yaw)
    params = env.step(env.actions.default_action)[4]["params"]

    for key in ("x", "y", "heading", "distance_from_center", "track_width", "projection_distance"):
        assert params[key] == pytest.approx(cell[key], abs=1e-9), key
    for key in ("is_left_of_center", "closest_waypoints", "all_wheels_on_track", "is_offtrack"):
        assert params[key] == cell[key], key


def test_replayed_params_are_the_builders_and_equal_the_envs_row_by_row() -> None:
    env = DeepRacerRacetrackEnv(TRACK)
    taken = drive_center_line(env, STEPS)
    run_params = [info["params"] for _, _, info in taken[1:]]  # step 1 is the PREPARE step
    frame = analysis.simtrace_frame([info["simtrace"] for _, _, info in taken])
    seen: list[dict] = []
    analysis.replay_reward(frame, recording(seen), TRACK)

    assert seen == run_params
    track = load_track(TRACK)
    for params in seen:
        pose = pose_from_front(
            track,
            measure_pose(track, params["x"], params["y"]),
            math.radians(params["heading"]),
            params["heading"],
        )
        expected = build_reward_params(
            track,
            pose,
            progress=params["progress"],
            steps=params["steps"],
            speed=params["speed"],
            steering_angle=params["steering_angle"],
            sim_time=params["sim_time"],
            all_wheels_on_track=params["all_wheels_on_track"],
        )
        assert params == expected


def test_replay_shows_the_recorded_heading_and_wheels_flag() -> None:
    env = DeepRacerRacetrackEnv(TRACK)
    frame = analysis.simtrace_frame([info["simtrace"] for _, _, info in drive_center_line(env, 5)])
    frame.loc[4, ["yaw", "on_track"]] = (-180.0, False)  # as a log may hold them
    seen: list[dict] = []
    analysis.replay_reward(frame, recording(seen), TRACK)

    assert seen[-1]["heading"] == -180.0  # the env shows 180.0 for this yaw
    assert seen[-1]["all_wheels_on_track"] is False
    assert seen[-2]["all_wheels_on_track"] is True


@pytest.mark.parametrize("world", [None, OBJECT_AVOIDANCE], ids=["time_trial", "objects"])
def test_glossary_describes_exactly_the_keys_the_builder_produces(world) -> None:
    env = DeepRacerRacetrackEnv(TRACK, params=world)
    params = drive_center_line(env, 3)[-1][2]["params"]

    assert list(REWARD_PARAMS_GLOSSARY) == list(params)
    for name, info in REWARD_PARAMS_GLOSSARY.items():
        assert info.name == name
        assert info.type and info.meaning.endswith("."), name
