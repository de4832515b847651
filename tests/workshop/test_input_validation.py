"""Bad inputs are refused where the learner gives them, with the field, the value and the fix.

World and run settings that training would reject later (too many obstacles, an unknown best
model metric, a negative trial count), SAC model metadata, and hand-edited experiment records
that would take the helpers outside ``runs/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from markov.agents.restore import build_agent
from markov.environment.model_metadata import (
    ModelMetadataError,
    default_model_metadata,
    load_model_metadata,
)
from markov.environment.world_config import WorldConfig, WorldConfigError
from markov.formats.run_inputs import MODEL_METADATA, TRAINING_PARAMS, write_run_inputs
from markov.presets.preset import Hyperparameters
from markov.store import open_store
from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE, failure_block
from workshop_helpers.experiment import (
    EXPERIMENT_FILE,
    ExperimentError,
    list_experiments,
    load_experiment,
    new_experiment,
)
from workshop_helpers.model_config import (
    continuous_action_space,
    make_model_metadata,
    write_model_metadata,
)
from workshop_helpers.paths import runs_dir
from workshop_helpers.yaml_params import ParamsError, training_params_for

TRACK = "Workshop_Oval"
PREFIX = "exp"
SAC_METADATA = {
    "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2}},
    "action_space_type": "continuous",
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "sac",
    "version": "5",
}
WORKER_WAIT_S = 600
"""Only a hung worker reaches this."""


@pytest.fixture(autouse=True)
def scratch_runs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


# ------------------------------------------------------------------ world and run settings
@pytest.mark.parametrize(
    ("race_type", "overrides", "expected"),
    [
        (
            "OBJECT_AVOIDANCE",
            {"NUMBER_OF_OBSTACLES": "1000"},
            "NUMBER_OF_OBSTACLES is 1000 with MIN_DISTANCE_BETWEEN_OBSTACLES 2.0",
        ),
        ("HEAD_TO_BOT", {"NUMBER_OF_BOT_CARS": "500"}, "NUMBER_OF_BOT_CARS is 500"),
        ("TIME_TRIAL", {"BEST_MODEL_METRIC": "speed"}, "BEST_MODEL_METRIC is 'speed'; use one of"),
        ("TIME_TRIAL", {"MIN_EVAL_TRIALS": "-5"}, "MIN_EVAL_TRIALS is '-5'; use a whole number"),
        ("TIME_TRIAL", {"NUM_WORKERS": "0"}, "NUM_WORKERS is '0'; use a whole number >= 1"),
        ("TIME_TRIAL", {"NUMBER_OF_RESETS": "-1"}, "NUMBER_OF_RESETS is -1; use a whole number"),
    ],
)
def test_training_yaml_refuses_what_training_would_reject(race_type, overrides, expected) -> None:
    experiment = new_experiment("bad", world_name=TRACK)
    with pytest.raises(ParamsError) as caught:
        training_params_for(experiment, race_type=race_type, **overrides)
    assert expected in str(caught.value)


def test_the_fixes_are_named_in_the_messages() -> None:
    experiment = new_experiment("bad", world_name=TRACK)
    with pytest.raises(ParamsError, match="progress, reward, laptime"):
        training_params_for(experiment, BEST_MODEL_METRIC="speed")
    with pytest.raises(ParamsError, match="lower NUMBER_OF_OBSTACLES or MIN_DISTANCE"):
        training_params_for(experiment, race_type="OBJECT_AVOIDANCE", NUMBER_OF_OBSTACLES="1000")
    with pytest.raises(ParamsError, match="0 turns the evaluation off"):
        training_params_for(experiment, MIN_EVAL_TRIALS="-5")


def test_good_run_settings_still_pass() -> None:
    experiment = new_experiment("good", world_name=TRACK)
    params = training_params_for(
        experiment,
        race_type="OBJECT_AVOIDANCE",
        NUMBER_OF_OBSTACLES="3",
        MIN_EVAL_TRIALS="0",
        BEST_MODEL_METRIC="laptime",
    )
    assert params["MIN_EVAL_TRIALS"] == "0" and params["BEST_MODEL_METRIC"] == "laptime"


def test_run_settings_are_checked_with_the_world_keys() -> None:
    with pytest.raises(WorldConfigError, match="MIN_EVAL_TRIALS is 'many'; it must be a whole"):
        WorldConfig.from_params({"MIN_EVAL_TRIALS": "many"})


def test_write_run_inputs_refuses_bad_settings_before_writing_anything(tmp_path) -> None:
    store = open_store(tmp_path / "store")
    with pytest.raises(WorldConfigError, match="BEST_MODEL_METRIC is 'speed'"):
        write_run_inputs(
            store,
            PREFIX,
            world_name=TRACK,
            num_workers=1,
            model_metadata=default_model_metadata(),
            hyperparameters=Hyperparameters(),
            params={"BEST_MODEL_METRIC": "speed"},
        )
    assert store.list(PREFIX) == []


# ------------------------------------------------------------------ SAC
def test_sac_is_refused_with_the_fix_where_the_model_is_chosen() -> None:
    with pytest.raises(ModelMetadataError) as caught:
        make_model_metadata(
            "FRONT_FACING_CAMERA",
            "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
            continuous_action_space(),
            "sac",
        )
    message = str(caught.value)
    assert "training_algorithm is 'sac'" in message
    assert "Set training_algorithm to 'clipped_ppo'" in message
    experiment = new_experiment("sac", world_name=TRACK)
    with pytest.raises(ModelMetadataError, match="training_algorithm is 'sac'"):
        write_model_metadata(experiment, SAC_METADATA)
    assert not experiment.input_path("model_metadata.json").exists()


def test_no_agent_is_built_for_sac() -> None:
    with pytest.raises(ModelMetadataError, match="Clipped PPO only"):
        build_agent(load_model_metadata(SAC_METADATA), Hyperparameters())


# ------------------------------------------------------------------ the worker's own check
def valid_inputs(store_dir: Path) -> None:
    write_run_inputs(
        open_store(store_dir),
        PREFIX,
        world_name=TRACK,
        num_workers=1,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(),
    )


def start_worker(store_dir: Path) -> subprocess.CompletedProcess[str]:
    """A rollout worker; with bad inputs it must stop before it waits for checkpoint 0."""
    environment = {
        **os.environ,
        "MODEL_STORE_URL": store_dir.as_uri(),
        "SAGEMAKER_SHARED_S3_PREFIX": PREFIX,
        "READY_TIMEOUT_S": str(WORKER_WAIT_S),
    }
    return subprocess.run(
        [sys.executable, "-m", "markov.workers.rollout"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=WORKER_WAIT_S,
    )


def test_a_worker_refuses_a_hand_edited_yaml_naming_the_key(tmp_path) -> None:
    valid_inputs(tmp_path / "store")
    key = tmp_path / "store" / PREFIX / TRAINING_PARAMS
    key.write_text(key.read_text().replace("MIN_EVAL_TRIALS: '5'", "MIN_EVAL_TRIALS: '-5'"))
    result = start_worker(tmp_path / "store")
    assert result.returncode == EXIT_DETERMINISTIC_FAILURE, result.stderr[-2000:]
    block = failure_block(result.stderr)
    assert block.startswith("rollout worker 0 stopped: a world setting (training_params YAML)")
    assert "MIN_EVAL_TRIALS is '-5'; use a whole number >= 0" in block


def test_a_worker_refuses_sac_metadata(tmp_path) -> None:
    valid_inputs(tmp_path / "store")
    (tmp_path / "store" / PREFIX / MODEL_METADATA).write_text(json.dumps(SAC_METADATA))
    result = start_worker(tmp_path / "store")
    assert result.returncode == EXIT_DETERMINISTIC_FAILURE, result.stderr[-2000:]
    block = failure_block(result.stderr)
    assert "the model metadata (model_metadata.json) cannot be used" in block
    assert "training_algorithm is 'sac'" in block


# ------------------------------------------------------------------ experiment records
def tamper(experiment_id: str, **changes: str) -> Path:
    path = runs_dir() / experiment_id / EXPERIMENT_FILE
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": "../outside"}, "id is '../outside'; it must be the name of its folder"),
        ({"id": "other-run"}, "id is 'other-run'; it must be the name of its folder"),
        ({"prefix": "../../home"}, "prefix is '../../home'; it must be a store prefix"),
        ({"prefix": "/abs"}, "prefix is '/abs'"),
        ({"store_url": "file:///"}, "the local backend keeps its store inside the runs folder"),
        ({"backend": "cloud"}, "backend is 'cloud'"),
        ({"world_name": 7}, "world_name is 7; it must be text"),
    ],
)
def test_a_hand_edited_record_is_refused_when_read(changes, expected) -> None:
    experiment = new_experiment("edited", world_name=TRACK)
    tamper(experiment.id, **changes)
    with pytest.raises(ExperimentError) as caught:
        load_experiment(experiment.id)
    assert expected in str(caught.value)
    assert "restore the value" in str(caught.value) or "leave store_url out" in str(caught.value)
    with pytest.raises(ExperimentError):
        list_experiments()


def test_helpers_write_only_inside_the_experiment_folder() -> None:
    experiment = new_experiment("inside", world_name=TRACK)
    with pytest.raises(ExperimentError, match="not a plain file name"):
        experiment.write_input("../escape.txt", "x")
    assert not (runs_dir() / "escape.txt").exists()


def test_a_local_store_outside_runs_is_refused(tmp_path) -> None:
    with pytest.raises(ExperimentError, match="inside the runs folder"):
        new_experiment("elsewhere", store_url=(tmp_path / "elsewhere").as_uri())
