"""Hyperparameter parsing, validation and the per-iteration transition cap."""

import json

import pytest

from markov.presets import (
    ExplorationType,
    HyperparameterError,
    Hyperparameters,
    LossType,
    describe_hyperparameters,
    load_hyperparameters,
    max_memory_steps,
)

WORKSHOP_NOTEBOOK_VALUES = {
    "batch_size": "64",
    "num_epochs": "10",
    "stack_size": "1",
    "lr": "0.0003",
    "exploration_type": "Categorical",
    "e_greedy_value": "0.05",
    "epsilon_steps": "10000",
    "beta_entropy": "0.01",
    "discount_factor": "0.999",
    "loss_type": "Huber",
    "num_episodes_between_training": "20",
}


def test_defaults_are_the_workshop_values():
    assert Hyperparameters().to_json_dict() == {
        "batch_size": 64,
        "num_epochs": 10,
        "stack_size": 1,
        "lr": 0.0003,
        "exploration_type": "categorical",
        "e_greedy_value": 0.05,
        "epsilon_steps": 10000,
        "beta_entropy": 0.01,
        "discount_factor": 0.999,
        "loss_type": "huber",
        "num_episodes_between_training": 20,
        "term_cond_max_episodes": 100000,
        "term_cond_avg_score": 100000.0,
        "sac_alpha": 0.2,
    }


def test_sagemaker_strings_parse_to_typed_values():
    parsed = Hyperparameters.from_mapping(WORKSHOP_NOTEBOOK_VALUES)
    assert parsed == Hyperparameters()
    assert isinstance(parsed.batch_size, int)
    assert isinstance(parsed.lr, float)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Huber", LossType.HUBER), ("Mean squared error", LossType.MEAN_SQUARED_ERROR),
     ("MEAN_SQUARED_ERROR", LossType.MEAN_SQUARED_ERROR)],
)
def test_loss_type_case_is_normalised(raw, expected):
    assert Hyperparameters.from_mapping({"loss_type": raw}).loss_type is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Categorical", ExplorationType.CATEGORICAL), ("E-Greedy", ExplorationType.E_GREEDY)],
)
def test_exploration_type_case_is_normalised(raw, expected):
    assert Hyperparameters.from_mapping({"exploration_type": raw}).exploration_type is expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("batch_size", "0"),
        ("batch_size", "64.5"),
        ("num_epochs", "0"),
        ("num_epochs", "101"),
        ("lr", "0"),
        ("lr", "0.5"),
        ("lr", "fast"),
        ("beta_entropy", "1.5"),
        ("discount_factor", "-0.1"),
        ("e_greedy_value", "2"),
        ("epsilon_steps", "-1"),
        ("num_episodes_between_training", "1001"),
        ("term_cond_max_episodes", "0"),
        ("term_cond_avg_score", "nan"),
        ("stack_size", "0"),
        ("loss_type", "absolute"),
        ("exploration_type", "Additive_noise"),
    ],
)
def test_invalid_values_name_the_key_and_value(key, value):
    with pytest.raises(HyperparameterError) as error:
        Hyperparameters.from_mapping({key: value})
    assert key in str(error.value)
    assert repr(value) in str(error.value)


def test_unknown_key_suggests_the_closest_name():
    with pytest.raises(HyperparameterError, match="did you mean 'discount_factor'"):
        Hyperparameters.from_mapping({"discount_facter": "0.99"})


def test_infrastructure_keys_are_accepted_and_ignored():
    values = {
        "s3_bucket": "bucket",
        "s3_prefix": "run-1",
        "aws_region": "us-east-1",
        "model_metadata_s3_key": "run-1/model/model_metadata.json",
        "reward_function_s3_source": "run-1/reward_function.py",
        "RLCOACH_PRESET": "deepracer",
        "max_sample_count": "0",
        "sampling_frequency": "1",
        "lr": "0.001",
    }
    assert Hyperparameters.from_mapping(values) == Hyperparameters(lr=0.001)


def test_json_file_round_trip(tmp_path):
    original = Hyperparameters.from_mapping(
        {"lr": "0.0001", "loss_type": "Mean squared error", "exploration_type": "e-greedy"}
    )
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(original.to_json_dict()))
    assert load_hyperparameters(path) == original
    assert json.loads(path.read_text())["loss_type"] == "mean squared error"


def test_load_hyperparameters_rejects_non_object_json(tmp_path):
    path = tmp_path / "hyperparameters.json"
    path.write_text("[1, 2]")
    with pytest.raises(HyperparameterError, match="JSON object"):
        load_hyperparameters(path)


def test_description_covers_every_hyperparameter():
    rows = describe_hyperparameters()
    assert [row["name"] for row in rows] == list(Hyperparameters().to_json_dict())
    assert all(row["meaning"] and row["allowed"] for row in rows)


def test_max_memory_steps_rule_and_override():
    assert max_memory_steps("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", env={}) == 10000
    assert max_memory_steps("DEEP_CONVOLUTIONAL_NETWORK", env={}) == 3000
    assert max_memory_steps("DEEP_CONVOLUTIONAL_NETWORK_DEEP", env={}) == 3000
    override = {"MAX_MEMORY_STEPS": "5000"}
    assert max_memory_steps("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", env=override) == 5000
    with pytest.raises(HyperparameterError, match="MAX_MEMORY_STEPS='lots'"):
        max_memory_steps("DEEP_CONVOLUTIONAL_NETWORK", env={"MAX_MEMORY_STEPS": "lots"})
    with pytest.raises(HyperparameterError, match="DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"):
        max_memory_steps("RESNET", env={})
