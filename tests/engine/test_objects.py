"""Obstacles and bot cars: placement, motion, collisions and the object params
(docs/simulator-contract.md §9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from model_fixtures import CONTINUOUS
from track_fixtures import circle_route

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.objects import (
    BOX_OBSTACLE_DIMENSION,
    OBSTACLE_RGB_BY_TYPE,
    TrackObjects,
    lane_pose,
)
from markov.environment.scripted import CenterLineDriver, action_for
from markov.environment.sensors import Scene, SensorSuite
from markov.environment.world_config import WorldConfig
from markov.tracks import Track

LANE_OFFSET = 1.067 / 4  # lanes run midway between the centre line and each border


def circle_track() -> Track:
    return Track(circle_route(), "circle")  # counter-clockwise, radius 3 m, 18.85 m long


def world(params: dict) -> TrackObjects:
    return TrackObjects(WorldConfig.from_params(params), circle_track())


def make_env(params: dict, sensors=("LIDAR",), **kwargs) -> DeepRacerRacetrackEnv:
    return DeepRacerRacetrackEnv(
        circle_track(),
        model_metadata=CONTINUOUS,
        reward_function=lambda params: 1.0,
        params=params,
        sensors=list(sensors),
        **kwargs,
    )


def hold(env: DeepRacerRacetrackEnv):
    """The slowest straight action (the tests place the car themselves)."""
    return action_for(env.actions, 0.0, 0.5)


def radial(x: float, y: float) -> float:
    return math.hypot(x, y)


def is_left_of_travel(track: Track, x: float, y: float) -> bool:
    near = track.center.project(x, y)
    heading = track.center.direction_at(near.arc_length)
    return math.cos(heading) * (y - near.y) - math.sin(heading) * (x - near.x) > 0


# ------------------------------------------------------------------------------ placement
def test_obstacles_spread_evenly_on_alternating_lanes() -> None:
    objects = world({"RACE_TYPE": "OBJECT_AVOIDANCE", "NUMBER_OF_OBSTACLES": "5"})
    length = objects.length
    d_min = 0.02 * length  # MIN_DISTANCE_BETWEEN_OBSTACLES defaults to 2 % of the lap
    np.testing.assert_allclose(objects.distances, np.linspace(d_min, length - 1.0, 5), atol=0.02)
    assert objects.inner == [True, False, True, False, True]
    radii = [radial(x, y) for x, y in zip(objects.xs, objects.ys, strict=True)]
    expected = [3.0 - LANE_OFFSET, 3.0 + LANE_OFFSET] * 2 + [3.0 - LANE_OFFSET]
    np.testing.assert_allclose(radii, expected, atol=0.01)
    for x, y, yaw in zip(objects.xs, objects.ys, objects.yaws, strict=True):
        tangent = math.atan2(y, x) + math.pi / 2  # along a ccw circle
        assert math.cos(yaw - tangent) > 0.99  # faces along the lane


def test_randomised_obstacles_keep_their_gaps_and_follow_the_seed() -> None:
    params = {
        "RACE_TYPE": "OBJECT_AVOIDANCE",
        "NUMBER_OF_OBSTACLES": "6",
        "MIN_DISTANCE_BETWEEN_OBSTACLES": "10",
        "RANDOMIZE_OBSTACLE_LOCATIONS": "true",
    }
    objects = world(params)
    layouts = []
    for seed in (1, 1, 2):
        objects.reset(np.random.default_rng(seed))
        layouts.append((list(objects.distances), list(objects.inner)))
        d_min = 0.1 * objects.length
        distances = np.array(objects.distances)
        assert distances.min() >= d_min - 0.02 and distances.max() <= objects.length - 1.0 + 0.02
        assert np.all(np.diff(distances) >= d_min - 0.03)  # neighbours stay d_min apart
    assert layouts[0] == layouts[1] and layouts[0] != layouts[2]
    evenly = np.linspace(0.1 * objects.length, objects.length - 1.0, 6)
    assert not np.allclose(layouts[2][0], evenly, atol=0.05)


def test_object_positions_override_count_and_randomisation() -> None:
    objects = world(
        {
            "RACE_TYPE": "OBJECT_AVOIDANCE",
            "NUMBER_OF_OBSTACLES": "6",
            "RANDOMIZE_OBSTACLE_LOCATIONS": "true",
            "OBJECT_POSITIONS": ["0.25,1", "0.5, -1"],
        }
    )
    assert objects.count == 2 and objects.inner == [True, False]
    np.testing.assert_allclose(
        objects.distances, [0.25 * objects.length, 0.5 * objects.length], atol=0.02
    )
    # the same list as one string (how a training_params file reads back) or ';'-separated
    for text in ("['0.25,1', '0.5,-1']", "0.25,1;0.5,-1"):
        params = {"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": text}
        config = WorldConfig.from_params(params)
        assert config.object_positions == ((0.25, 1), (0.5, -1))


def test_obstacles_are_replaced_every_episode_from_the_env_seed() -> None:
    env = make_env({"RACE_TYPE": "OBJECT_AVOIDANCE", "RANDOMIZE_OBSTACLE_LOCATIONS": "true"})
    env.reset(seed=4)
    first = list(env.objects.xs)
    env.step(hold(env))
    env.reset()
    assert env.objects.xs != first
    env.reset(seed=4)
    assert env.objects.xs == first


def test_only_the_matching_race_type_has_objects() -> None:
    for race, count in [("TIME_TRIAL", 0), ("HEAD_TO_BOT", 3), ("OBJECT_AVOIDANCE", 6)]:
        config = WorldConfig.from_params({"RACE_TYPE": race, "NUMBER_OF_OBSTACLES": "6"})
        assert config.obstacle_count + config.bot_car_count == count
    env = make_env({"RACE_TYPE": "TIME_TRIAL", "NUMBER_OF_OBSTACLES": "4"})
    env.reset(seed=1)
    _, _, _, _, info = env.step(hold(env))
    assert env.objects is None and info["params"]["objects_location"] == []


def test_obstacle_types_differ_in_colour_only_and_parked_cars_use_the_car_footprint() -> None:
    boxes = {
        kind: world({"RACE_TYPE": "OBJECT_AVOIDANCE", "OBSTACLE_TYPE": kind})
        for kind in OBSTACLE_RGB_BY_TYPE
    }
    assert len({objects.boxes[0].rgb for objects in boxes.values()}) == 3
    rectangles = [objects.floor_points(0) for objects in boxes.values()]
    assert rectangles[0] == rectangles[1] == rectangles[2]  # one collision box for all types
    box = boxes["box_obstacle"]
    parked = world({"RACE_TYPE": "OBJECT_AVOIDANCE", "IS_OBSTACLE_BOT_CAR": "true"})
    centre, corner = box.floor_points(0)[:2]
    assert math.dist(centre[:2], corner[:2]) == pytest.approx(
        0.5 * math.hypot(*BOX_OBSTACLE_DIMENSION)
    )
    centre, corner = parked.floor_points(0)[:2]
    assert math.dist(centre[:2], corner[:2]) == pytest.approx(0.5 * math.hypot(0.1961, 0.32352))
    assert parked.boxes[0].rgb not in {objects.boxes[0].rgb for objects in boxes.values()}


# ------------------------------------------------------------------------------ bot cars
def test_bot_car_drives_at_its_speed_and_wraps_around_the_lap() -> None:
    objects = world({"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "1", "BOT_CAR_SPEED": "0.5"})
    length = objects.length
    assert objects.distances[0] == pytest.approx(2.0, abs=0.02)  # MIN_DISTANCE_BETWEEN_BOT_CARS
    objects.advance(4.0)
    assert objects.distances[0] == pytest.approx(4.0, abs=0.02)
    assert radial(objects.xs[0], objects.ys[0]) == pytest.approx(3.0 - LANE_OFFSET, abs=0.01)
    tangent = math.atan2(objects.ys[0], objects.xs[0]) + math.pi / 2
    assert math.cos(objects.yaws[0] - tangent) > 0.999
    objects.advance(40.0)  # 2.0 + 20.0 m: past the line
    assert objects.distances[0] == pytest.approx(22.0 - length, abs=0.02)


def test_bot_car_changes_lane_within_the_drawn_window() -> None:
    objects = world(
        {
            "RACE_TYPE": "HEAD_TO_BOT",
            "NUMBER_OF_BOT_CARS": "1",
            "BOT_CAR_SPEED": "0.5",
            "IS_LANE_CHANGE": "true",
            "LOWER_LANE_CHANGE_TIME": "1.0",
            "UPPER_LANE_CHANGE_TIME": "2.0",
            "LANE_CHANGE_DISTANCE": "1.0",
        }
    )
    for seed in (3, 8):
        objects.reset(np.random.default_rng(seed))
        started = None
        for step in range(1, 60):
            objects.advance(step / 15)
            leaving = radial(objects.xs[0], objects.ys[0]) > 3.0 - LANE_OFFSET + 0.002
            if started is None and leaving:
                started = step / 15
        assert started is not None and 1.0 <= started <= 2.0 + 1 / 15
        objects.advance(started + 1.0 / 0.5 + 0.1)  # the change takes distance / speed seconds
        assert radial(objects.xs[0], objects.ys[0]) == pytest.approx(3.0 + LANE_OFFSET, abs=0.01)
        assert objects.left_of_center[0] is False and objects.inner[0] is False


def test_lane_change_is_smooth() -> None:
    objects = world(
        {
            "RACE_TYPE": "HEAD_TO_BOT",
            "NUMBER_OF_BOT_CARS": "1",
            "IS_LANE_CHANGE": "true",
            "LOWER_LANE_CHANGE_TIME": "0.5",
            "UPPER_LANE_CHANGE_TIME": "0.5",
        }
    )
    poses = []
    for step in range(150):
        objects.advance(step / 15)
        poses.append((objects.xs[0], objects.ys[0], objects.yaws[0]))
    poses = np.array(poses)
    jumps = np.hypot(*np.diff(poses[:, :2], axis=0).T)
    assert jumps.max() < 0.02  # no jumps: at most ~0.017 m per step while changing lanes
    turns = np.abs(np.angle(np.exp(1j * np.diff(poses[:, 2]))))
    assert turns.max() < 0.1


# ------------------------------------------------------------------------------ collisions
def test_collision_needs_an_agent_corner_strictly_inside() -> None:
    objects = world({"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": ["0.0,1"]})
    ox, oy, yaw = objects.xs[0], objects.ys[0], objects.yaws[0]
    along = (math.cos(yaw), math.sin(yaw))
    half_box, half_car = BOX_OBSTACLE_DIMENSION[1] / 2, 0.32352 / 2

    def agent_at(gap: float) -> int:  # agent behind the box, nose ``gap`` m short of its back
        back = half_box + half_car + gap
        return objects.first_collision(ox - back * along[0], oy - back * along[1], yaw)

    assert agent_at(0.01) == -1
    assert agent_at(0.0) == -1  # touching is not a crash
    assert agent_at(-0.01) == 0


@pytest.fixture
def head_to_bot() -> DeepRacerRacetrackEnv:
    env = make_env({"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "1"})
    env.reset(seed=1)
    env.step(hold(env))  # PREPARE
    return env


def place_next_to_bot(env: DeepRacerRacetrackEnv, along_m: float) -> None:
    """Put the agent ``along_m`` ahead (+) or behind (-) the bot car, 2 cm to its side."""
    bot = env.objects
    x, y, yaw = bot.xs[0], bot.ys[0], bot.yaws[0]
    side = (-math.sin(yaw), math.cos(yaw))
    env.place_car(
        x + along_m * math.cos(yaw) + 0.02 * side[0],
        y + along_m * math.sin(yaw) + 0.02 * side[1],
        yaw,
    )


def test_rear_ending_a_bot_car_is_a_crash_that_ends_training(head_to_bot) -> None:
    env = head_to_bot
    place_next_to_bot(env, -0.3)
    _, _, terminated, _, info = env.step(hold(env))
    assert info["episode_status"] == "crashed" and terminated
    assert info["params"]["is_crashed"] is True


def test_in_evaluation_rear_ending_a_bot_car_pauses_the_car_where_it_is() -> None:
    env = make_env(
        {"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_RESETS": "3", "COLLISION_PENALTY": "1.0"},
        evaluation=True,
    )
    env.reset(seed=1)
    env.step(hold(env))
    place_next_to_bot(env, -0.3)
    before = (env.car.x, env.car.y)
    _, _, terminated, _, info = env.step(hold(env))
    assert info["episode_status"] == "crashed" and not terminated and info["resets"] == 1
    assert (env.car.x, env.car.y) == before  # no respawn: the bot car drives on
    _, _, _, _, info = env.step(hold(env))
    assert info["episode_status"] == "pause"


def test_a_bot_car_hitting_the_agent_pauses_the_bots(head_to_bot) -> None:
    env = head_to_bot
    place_next_to_bot(env, 0.3)
    elapsed = env.sim_time  # the seeded episode started at sim time 0
    _, _, terminated, _, info = env.step(hold(env))
    assert info["episode_status"] == "in_progress" and not terminated
    assert info["params"]["is_crashed"] is False
    assert env.objects.bots_paused_until == pytest.approx(elapsed + 2.0)  # PENALTY_SECONDS
    frozen = env.objects.distances[0]
    env.place_car(*env.track.start_pose(0.5))  # drive on, far from the bot car
    driver = CenterLineDriver(speed=1.0)
    for _ in range(int(2.0 * 15) - 2):
        env.step(driver.act(env))
        assert env.objects.distances[0] == frozen
    for _ in range(4):
        env.step(driver.act(env))
    assert env.objects.distances[0] > frozen


def test_evaluation_crash_into_an_obstacle_pauses_and_respawns_behind_it() -> None:
    env = make_env(
        {
            "RACE_TYPE": "OBJECT_AVOIDANCE",
            "OBJECT_POSITIONS": ["0.3,1"],
            "NUMBER_OF_RESETS": "1",
            "COLLISION_PENALTY": "1.0",
        },
        evaluation=True,
    )
    env.reset(seed=1)
    env.step(hold(env))
    obstacle_arc = env.objects.distances[0]
    x, y, yaw = lane_pose(env.track, obstacle_arc - 0.4, inner=True)
    env.place_car(x, y, yaw)
    _, _, terminated, _, info = env.step(hold(env))
    assert info["episode_status"] == "crashed" and not terminated
    assert info["params"]["is_crashed"] is True and info["resets"] == 1
    car = env.car
    assert env.track.center.project(car.x, car.y).arc_length == pytest.approx(
        obstacle_arc - 1.0, abs=0.05
    )  # RESET_BEHIND_DIST
    assert radial(car.x, car.y) == pytest.approx(3.0 + LANE_OFFSET, abs=0.01)  # other lane
    statuses = []
    for _ in range(15):
        _, _, _, _, info = env.step(hold(env))
        statuses.append(info["episode_status"])
    assert statuses == ["pause"] * 15
    assert env.step(hold(env))[4]["episode_status"] == "in_progress"


def test_mercy_reset_puts_the_car_ahead_after_repeated_crashes() -> None:
    env = make_env(
        {
            "RACE_TYPE": "OBJECT_AVOIDANCE",
            "OBJECT_POSITIONS": ["0.3,1"],
            "NUMBER_OF_RESETS": "5",
            "COLLISION_PENALTY": "0",
            "ENABLE_MERCY_RESET": "true",
            "MAX_RESETS_AFTER_CRASH": "2",
        },
        evaluation=True,
    )
    env.reset(seed=1)
    env.step(hold(env))
    obstacle_arc = env.objects.distances[0]
    counters, arcs = [], []
    for _ in range(2):
        env.place_car(*lane_pose(env.track, obstacle_arc - 0.4, inner=True))
        _, _, _, _, info = env.step(hold(env))
        assert info["episode_status"] == "crashed"
        counters.append(info["simtrace"]["obstacle_crash_counter"])
        arcs.append(env.track.center.project(env.car.x, env.car.y).arc_length)
    assert counters == [1, 0]
    assert arcs == pytest.approx([obstacle_arc - 1.0, obstacle_arc + 1.0], abs=0.05)


# ------------------------------------------------------------------------------ params
def test_obstacle_params_types_units_and_order() -> None:
    env = make_env({"RACE_TYPE": "OBJECT_AVOIDANCE"}, evaluation=True)
    env.reset(seed=1)
    _, _, _, _, info = env.step(hold(env))
    p = info["params"]
    objects = env.objects
    assert p["objects_location"] == [[x, y] for x, y in zip(objects.xs, objects.ys, strict=True)]
    assert all(type(v) is list and len(v) == 2 for v in p["objects_location"])
    assert p["objects_distance"] == pytest.approx(sorted(p["objects_distance"]))
    assert p["objects_distance_from_center"] == pytest.approx([LANE_OFFSET] * 6, abs=0.01)
    assert p["objects_left_of_center"] == [True, False] * 3
    assert p["objects_heading"] == [0.0] * 6 and p["objects_speed"] == [0.0] * 6
    assert p["closest_objects"] == [5, 0]  # the car is before the first obstacle
    for key in ("objects_distance", "objects_distance_from_center", "objects_heading"):
        assert all(type(v) is float for v in p[key]), key
    assert all(type(v) is bool for v in p["objects_left_of_center"])
    assert all(type(v) is int for v in p["closest_objects"])
    assert isinstance(p["object_in_camera"], bool)
    assert info["simtrace"]["obstacle_crash_counter"] == 0


@pytest.mark.parametrize("reverse", [False, True])
def test_objects_left_of_center_follows_the_driving_direction(reverse: bool) -> None:
    params = {"RACE_TYPE": "HEAD_TO_BOT", "REVERSE_DIR": str(reverse).lower()}
    for race in ("OBJECT_AVOIDANCE", "HEAD_TO_BOT"):
        params["RACE_TYPE"] = race
        env = make_env(params, evaluation=True)
        env.reset(seed=1)
        _, _, _, _, info = env.step(hold(env))
        p = info["params"]
        track = env.track
        assert p["is_reversed"] is reverse
        expected = [is_left_of_travel(track, x, y) for x, y in p["objects_location"]]
        assert p["objects_left_of_center"] == expected
        projected = [track.center.project(x, y).arc_length for x, y in p["objects_location"]]
        assert p["objects_distance"] == pytest.approx(projected, abs=0.02)
        # the inner lane is on the left when driving counter-clockwise
        assert expected[0] is (not reverse)


def test_bot_car_params_report_heading_in_radians_and_the_bot_speed() -> None:
    env = make_env({"RACE_TYPE": "HEAD_TO_BOT", "BOT_CAR_SPEED": "0.3"}, evaluation=True)
    env.reset(seed=1)
    for _ in range(10):
        _, _, _, _, info = env.step(hold(env))
    p = info["params"]
    assert p["objects_speed"] == [0.3, 0.3, 0.3]
    for (x, y), heading in zip(p["objects_location"], p["objects_heading"], strict=True):
        tangent = math.atan2(y, x) + math.pi / 2
        assert math.cos(heading - tangent) > 0.999 and -math.pi <= heading <= math.pi
    # 9 steps of 1/15 s after the PREPARE step at 0.3 m/s from linspace(2.0, L - 1, 3)
    start = np.linspace(2.0, env.track.length - 1.0, 3)
    moved = (start + 0.3 * 9 / 15) % env.track.length
    assert p["objects_distance"] == pytest.approx(moved.tolist(), abs=0.03)


def test_object_in_camera_for_an_object_ahead_but_not_behind() -> None:
    env = make_env({"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": ["0.2,1"]})
    env.reset(seed=1)
    env.step(hold(env))
    arc = env.objects.distances[0] - 1.5
    x, y, yaw = env.track.start_pose(arc / env.track.length)
    env.place_car(x, y, yaw)
    _, _, _, _, info = env.step(hold(env))
    assert info["params"]["closest_objects"] == [0, 0]
    assert info["params"]["object_in_camera"] is True
    env.place_car(x, y, yaw + math.pi)
    _, _, _, _, info = env.step(hold(env))
    assert info["params"]["object_in_camera"] is False


def test_camera_and_lidar_see_the_objects() -> None:
    sensors = ("FRONT_FACING_CAMERA", "LIDAR")
    with_box = make_env(
        {"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": ["0.03,1"]},
        sensors=sensors,
        evaluation=True,
    )
    without = make_env({}, sensors=sensors, evaluation=True)
    seen, plain = with_box.reset(seed=2)[0], without.reset(seed=2)[0]
    assert (with_box.car.x, with_box.car.y) == (without.car.x, without.car.y)
    changed = np.count_nonzero(seen["FRONT_FACING_CAMERA"] != plain["FRONT_FACING_CAMERA"])
    assert changed > 200
    assert np.min(seen["LIDAR"]) < np.min(plain["LIDAR"]) - 0.2


def test_leaving_out_unseen_objects_keeps_the_observation() -> None:
    track = circle_track()
    scene = Scene.from_track(*track.lines(), track.closed)
    objects = world({"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "6"})
    rng = np.random.default_rng(0)
    sensors = ["FRONT_FACING_CAMERA", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR"]
    left_out = 0
    for _ in range(40):
        objects.advance(rng.uniform(0.0, 60.0))
        near = rng.integers(objects.count)
        angle, reach = rng.uniform(-math.pi, math.pi), rng.uniform(0.2, 2.0)
        x = objects.xs[near] + reach * math.cos(angle)
        y = objects.ys[near] + reach * math.sin(angle)
        yaw = rng.uniform(-math.pi, math.pi)
        seen = objects.boxes_seen(x, y, yaw, camera=True, lidar_reach=2.0)
        left_out += objects.count - len(seen)
        full = SensorSuite(scene, sensors, None, np.random.default_rng(1))
        culled = SensorSuite(scene, sensors, None, np.random.default_rng(1))
        expected, observed = full.observe(x, y, yaw, objects.boxes), culled.observe(x, y, yaw, seen)
        for name in sensors:
            np.testing.assert_array_equal(observed[name], expected[name])
    assert left_out > 40 * 3  # most bot cars are out of sight at any moment


def test_top_down_view_draws_the_objects() -> None:
    env = make_env({"RACE_TYPE": "HEAD_TO_BOT"}, render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    colours = {tuple(c) for c in frame.reshape(-1, 3)}
    assert env.objects.boxes[0].rgb in colours


# ------------------------------------------------------------------------------ start pose
@pytest.mark.parametrize(
    ("lane", "expected_radius"), [("1", 3.0 + LANE_OFFSET), ("-1", 3.0 - LANE_OFFSET)]
)
def test_training_starts_on_the_lane_opposite_a_nearby_object(lane, expected_radius) -> None:
    params = {"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": [f"0.03,{lane}"]}
    env = make_env(params)
    env.reset(seed=1)
    assert radial(env.car.x, env.car.y) == pytest.approx(expected_radius, abs=0.01)
    assert math.cos(env.car.yaw - math.pi / 2) > 0.99  # still facing along the track
    evaluation = make_env(params, evaluation=True)
    evaluation.reset(seed=1)
    assert radial(evaluation.car.x, evaluation.car.y) == pytest.approx(3.0, abs=1e-6)
    far = make_env({"RACE_TYPE": "OBJECT_AVOIDANCE", "OBJECT_POSITIONS": ["0.3,1"]})
    far.reset(seed=1)
    assert radial(far.car.x, far.car.y) == pytest.approx(3.0, abs=1e-6)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"NUMBER_OF_OBSTACLES": "-1"}, "NUMBER_OF_OBSTACLES"),
        ({"NUMBER_OF_BOT_CARS": "many"}, "NUMBER_OF_BOT_CARS"),
        ({"OBJECT_POSITIONS": ["1.5,1"]}, "OBJECT_POSITIONS"),
        ({"OBJECT_POSITIONS": ["0.5,2"]}, "OBJECT_POSITIONS"),
        ({"OBJECT_POSITIONS": "0.5"}, "OBJECT_POSITIONS"),
        ({"OBSTACLE_TYPE": "crate"}, "OBSTACLE_TYPE"),
        ({"BOT_CAR_SPEED": "0"}, "BOT_CAR_SPEED"),
        ({"LOWER_LANE_CHANGE_TIME": "4", "UPPER_LANE_CHANGE_TIME": "2"}, "UPPER_LANE_CHANGE_TIME"),
        ({"MIN_DISTANCE_BETWEEN_OBSTACLES": "nan"}, "MIN_DISTANCE_BETWEEN_OBSTACLES"),
        ({"PENALTY_SECONDS": "-2"}, "PENALTY_SECONDS"),
    ],
)
def test_bad_object_settings_name_the_key(params, key) -> None:
    with pytest.raises(ValueError, match=key):
        make_env({"RACE_TYPE": "OBJECT_AVOIDANCE", **params})


def test_more_objects_than_fit_on_the_track_are_refused() -> None:
    with pytest.raises(ValueError, match=r"NUMBER_OF_OBSTACLES.*only"):
        make_env(
            {
                "RACE_TYPE": "OBJECT_AVOIDANCE",
                "NUMBER_OF_OBSTACLES": "12",
                "MIN_DISTANCE_BETWEEN_OBSTACLES": "10",
            }
        )
    with pytest.raises(ValueError, match=r"NUMBER_OF_BOT_CARS.*only"):
        make_env({"RACE_TYPE": "HEAD_TO_BOT", "NUMBER_OF_BOT_CARS": "9"})
