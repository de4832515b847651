"""Loading and validating model_metadata.json (docs/file-formats.md §2)."""

import json

import pytest

from markov.environment.action_space import ContinuousActionSpace, DiscreteActionSpace
from markov.environment.model_metadata import (
    BUILTIN_DEFAULT_ACTIONS,
    LidarConfig,
    ModelMetadataError,
    default_model_metadata,
    load_model_metadata,
)

DISCRETE = {
    "action_space": [
        {"steering_angle": -30, "speed": 0.8, "index": 0},
        {"steering_angle": 0, "speed": 0.8, "index": 1},
        {"steering_angle": 30, "speed": 0.8, "index": 2},
    ],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}

CONTINUOUS = {
    "action_space": {
        "steering_angle": {"low": -20.0, "high": 20.0},
        "speed": {"low": 1.0, "high": 3.0},
    },
    "sensor": ["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"],
    "lidar_config": {"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0},
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "continuous",
    "version": "5",
}


def with_changes(base: dict, **changes) -> dict:
    document = json.loads(json.dumps(base))
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def error_of(document) -> str:
    with pytest.raises(ModelMetadataError) as caught:
        load_model_metadata(document)
    return str(caught.value)


def test_discrete_example_loads():
    metadata = load_model_metadata(DISCRETE)
    assert metadata.action_space == DiscreteActionSpace([(-30, 0.8), (0, 0.8), (30, 0.8)])
    assert metadata.action_space_type == "discrete"
    assert metadata.sensors == ("FRONT_FACING_CAMERA",)
    assert metadata.version == 5
    assert metadata.lidar_config is None


def test_continuous_example_with_lidar_loads_from_a_file(tmp_path):
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(CONTINUOUS))
    metadata = load_model_metadata(path)
    assert metadata.action_space == ContinuousActionSpace(-20.0, 20.0, 1.0, 3.0)
    assert metadata.lidar_config == LidarConfig(8, 8, 2.0)
    assert load_model_metadata(str(path)) == metadata


@pytest.mark.parametrize("document", [DISCRETE, CONTINUOUS])
def test_round_trip_through_json(document, tmp_path):
    metadata = load_model_metadata(document)
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(metadata.to_json_dict()))
    assert load_model_metadata(path) == metadata


def test_written_file_follows_the_documented_layout():
    written = load_model_metadata(DISCRETE).to_json_dict()
    assert written["version"] == "5"
    assert written["action_space"][2] == {"steering_angle": 30.0, "speed": 0.8, "index": 2}
    assert written["sensor"] == ["FRONT_FACING_CAMERA"]


def test_workshop_default_is_five_steering_levels_at_one_metre_per_second():
    metadata = default_model_metadata()
    assert metadata.action_space.actions == tuple((s, 1.0) for s in (-30, -15, 0, 15, 30))
    assert (metadata.sensors, metadata.neural_network) == (
        ("FRONT_FACING_CAMERA",),
        "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    )
    assert (metadata.training_algorithm, metadata.version) == ("clipped_ppo", 5)
    assert load_model_metadata(metadata.to_json_dict()) == metadata


def test_empty_file_gets_the_simapp_defaults_including_the_exempt_builtin_actions():
    metadata = load_model_metadata({})
    assert metadata.action_space.actions == BUILTIN_DEFAULT_ACTIONS
    assert metadata.sensors == ("observation",)
    assert metadata.version == 1
    assert metadata.training_algorithm == "clipped_ppo"
    assert metadata.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert load_model_metadata(metadata.to_json_dict()) == metadata


def test_version_defaults_to_2_when_only_the_sensor_is_given():
    assert load_model_metadata(with_changes(DISCRETE, version=None)).version == 2


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), (6, 6), ("4", 4), (" 3 ", 3)])
def test_version_accepts_integers_and_strings(raw, expected):
    assert load_model_metadata(with_changes(DISCRETE, version=raw)).version == expected


@pytest.mark.parametrize("raw", ["five", 0, "5.5", True])
def test_version_rejects_non_versions(raw):
    assert "version" in error_of(with_changes(DISCRETE, version=raw))


def test_action_space_type_is_inferred_from_the_shape():
    continuous = load_model_metadata(with_changes(CONTINUOUS, action_space_type=None))
    discrete = load_model_metadata(with_changes(DISCRETE, action_space_type=None))
    assert (continuous.action_space_type, discrete.action_space_type) == ("continuous", "discrete")


def test_declared_type_must_match_the_action_space_shape():
    message = error_of(with_changes(DISCRETE, action_space_type="continuous"))
    assert "action_space_type is 'continuous'" in message and "'discrete'" in message


def test_typo_of_a_known_key_is_reported_and_unknown_keys_are_ignored():
    document = with_changes(DISCRETE, sensor=None, sensors=["FRONT_FACING_CAMERA"])
    message = error_of(document)
    assert "'sensors'" in message and "did you mean 'sensor'" in message
    extra = with_changes(DISCRETE, preprocess_type="GREY_SCALE", created_by="console")
    assert load_model_metadata(extra).sensors == ("FRONT_FACING_CAMERA",)


def test_two_cameras_are_rejected_naming_both():
    message = error_of(with_changes(DISCRETE, sensor=["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]))
    assert "FRONT_FACING_CAMERA and STEREO_CAMERAS" in message


def test_sensor_needs_a_camera_and_at_most_one_lidar():
    assert "found none" in error_of(with_changes(DISCRETE, sensor=["LIDAR"]))
    message = error_of(
        with_changes(DISCRETE, sensor=["FRONT_FACING_CAMERA", "LIDAR", "SECTOR_LIDAR"])
    )
    assert "LIDAR and SECTOR_LIDAR" in message


def test_unknown_sensor_name_gets_a_suggestion():
    message = error_of(with_changes(DISCRETE, sensor=["FRONT_CAMERA"]))
    assert "'FRONT_CAMERA'" in message and "FRONT_FACING_CAMERA" in message


def test_unknown_network_and_algorithm_are_rejected():
    message = error_of(with_changes(DISCRETE, neural_network="DEEP_CONVOLUTIONAL_NETWORK_XL"))
    assert "neural_network" in message and "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" in message
    message = error_of(with_changes(DISCRETE, training_algorithm="PPO"))
    assert "training_algorithm is 'PPO'" in message and "clipped_ppo" in message


def test_sac_with_a_discrete_space_is_rejected():
    message = error_of(with_changes(DISCRETE, training_algorithm="sac"))
    assert "SAC needs a continuous action space: set action_space_type to continuous" in message


def test_sac_with_a_continuous_space_gets_the_physical_box():
    metadata = load_model_metadata(with_changes(CONTINUOUS, training_algorithm="sac"))
    assert metadata.action_space.algorithm == "sac"
    assert metadata.action_space.gym_space.high[1] == pytest.approx(3.0)


def test_empty_discrete_action_space_is_rejected():
    assert "empty" in error_of(with_changes(DISCRETE, action_space=[]))


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"steering_angle": 0, "speed": 4.5}, "action_space[0].speed is 4.5 m/s"),
        ({"steering_angle": 0, "speed": 0.05}, "between 0.1 and 4.0"),
        ({"steering_angle": -35, "speed": 1.0}, "action_space[0].steering_angle is -35.0 degrees"),
        ({"steering_angle": 0}, "action_space[0] has no 'speed'"),
        ({"steering_angle": "left", "speed": 1.0}, "action_space[0].steering_angle is 'left'"),
        ({"steering_angle": 0, "speed": 1.0, "index": 3}, "action_space[0].index is 3"),
    ],
)
def test_bad_discrete_items_are_rejected_naming_the_item(item, expected):
    assert expected in error_of(with_changes(DISCRETE, action_space=[item]))


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"steering_angle": {"low": 20, "high": -20}, "speed": {"low": 1, "high": 2}}, "swap"),
        ({"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 3, "high": 1}}, "swap"),
        ({"steering_angle": {"low": -40, "high": 20}, "speed": {"low": 1, "high": 2}}, "-40.0"),
        ({"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 1, "high": 5}}, "5.0 m/s"),
        ({"steering_angle": {"low": -20, "high": 20}}, "action_space.speed is None"),
    ],
)
def test_bad_continuous_bounds_are_rejected(space, expected):
    assert expected in error_of(with_changes(CONTINUOUS, action_space=space))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"num_sectors": 5}, "num_sectors"),
        ({"num_values_per_sector": 0}, "num_values_per_sector"),
        ({"clipping_dist": 0.1}, "clipping_dist"),
        ({"clipping_dist": 20}, "clipping_dist"),
    ],
)
def test_lidar_config_ranges(config, field):
    assert f"lidar_config.{field}" in error_of(with_changes(CONTINUOUS, lidar_config=config))


def test_lidar_config_defaults_when_a_lidar_has_none():
    metadata = load_model_metadata(with_changes(CONTINUOUS, lidar_config=None))
    assert metadata.lidar_config == LidarConfig(8, 8, 2.0)


def test_invalid_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "model_metadata.json"
    path.write_text('{\n  "sensor": ["FRONT_FACING_CAMERA"],\n  "version": "5",\n}\n')
    message = error_of(path)
    assert str(path) in message and "line 4" in message


def test_missing_file_and_wrong_source_type_are_explained(tmp_path):
    assert "does not exist" in error_of(tmp_path / "nope.json")
    assert "must be a dict or the path" in error_of(42)


def test_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps(with_changes(DISCRETE, neural_network="BIG")))
    assert error_of(path).startswith(str(path))
