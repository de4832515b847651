"""Simulation YAML templates and the helpers that fill, validate and write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from markov.environment.world_config import WorldConfig
from markov.formats.run_inputs import training_params
from workshop_helpers.experiment import new_experiment
from workshop_helpers.paths import artifacts_dir
from workshop_helpers.yaml_params import (
    ParamsError,
    evaluation_params_for,
    load_template,
    training_params_for,
    validate_params,
    write_params,
)

COMMON_KEYS = {
    "JOB_TYPE", "WORLD_NAME", "AWS_REGION", "ROBOMAKER_SIMULATION_JOB_ACCOUNT_ID", "REVERSE_DIR",
    "NUMBER_OF_OBSTACLES", "MIN_DISTANCE_BETWEEN_OBSTACLES", "RANDOMIZE_OBSTACLE_LOCATIONS",
    "IS_OBSTACLE_BOT_CAR", "NUMBER_OF_BOT_CARS", "IS_LANE_CHANGE", "LOWER_LANE_CHANGE_TIME",
    "UPPER_LANE_CHANGE_TIME", "LANE_CHANGE_DISTANCE", "MIN_DISTANCE_BETWEEN_BOT_CARS",
    "RANDOMIZE_BOT_CAR_LOCATIONS", "BOT_CAR_SPEED", "RACE_TYPE", "VIDEO_JOB_TYPE",
    "SIMTRACE_S3_BUCKET", "SIMTRACE_S3_PREFIX", "MP4_S3_BUCKET", "MP4_S3_OBJECT_PREFIX",
    "METRICS_S3_BUCKET", "NUMBER_OF_RESETS", "DISPLAY_NAME", "RACER_NAME", "MODEL_NAME",
    "BODY_SHELL_TYPE",
}  # fmt: skip
EVALUATION_KEYS = COMMON_KEYS | {
    "MODEL_S3_BUCKET", "MODEL_S3_PREFIX", "NUMBER_OF_TRIALS", "PENALTY_SECONDS", "IS_CONTINUOUS",
    "OFF_TRACK_PENALTY", "COLLISION_PENALTY",
}  # fmt: skip
EXPECTED_KEYS = {
    "training": COMMON_KEYS | {
        "SAGEMAKER_SHARED_S3_BUCKET", "SAGEMAKER_SHARED_S3_PREFIX", "TRAINING_JOB_ARN",
        "METRICS_S3_OBJECT_KEY", "TARGET_REWARD_SCORE", "NUMBER_OF_EPISODES",
        "CHANGE_START_POSITION", "ALTERNATE_DRIVING_DIRECTION", "KINESIS_VIDEO_STREAM_NAME",
        "REWARD_FILE_S3_KEY", "MODEL_METADATA_FILE_S3_KEY", "CAR_COLOR",
        "ENABLE_DOMAIN_RANDOMIZATION", "NUM_WORKERS", "MIN_EVAL_TRIALS", "BEST_MODEL_METRIC",
        "ROUND_ROBIN_ADVANCE_DIST",
    },
    "evaluation": EVALUATION_KEYS | {
        "METRICS_S3_OBJECT_KEY", "CAR_COLOR", "ENABLE_DOMAIN_RANDOMIZATION",
    },
    "head2head": EVALUATION_KEYS | {
        "METRICS_S3_OBJECT_KEY", "CAR_COLOR", "MODEL_METADATA_FILE_S3_KEY",
    },
    "tournament": EVALUATION_KEYS | {
        "METRICS_S3_PREFIX", "ENABLE_DOMAIN_RANDOMIZATION", "MODEL_METADATA_FILE_S3_KEY",
    },
}  # fmt: skip
PER_CAR_KEYS = {
    "MODEL_S3_BUCKET", "MODEL_S3_PREFIX", "MODEL_METADATA_FILE_S3_KEY", "METRICS_S3_BUCKET",
    "SIMTRACE_S3_BUCKET", "SIMTRACE_S3_PREFIX", "MP4_S3_BUCKET", "MP4_S3_OBJECT_PREFIX",
    "DISPLAY_NAME", "RACER_NAME", "MODEL_NAME",
}  # fmt: skip
CARS = {"head2head": 2, "tournament": 4}


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    return new_experiment("yaml")


@pytest.mark.parametrize("kind", sorted(EXPECTED_KEYS))
def test_template_has_every_documented_key_as_strings(kind):
    template = load_template(kind)
    assert EXPECTED_KEYS[kind] <= set(template)
    assert template["BODY_SHELL_TYPE"] in ("deepracer", ["deepracer"] * CARS.get(kind, 1))
    for key, value in template.items():
        items = value if isinstance(value, list) else [value]
        assert all(isinstance(item, str) for item in items), key


@pytest.mark.parametrize("kind", sorted(CARS))
def test_multi_car_templates_have_one_entry_per_car(kind):
    template = load_template(kind)
    for key in PER_CAR_KEYS | {"METRICS_S3_OBJECT_KEY", "METRICS_S3_PREFIX"}:
        if key in template:
            assert len(template[key]) == CARS[kind], key
    assert template["JOB_TYPE"] == "EVALUATION"


def test_template_values_match_the_workshop():
    training = load_template("training")
    assert training["NUMBER_OF_EPISODES"] == "0"
    assert training["TARGET_REWARD_SCORE"] == "None"
    assert training["METRICS_S3_OBJECT_KEY"] == "/training_metrics.json"
    assert training["ROUND_ROBIN_ADVANCE_DIST"] == "0.05"
    assert "MODEL_METADATA_FILE_S3_KEY" not in load_template("evaluation")
    tournament = load_template("tournament")
    assert (tournament["LOWER_LANE_CHANGE_TIME"], tournament["UPPER_LANE_CHANGE_TIME"]) == (
        "1.0",
        "10.0",
    )
    assert "METRICS_S3_OBJECT_KEY" not in tournament and "CAR_COLOR" not in tournament
    assert load_template("head2head")["COLLISION_PENALTY"] == "5.0"


def test_templates_keep_the_commented_examples():
    for kind in ("training", "evaluation", "head2head", "tournament"):
        text = (artifacts_dir() / "yaml" / f"{kind}_yaml_template.yaml").read_text()
        assert text.startswith("# ")
        assert '# LEADERBOARD_TYPE: "LEAGUE"' in text and "# LEADERBOARD_NAME" in text
    evaluation = (artifacts_dir() / "yaml" / "evaluation_yaml_template.yaml").read_text()
    assert "# OBJECT_POSITIONS:" in evaluation


def test_load_template_returns_a_fresh_copy():
    load_template("training")["WORLD_NAME"] = "changed"
    assert load_template("training")["WORLD_NAME"] == ""
    with pytest.raises(ParamsError, match="head2head"):
        load_template("training_params")


@pytest.mark.parametrize(
    ("race_type", "changed"),
    [
        ("TIME_TRIAL", {}),
        ("OBJECT_AVOIDANCE", {"NUMBER_OF_OBSTACLES": "6"}),
        ("HEAD_TO_BOT", {"NUMBER_OF_BOT_CARS": "3"}),
    ],
)
def test_training_params_for_each_race_type(experiment, race_type, changed):
    params = training_params_for(experiment, "Workshop_Oval", race_type, num_workers=3)
    engine_keys = training_params(experiment.prefix, "Workshop_Oval", 3, {"RACE_TYPE": race_type})
    assert {key: params[key] for key in engine_keys} == engine_keys
    assert set(load_template("training")) <= set(params)
    assert params["NUM_WORKERS"] == "3"
    assert params["RACE_TYPE"] == race_type
    assert params["SAGEMAKER_SHARED_S3_BUCKET"] == experiment.bucket
    assert params["MP4_S3_OBJECT_PREFIX"].startswith(f"{experiment.prefix}/")
    for key, value in changed.items():
        assert params[key] == value
    assert all(isinstance(value, str) for value in params.values())
    assert WorldConfig.from_params({"RACE_TYPE": params["RACE_TYPE"]}).race_type == race_type


def test_training_overrides_are_strings_and_win(experiment):
    params = training_params_for(experiment, CHANGE_START_POSITION=False, NUMBER_OF_RESETS=2)
    assert params["CHANGE_START_POSITION"] == "false"
    assert params["NUMBER_OF_RESETS"] == "2"
    assert params["WORLD_NAME"] == experiment.world_name


def test_evaluation_params_point_at_the_model(experiment):
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    params = evaluation_params_for(experiment, "Workshop_Kidney", 5, timestamp=stamp)
    assert params["JOB_TYPE"] == "EVALUATION"
    assert params["MODEL_S3_PREFIX"] == experiment.prefix
    assert params["NUMBER_OF_TRIALS"] == "5"
    assert params["MODEL_METADATA_FILE_S3_KEY"] == f"{experiment.prefix}/model/model_metadata.json"
    assert params["SIMTRACE_S3_PREFIX"] == f"{experiment.prefix}/evaluation-20260102030405"
    assert "20260102030405" in params["METRICS_S3_OBJECT_KEY"]


@pytest.mark.parametrize(
    ("change", "key", "fix"),
    [
        ({"WORLD_NAME": "reInvent2019_trak"}, "WORLD_NAME", "Did you mean 'reInvent2019_track'"),
        ({"WORLD_NAME": ""}, "WORLD_NAME", "track name"),
        ({"RACE_TYPE": "TIME_TRAIL"}, "RACE_TYPE", "TIME_TRIAL"),
        ({"CHANGE_START_POSITION": "yes"}, "CHANGE_START_POSITION", '"true" or "false"'),
        ({"NUMBER_OF_RESETS": "abc"}, "NUMBER_OF_RESETS", "whole number"),
        ({"BOT_CAR_SPEED": "fast"}, "BOT_CAR_SPEED", "number"),
        ({"NUMBER_OF_RESETS": 0}, "NUMBER_OF_RESETS", 'NUMBER_OF_RESETS: "0"'),
        ({"ROUND_ROBIN_ADVANCE_DIST": "1.5"}, "ROUND_ROBIN_ADVANCE_DIST", "fraction of a lap"),
        ({"NUMBER_OF_OBSTACLE": "6"}, "NUMBER_OF_OBSTACLE", "did you mean 'NUMBER_OF_OBSTACLES'"),
    ],
)
def test_validation_errors_name_the_key_and_the_fix(experiment, change, key, fix):
    params = {**training_params_for(experiment), **change}
    with pytest.raises(ParamsError) as raised:
        validate_params(params)
    assert key in str(raised.value)
    assert fix in str(raised.value)


def test_every_template_validates_once_a_track_is_set():
    for kind in ("training", "evaluation", "head2head", "tournament"):
        validate_params({**load_template(kind), "WORLD_NAME": "Workshop_Oval"})


def test_written_yaml_keeps_strings(experiment):
    params = training_params_for(experiment)
    path = write_params(experiment, params)
    loaded = yaml.safe_load(path.read_text())
    assert loaded == params
    assert loaded["NUMBER_OF_RESETS"] == "0"
    assert loaded["CHANGE_START_POSITION"] == "true"
    assert loaded["TARGET_REWARD_SCORE"] == "None"


def test_write_params_refuses_to_overwrite_and_bad_params(experiment):
    path = write_params(experiment, training_params_for(experiment))
    before = path.read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_params(experiment, training_params_for(experiment, race_type="HEAD_TO_BOT"))
    with pytest.raises(ParamsError, match="RACE_TYPE"):
        write_params(experiment, {**training_params_for(experiment), "RACE_TYPE": "X"}, "x.yaml")
    assert path.read_text() == before
    assert not (experiment.folder / "x.yaml").exists()


def test_fixed_obstacle_positions_reach_the_engine(experiment):
    params = training_params_for(
        experiment, race_type="OBJECT_AVOIDANCE", OBJECT_POSITIONS=["0.25,1", "0.75,-1"]
    )
    path = write_params(experiment, params)
    config = WorldConfig.from_params(yaml.safe_load(path.read_text()))
    assert config.object_positions == ((0.25, 1), (0.75, -1))
    assert config.obstacle_count == 2


def test_per_car_lists_are_refused_for_a_one_car_file(experiment):
    params = {**training_params_for(experiment), "CAR_COLOR": ["Blue", "Red"]}
    with pytest.raises(ParamsError, match="CAR_COLOR is a list"):
        write_params(experiment, params)
