"""Workshop configuration helpers: experiments, the model the learner picks, round robin."""

from __future__ import annotations

import json
import re

import pytest

from markov.environment.model_metadata import ModelMetadataError, load_model_metadata
from markov.presets.preset import HyperparameterError
from workshop_helpers.experiment import (
    ExperimentError,
    ExperimentNotFoundError,
    latest_experiment,
    list_experiments,
    load_experiment,
    new_experiment,
)
from workshop_helpers.model_config import (
    continuous_action_space,
    discrete_action_space,
    hyperparameter_table,
    list_action_presets,
    load_action_preset,
    make_model_metadata,
    network_choices,
    sensor_choices,
    write_hyperparameters,
    write_model_metadata,
)
from workshop_helpers.reward import (
    check_reward_function,
    list_reward_examples,
    load_reward_example,
    write_reward_function,
)
from workshop_helpers.round_robin import check_round_robin, episodes_per_worker
from workshop_helpers.yaml_params import training_params_for, write_params

ID_FORMAT = re.compile(r"[A-Za-z0-9-]+-\d{8}-\d{6}-[0-9a-f]{4}")
CAMERA = "FRONT_FACING_CAMERA"
SHALLOW = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))


def test_experiment_ids_are_unique_and_name_the_run():
    experiments = [new_experiment("oval-fast") for _ in range(20)]
    ids = [experiment.id for experiment in experiments]
    assert len(set(ids)) == len(ids)
    for experiment in experiments:
        assert ID_FORMAT.fullmatch(experiment.id)
        assert experiment.id.startswith("oval-fast-")
        assert experiment.prefix == experiment.id
        assert experiment.folder.is_dir()
    assert new_experiment().id.startswith("dr-")


@pytest.mark.parametrize("name", ["", "has space", "under_score", "-leading", "x" * 41, "a/b"])
def test_bad_experiment_names_are_refused_with_the_rule(name):
    with pytest.raises(ExperimentError, match="letters, digits and dashes"):
        new_experiment(name)


def test_aws_backend_needs_an_s3_store():
    with pytest.raises(ExperimentError, match="s3://"):
        new_experiment("cloud", backend="aws")
    experiment = new_experiment("cloud", backend="aws", store_url="s3://workshop-bucket")
    assert experiment.bucket == "workshop-bucket"


def test_experiment_save_and_load_round_trip(tmp_path):
    created = new_experiment("round-trip", world_name="Workshop_Kidney")
    loaded = load_experiment(created.id)
    assert loaded == created
    assert loaded.world_name == "Workshop_Kidney"
    assert loaded.backend == "local"
    assert loaded.store_url == (tmp_path / "runs" / "store").as_uri()
    record = json.loads((created.folder / "experiment.json").read_text())
    assert record["id"] == created.id


def test_latest_and_list_experiments():
    with pytest.raises(ExperimentNotFoundError, match="new_experiment"):
        latest_experiment()
    first = new_experiment("first")
    second = new_experiment("second")
    assert [experiment.id for experiment in list_experiments()][-2:] == [first.id, second.id]
    assert latest_experiment().id == second.id


def test_unknown_experiment_id_suggests_a_saved_one():
    saved = new_experiment("known")
    with pytest.raises(ExperimentNotFoundError, match=re.escape(saved.id)):
        load_experiment(saved.id[:-1] + "x")


def test_discrete_action_space_is_symmetric():
    actions = discrete_action_space(5, 30, [0.5, 1.0])
    assert sorted({a["steering_angle"] for a in actions}) == [-30.0, -15.0, 0.0, 15.0, 30.0]
    assert len(actions) == 10
    assert actions[:2] == [
        {"steering_angle": -30.0, "speed": 0.5},
        {"steering_angle": -30.0, "speed": 1.0},
    ]
    even = [a["steering_angle"] for a in discrete_action_space(4, 30, [1.0])]
    assert even == [-30.0, -10.0, 10.0, 30.0]
    assert [a["steering_angle"] for a in discrete_action_space(1, 30, [1.0])] == [0.0]


def test_discrete_action_space_rejects_meaningless_arguments():
    with pytest.raises(ValueError, match="steering_levels"):
        discrete_action_space(0, 30, [1.0])
    with pytest.raises(ValueError, match="max_steering"):
        discrete_action_space(5, -30, [1.0])
    with pytest.raises(ValueError, match="speeds"):
        discrete_action_space(5, 30, [])


def test_model_metadata_from_the_builders_loads_in_the_engine():
    metadata = make_model_metadata(CAMERA, SHALLOW, discrete_action_space(3, 20, [1.0, 2.0]))
    assert metadata.action_space.size == 6
    assert load_model_metadata(metadata.to_json_dict()) == metadata
    continuous = make_model_metadata([CAMERA], SHALLOW, continuous_action_space(-20, 20, 1, 3))
    assert continuous.action_space_type == "continuous"
    assert continuous.action_space.speed_high == 3.0


def test_model_metadata_errors_are_the_engines_messages():
    with pytest.raises(
        ModelMetadataError, match=r"action_space\[0\]\.steering_angle is -45.0 degrees"
    ):
        make_model_metadata(CAMERA, SHALLOW, discrete_action_space(3, 45, [1.0]))
    with pytest.raises(ModelMetadataError, match="did you mean 'DEEP_CONVOLUTIONAL_NETWORK'"):
        make_model_metadata(CAMERA, "DEEP_CONVOLUTIONAL_NETWRK", discrete_action_space(3, 20, [1]))
    with pytest.raises(ModelMetadataError, match="SAC needs a continuous action space"):
        make_model_metadata(CAMERA, SHALLOW, discrete_action_space(3, 20, [1.0]), "sac")


def test_every_action_preset_loads():
    presets = list_action_presets()
    assert {"console_default", "drfc_default", "continuous_ppo"} <= set(presets)
    assert len(presets) == 6
    for name in presets:
        load_action_preset(name)
    console = load_action_preset("console_default")
    assert console.action_space.size == 10
    assert {speed for _, speed in console.action_space.actions} == {0.4, 0.8}
    drfc = load_action_preset("drfc_default.json")
    assert drfc.action_space.actions == tuple((s, 0.6) for s in (-30.0, -15.0, 0.0, 15.0, 30.0))
    lidar = load_action_preset("stereo_lidar_shallow_2speed_5steer")
    assert "LIDAR" in lidar.sensors


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(FileNotFoundError, match="did you mean 'console_default'"):
        load_action_preset("console_defualt")


def test_model_metadata_write_refuses_to_overwrite():
    experiment = new_experiment("model")
    path = write_model_metadata(experiment, load_action_preset("drfc_default"))
    assert load_model_metadata(path) == load_action_preset("drfc_default")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_model_metadata(experiment, load_action_preset("console_default"))
    assert load_model_metadata(path) == load_action_preset("drfc_default")
    write_model_metadata(experiment, load_action_preset("console_default"), overwrite=True)
    assert load_model_metadata(path).action_space.size == 10


def test_hyperparameter_write_validates_and_refuses_to_overwrite():
    experiment = new_experiment("hyper")
    with pytest.raises(HyperparameterError, match="num_epochs"):
        write_hyperparameters(experiment, {"num_epochs": "0"})
    path = write_hyperparameters(experiment, {"lr": "0.001", "num_episodes_between_training": 30})
    written = json.loads(path.read_text())
    assert written["lr"] == 0.001
    assert written["num_episodes_between_training"] == 30
    assert written["batch_size"] == 64
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_hyperparameters(experiment, {"lr": "0.0005"})
    assert json.loads(path.read_text())["lr"] == 0.001


def test_hyperparameter_table_shows_current_and_default():
    rows = {row["name"]: row for row in hyperparameter_table({"lr": "0.001"})}
    assert rows["lr"]["current"] == 0.001
    assert rows["lr"]["default"] == 0.0003
    assert rows["batch_size"]["current"] == rows["batch_size"]["default"] == 64
    assert all(row["meaning"] for row in rows.values())


def test_sensor_and_network_choices_come_from_the_engine():
    assert CAMERA in sensor_choices()["camera"]
    assert "LIDAR" in sensor_choices()["lidar"]
    assert network_choices()[0] == SHALLOW


def test_round_robin_three_workers_thirty_episodes():
    check = check_round_robin(30, 3, 0.1)
    assert check.ok
    assert check.per_worker == [10, 10, 10]
    assert "OK" in repr(check)


def test_round_robin_suggests_the_advance_dist_for_an_even_split():
    check = check_round_robin(20, 2, 0.05)
    assert not check.ok
    assert check.laps_per_iteration == pytest.approx(0.5)
    assert (check.suggested_episodes, check.suggested_advance_dist) == (20, 0.1)
    assert "0.1" in repr(check)


def test_round_robin_suggests_episodes_divisible_by_the_workers():
    check = check_round_robin(20, 3, 0.05)
    assert not check.ok
    assert check.per_worker == [7, 7, 6]
    assert check.suggested_episodes % 3 == 0
    fixed = check_round_robin(check.suggested_episodes, 3, check.suggested_advance_dist)
    assert fixed.ok


def test_episodes_per_worker_floor_plus_remainder():
    assert episodes_per_worker(20, 3) == [7, 7, 6]
    assert episodes_per_worker(20, 1) == [20]
    assert episodes_per_worker(2, 4) == [1, 1, 0, 0]
    assert sum(episodes_per_worker(41, 6)) == 41


def test_round_robin_rejects_a_bad_advance_dist():
    with pytest.raises(ValueError, match="round_robin_advance_dist"):
        check_round_robin(20, 1, 0)


def test_every_reward_example_passes_the_check():
    examples = list_reward_examples()
    assert {"follow_center_line", "stay_inside_two_borders", "prevent_zig_zag"} <= set(examples)
    race_types = {"object_avoidance": "OBJECT_AVOIDANCE", "head_to_bot": "HEAD_TO_BOT"}
    for name in examples:
        params = {"RACE_TYPE": race_types.get(name, "TIME_TRIAL")}
        check = check_reward_function(load_reward_example(name), params=params)
        assert check.ok, check
        assert check.reward > 0.0


def test_reward_check_reports_the_mistake_and_saves_nothing():
    experiment = new_experiment("reward")
    check = write_reward_function(
        experiment, 'def reward_function(params):\n    return params["sped"]\n'
    )
    assert not check.ok
    assert "did you mean 'speed'" in repr(check)
    assert "has a problem" in check._repr_html_()
    assert not (experiment.folder / "reward_function.py").exists()
    syntax = check_reward_function("def reward_function(params)\n    return 1.0\n")
    assert not syntax.ok and "syntax error at line 1" in syntax.message


def test_reward_write_uses_the_learners_model_and_refuses_to_overwrite():
    experiment = new_experiment("reward-write")
    write_model_metadata(experiment, load_action_preset("continuous_ppo"))
    source = "def reward_function(params):\n    return float(params['speed'])\n"
    check = write_reward_function(experiment, source)
    assert check.ok and 0.5 <= check.reward <= 2.0
    assert check.saved_to.read_text() == source
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_reward_function(experiment, load_reward_example("prevent_zig_zag"))
    assert check.saved_to.read_text() == source


def test_reward_check_uses_the_race_type_of_the_experiment():
    experiment = new_experiment("obstacles")
    source = (
        "def reward_function(params):\n"
        "    x, y = params['objects_location'][params['closest_objects'][1]]\n"
        "    return 1.0\n"
    )
    assert not check_reward_function(source).ok  # a time trial has no objects
    write_params(experiment, training_params_for(experiment, race_type="OBJECT_AVOIDANCE"))
    check = write_reward_function(experiment, source)
    assert check.ok, check
    assert "OBJECT_AVOIDANCE" in repr(check)
