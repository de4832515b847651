"""Head-to-head races (markov.races.head_to_head, DeepRacerRacetrackEnv.set_other_cars) and the
evaluation worker with the head2head YAML."""

from __future__ import annotations

import math
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import yaml

from markov.agents.restore import build_agent, checkpoint_files
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.car_geometry import FRONT_POINT_OFFSET_M
from markov.environment.model_metadata import load_model_metadata
from markov.environment.scripted import CenterLineDriver
from markov.environment.sensors import BOT_CAR_RGB
from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.simtrace import SIMTRACE_HEADER, read_simtrace
from markov.presets.preset import Hyperparameters
from markov.races.head_to_head import GRID_GAP_M, race
from markov.races.settings import EvaluationSettings
from markov.races.trials import scripted_policy
from markov.store import open_store
from markov.tracks import load_track
from markov.workers.evaluation import EXIT_BAD_INPUT, main
from markov.workers.failure import FAILURE_MARKER

TRACK = "Workshop_Oval"
HEAD2HEAD_TEMPLATE = (
    Path(__file__).resolve().parents[2] / "src/artifacts/yaml/head2head_yaml_template.yaml"
)
CONTINUOUS = {
    "action_space": {
        "steering_angle": {"low": -30.0, "high": 30.0},
        "speed": {"low": 0.5, "high": 3.0},
    },
    "action_space_type": "continuous",
    "sensor": ["FRONT_FACING_CAMERA", "LIDAR"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "version": "5",
}
CAMERA_METADATA = {
    "action_space": [{"steering_angle": angle, "speed": 1.0} for angle in (-30, 0, 30)],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "version": "5",
}
MODELS = ("alpha", "beta")
HEAD_TO_MODEL_ONE_TRIAL = EvaluationSettings(number_of_trials=1, race_type="HEAD_TO_MODEL")
EVALUATION_ID = "20260101120000"


def drivers(*speeds: float) -> list:
    """Centre-line drivers at the given speeds (m/s), as race policies."""
    return [scripted_policy(CenterLineDriver(speed=speed)) for speed in speeds]


def statuses(rows: list[dict]) -> list[str]:
    return [row["episode_status"] for row in rows]


# ------------------------------------------------------------------------------ the env API
def test_other_cars_are_seen_drawn_and_removed() -> None:
    def env() -> DeepRacerRacetrackEnv:
        return DeepRacerRacetrackEnv(TRACK, CONTINUOUS, render_mode="rgb_array", evaluation=True)

    alone, racing = env(), env()
    plain, _ = alone.reset(seed=0)
    racing.reset(seed=0)
    car = racing.car
    c, s = math.cos(car.yaw), math.sin(car.yaw)
    ahead = (car.x + 0.6 * c, car.y + 0.6 * s, car.yaw, 1.0)  # in the camera's view
    beside = (car.x - 0.35 * s, car.y + 0.35 * c, car.yaw, 0.5)  # in the lidar's
    racing.set_other_cars([ahead, beside])
    seen, _, _, _, info = racing.step(np.zeros(2, np.float32))

    assert np.count_nonzero(seen["FRONT_FACING_CAMERA"] != plain["FRONT_FACING_CAMERA"]) > 200
    assert np.min(seen["LIDAR"]) < np.min(plain["LIDAR"]) - 0.2
    assert info["params"]["objects_speed"] == [1.0, 0.5]
    assert info["params"]["object_in_camera"] is True
    assert BOT_CAR_RGB in {tuple(c) for c in racing.render().reshape(-1, 3)}

    racing.set_other_cars(())
    assert racing.objects is None  # a race without other cars steps as a time trial does
    with pytest.raises(ValueError, match=r"pose 0 is \(1\.0, 2\.0\); give \(x, y, yaw, speed\)"):
        racing.set_other_cars([(1.0, 2.0)])


# ------------------------------------------------------------------------------ race()
def test_each_car_sees_the_other_with_its_distance_heading_and_speed() -> None:
    seen: list[list[dict]] = [[], []]

    def recorder(car: int):
        def reward_function(params: dict) -> float:
            seen[car].append(params)
            return 1.0

        return reward_function

    race(
        drivers(1.5, 1.0),
        TRACK,
        [CONTINUOUS, CONTINUOUS],
        HEAD_TO_MODEL_ONE_TRIAL,
        reward_functions=[recorder(0), recorder(1)],
    )

    length = load_track(TRACK).length
    first_step = [seen[0][0], seen[1][0]]  # the cars stand on the grid, 1 m apart
    assert first_step[0]["objects_distance"] == pytest.approx([length - GRID_GAP_M])
    assert first_step[1]["objects_distance"] == pytest.approx([0.0])
    center = load_track(TRACK).center
    in_turns = 0
    for car, other in [(0, 1), (1, 0)]:
        for params, other_params in zip(seen[car], seen[other], strict=False):
            heading = math.radians(other_params["heading"])
            origin = (
                other_params["x"] - FRONT_POINT_OFFSET_M * math.cos(heading),
                other_params["y"] - FRONT_POINT_OFFSET_M * math.sin(heading),
            )
            (location,) = params["objects_location"]
            (object_heading,) = params["objects_heading"]
            assert location == pytest.approx(origin, abs=1e-9)
            assert math.cos(object_heading - heading) == pytest.approx(1.0, abs=1e-12)
            assert params["objects_distance"] == pytest.approx(
                [center.project(*origin).arc_length], abs=1e-9
            )
            in_turns += abs(math.sin(heading)) > 0.5
    assert in_turns > 50  # headings all round the lap were compared, in radians
    together = len(seen[0])  # steps until the faster car completed its lap
    assert seen[0][together - 1]["objects_speed"] == pytest.approx([1.0], abs=0.01)
    assert seen[1][together - 1]["objects_speed"] == pytest.approx([1.5], abs=0.01)


def test_a_faster_car_that_runs_into_a_slower_one_from_behind_is_crashed_not_the_slower() -> None:
    slow, fast = race(
        drivers(0.6, 2.0),  # the fast car starts 1 m behind the slow one
        TRACK,
        [CONTINUOUS, CONTINUOUS],
        EvaluationSettings(
            number_of_trials=1,
            number_of_resets=100,
            collision_penalty=1.0,
            race_type="HEAD_TO_MODEL",
        ),
    )

    (fast_trial,) = fast.trials
    assert fast_trial.crash_count >= 1
    first_crash = statuses(fast.simtrace_rows).index("crashed")
    assert statuses(fast.simtrace_rows)[first_crash + 1 : first_crash + 16] == ["pause"] * 15
    assert "crashed" not in statuses(slow.simtrace_rows)
    assert slow.trials[0].crash_count == 0
    assert [slow.trials[0].episode_status, fast_trial.episode_status] == ["Lap complete"] * 2


def test_cars_that_do_not_meet_both_complete_every_lap_starting_together() -> None:
    settings = EvaluationSettings(number_of_trials=2, race_type="HEAD_TO_MODEL")
    results = race(drivers(1.5, 1.0), TRACK, [CONTINUOUS, CONTINUOUS], settings)

    for result in results:
        assert [trial.episode_status for trial in result.trials] == ["Lap complete"] * 2
        assert [trial.reset_count for trial in result.trials] == [0, 0]
        assert {row["episode"] for row in result.simtrace_rows} == {0, 1}
    fast, slow = results
    second_start = max(fast.trials[0].end_time_s, slow.trials[0].end_time_s)
    assert fast.trials[1].start_time_s == slow.trials[1].start_time_s == second_start
    grid = [result.simtrace_rows[0] for result in results]
    assert math.dist((grid[0]["X"], grid[0]["Y"]), (grid[1]["X"], grid[1]["Y"])) == pytest.approx(
        GRID_GAP_M
    )


def test_race_refuses_a_list_per_car_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="model_metadatas has 1 entries for 2 policies"):
        race(drivers(1.0, 1.0), TRACK, [CONTINUOUS], HEAD_TO_MODEL_ONE_TRIAL)


# ------------------------------------------------------------------------------ the worker
@pytest.fixture(scope="module")
def checkpoint_bytes() -> dict[str, bytes]:
    """The files of an untrained shallow camera model (built once; published per test)."""
    agent = build_agent(load_model_metadata(CAMERA_METADATA), Hyperparameters(), seed=0)
    return checkpoint_files(agent, {"iteration": 0})


@pytest.fixture
def model_store(tmp_path, checkpoint_bytes) -> Path:
    """A store folder with checkpoint 0 and model_metadata.json under each of MODELS."""
    store = open_store(tmp_path / "store")
    for prefix in MODELS:
        CheckpointPublisher(store, prefix).publish(0, 0, checkpoint_bytes)
        store.put_json(f"{prefix}/model/model_metadata.json", CAMERA_METADATA)
    return tmp_path / "store"


def head2head_yaml(store_folder: Path, prefixes=MODELS, **overrides) -> dict[str, str]:
    """Write the head2head template filled in as the notebook does; the worker's environment."""
    params = yaml.safe_load(HEAD2HEAD_TEMPLATE.read_text())
    params.update(
        {
            "WORLD_NAME": TRACK,
            "RACE_TYPE": "HEAD_TO_MODEL",
            "MODEL_S3_PREFIX": list(prefixes),
            "MODEL_METADATA_FILE_S3_KEY": [f"{p}/model/model_metadata.json" for p in prefixes],
            "METRICS_S3_OBJECT_KEY": [f"{p}/evaluation_metrics.json" for p in prefixes],
            "DISPLAY_NAME": list(prefixes),
            **overrides,
        }
    )
    open_store(store_folder).put_text("head2head_params.yaml", yaml.safe_dump(params))
    return {
        "MODEL_STORE_URL": store_folder.as_uri(),
        "S3_YAML_NAME": "head2head_params.yaml",
        "NUMBER_OF_TRIALS": "1",
        "NUMBER_OF_RESETS": "0",  # untrained models: a trial ends at their first mistake
        "EVALUATION_ID": EVALUATION_ID,
    }


def test_worker_writes_each_models_metrics_and_simtrace_under_its_prefix(model_store, capsys):
    assert main(head2head_yaml(model_store)) == 0

    rows = {}
    for prefix in MODELS:
        folder = model_store / prefix
        metrics = yaml.safe_load((folder / "evaluation_metrics.json").read_text())
        assert [entry["trial"] for entry in metrics["metrics"]] == [1]
        simtrace = folder / f"evaluation-{EVALUATION_ID}/evaluation-simtrace/0-iteration.csv"
        assert simtrace.read_text().splitlines()[0] == SIMTRACE_HEADER
        rows[prefix] = read_simtrace(simtrace)
    starts = [(rows[prefix][0]["X"], rows[prefix][0]["Y"]) for prefix in MODELS]
    assert math.dist(*starts) == pytest.approx(GRID_GAP_M)  # each file holds its own car

    videos = [model_store / prefix / f"mp4/evaluation-{EVALUATION_ID}.mp4" for prefix in MODELS]
    assert videos[0].read_bytes() == videos[1].read_bytes()  # one video of the race
    frames = imageio_ffmpeg.count_frames_and_secs(str(videos[0]))[0]
    assert frames == max(len(car_rows) for car_rows in rows.values())
    log = capsys.readouterr().out
    assert "Evaluation> car=2, done: " in log


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"METRICS_S3_OBJECT_KEY": ["a.json", "b.json", "c.json"]},
            "METRICS_S3_OBJECT_KEY lists 3 values but MODEL_S3_PREFIX names 2 models",
        ),
        ({"MODEL_S3_PREFIX": ["alpha", ""]}, "MODEL_S3_PREFIX entry 2 is empty"),
        ({"NUMBER_OF_OBSTACLES": ["1", "2"]}, "NUMBER_OF_OBSTACLES lists 2 values; it is one"),
        ({"METRICS_S3_OBJECT_KEY": ["m.json", "m.json"]}, "gives 'm.json' to more than one"),
        ({"RACE_TYPE": "HEAD_TO_BOT"}, "cannot have bot cars"),
    ],
)
def test_bad_head2head_settings_exit_3_naming_the_key(model_store, capsys, overrides, message):
    assert main(head2head_yaml(model_store, **overrides)) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_a_missing_model_exits_3_naming_its_prefix(model_store, capsys):
    assert main(head2head_yaml(model_store, prefixes=("alpha", "gamma"))) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert FAILURE_MARKER in error
    assert "gamma/model" in error and "No checkpoint" in error
