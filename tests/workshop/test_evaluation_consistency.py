"""Evaluations race the race a model trained for, read the notebook's YAML, say how a lap was
finished; head-to-head races; every worker's job environment on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from markov.agents.restore import build_agent, checkpoint_files
from markov.environment.world_config import WorldConfig
from markov.formats.checkpoints import CheckpointPublisher
from markov.presets.preset import Hyperparameters
from workshop_helpers.backends.aws import jobs
from workshop_helpers.backends.aws.config import MULTI_JOB
from workshop_helpers.bundle import upload_run_inputs
from workshop_helpers.evaluations import (
    evaluation_table,
    evaluation_yaml,
    penalty_seconds,
    race_table,
    start_evaluations,
    start_head_to_head,
    wait_for_evaluations,
)
from workshop_helpers.experiment import new_experiment
from workshop_helpers.job_environment import (
    EXAMPLE_AWS_SETTINGS,
    training_request,
    worker_environments,
)
from workshop_helpers.model_config import load_action_preset, write_model_metadata
from workshop_helpers.reward import load_reward_example, write_reward_function
from workshop_helpers.yaml_params import (
    EVALUATION_PARAMS,
    evaluation_params_for,
    training_params_for,
    write_params,
)

TRACK = "Workshop_Oval"
WAIT_LIMIT_S = 900  # only a hung evaluation worker reaches it
SIMAPP_KEYS = (
    "SAGEMAKER_SHARED_S3_PREFIX",
    "S3_YAML_NAME",
    "NUM_WORKERS",
    "WORLD_NAME",
    "MODEL_METADATA_FILE_S3_KEY",
    "ROLLOUT_IDX",
)


def trained_experiment(name: str, race_type: str = "OBJECT_AVOIDANCE", workers: int = 1):
    """An experiment whose inputs are uploaded and whose store holds an (untrained) checkpoint 0,
    enough for evaluation workers to drive."""
    experiment = new_experiment(name, world_name=TRACK)
    metadata = load_action_preset("drfc_default")
    write_model_metadata(experiment, metadata)
    write_reward_function(experiment, load_reward_example("follow_center_line"))
    write_params(experiment, training_params_for(experiment, TRACK, race_type, workers))
    upload_run_inputs(
        experiment,
        world_name=TRACK,
        num_workers=workers,
        worker_params={1: {"WORLD_NAME": "Workshop_Kidney"}} if workers > 1 else None,
        bundle=False,
    )
    agent = build_agent(metadata, Hyperparameters(), seed=0)
    publisher = CheckpointPublisher(experiment.open_store(), experiment.prefix)
    publisher.publish(0, 0, checkpoint_files(agent, {"iteration": 0}))
    return experiment


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("DR_WORKSHOP_BUDGET", raising=False)
    return tmp_path / "runs"


def test_evaluation_params_keep_the_race_the_model_trained_for(runs) -> None:
    experiment = trained_experiment("avoid")
    params = evaluation_params_for(experiment)
    assert params["RACE_TYPE"] == "OBJECT_AVOIDANCE"
    assert params["NUMBER_OF_OBSTACLES"] == "6"
    assert evaluation_params_for(experiment, race_type="TIME_TRIAL")["RACE_TYPE"] == "TIME_TRIAL"


def test_the_evaluation_worker_reads_the_yaml_the_notebook_wrote(runs) -> None:
    experiment = trained_experiment("avoid")
    written = evaluation_params_for(
        experiment, number_of_trials=1, NUMBER_OF_RESETS="2", MAX_EPISODE_STEPS="120"
    )
    write_params(experiment, written, name=EVALUATION_PARAMS)
    assert len(start_evaluations(experiment)) == 1
    states = wait_for_evaluations(experiment, timeout_s=WAIT_LIMIT_S, refresh_s=0.5)
    assert [state.state for state in states] == ["completed"], states
    read = evaluation_yaml(experiment)
    per_job = {"METRICS_S3_OBJECT_KEY", "SIMTRACE_S3_PREFIX", "EVAL_CHECKPOINT"}
    assert {key for key in read if read[key] != written.get(key)} <= per_job
    assert read["RACE_TYPE"] == "OBJECT_AVOIDANCE" and read["NUMBER_OF_RESETS"] == "2"
    (row,) = evaluation_table(experiment).to_dict("records")
    assert row["resets"] <= 3 and row["penalty (s)"] >= 0
    if row["status"].startswith("Lap complete") and row["resets"]:
        assert row["status"] == f"Lap complete after {row['resets']} reset" + (
            "s" if row["resets"] > 1 else ""
        )


def test_penalty_time_counts_every_waited_reset_but_the_one_that_ended_the_trial() -> None:
    world = WorldConfig.from_params(
        {"OFF_TRACK_PENALTY": "1.0", "COLLISION_PENALTY": "5.0"}, evaluation=True
    )
    counts = {"crash_count": 0, "immobilized_count": 0, "reversed_count": 0}
    ended = {**counts, "off_track_count": 3, "episode_status": "Off track"}
    assert penalty_seconds(ended, world) == 2.0
    finished = {**counts, "crash_count": 1, "off_track_count": 2}
    assert penalty_seconds({**finished, "episode_status": "Lap complete"}, world) == 7.0


def test_two_models_race_head_to_head_in_one_job_and_one_video(runs) -> None:
    first = trained_experiment("first", race_type="TIME_TRIAL")
    second = trained_experiment("second", race_type="TIME_TRIAL")
    race = start_head_to_head([first, second], trials=1, MAX_EPISODE_STEPS="90")
    states = wait_for_evaluations(first, timeout_s=WAIT_LIMIT_S, refresh_s=0.5)
    assert [state.state for state in states] == ["completed"], states
    table = race_table(first)
    assert sorted(table["model"]) == sorted([first.prefix, second.prefix])
    evaluation_id = race.name.removeprefix("evaluation-")
    for experiment in (first, second):
        key = f"{experiment.prefix}/mp4/evaluation-{evaluation_id}.mp4"
        assert first.open_store().exists(key)
    assert evaluation_table(first).empty  # the race is not an evaluation of the model alone


def test_every_worker_gets_the_same_simapp_variables_on_both_backends(runs) -> None:
    experiment = trained_experiment("envs", race_type="TIME_TRIAL", workers=2)
    local = worker_environments(experiment, workers=2, backend="local")
    one_job = worker_environments(experiment, workers=2, backend="aws")
    multi_job = jobs.worker_environments(
        experiment,
        replace(EXAMPLE_AWS_SETTINGS, job_mode=MULTI_JOB),
        training_request(2),
        experiment.open_store(),
    )
    assert list(local) == list(one_job) == list(multi_job) == ["trainer", "rollout-0", "rollout-1"]
    for name in local:
        expected = {key: local[name][key] for key in SIMAPP_KEYS if key in local[name]}
        for aws in (one_job, multi_job):
            assert {key: aws[name].get(key) for key in expected} == expected, name
    assert local["rollout-1"]["WORLD_NAME"] == "Workshop_Kidney"
    assert one_job["rollout-1"]["DR_WORKER"] == "one_job"
