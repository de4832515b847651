"""Helpers of the training lessons: follow-up experiments, recorded tracks, run files, speed."""

from __future__ import annotations

import json

import pytest

from markov.environment.model_metadata import default_model_metadata
from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.run_inputs import dump_params, training_params
from markov.tracks import TrackNotFoundError, official
from workshop_helpers.experiment import ExperimentNotFoundError, load_experiment, new_experiment
from workshop_helpers.lesson_runs import (
    TrainedTrackError,
    latest_trained,
    new_experiment_from,
    record_track,
    rollout_speed,
    run_layout,
    speed_comparison,
    trained_workers,
    training_params_of,
)
from workshop_helpers.model_config import write_hyperparameters, write_model_metadata
from workshop_helpers.reward import load_reward_example
from workshop_helpers.yaml_params import training_params_for, write_params


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))


def _with_inputs(name="lesson"):
    experiment = new_experiment(name)
    write_model_metadata(experiment, default_model_metadata())
    write_hyperparameters(experiment, {"num_episodes_between_training": 4})
    experiment.write_input("reward_function.py", load_reward_example("follow_center_line"))
    return experiment


def _fake_training(experiment, workers, iterations):
    """What a finished run leaves for these helpers: the uploaded YAML and trainer.json."""
    store, prefix = experiment.open_store(), experiment.prefix
    params = training_params(prefix, experiment.world_name, workers)
    store.put_text(f"{prefix}/training_params.yaml", dump_params(params))
    store.put_json(f"{prefix}/metrics/trainer.json", iterations)


def _iteration(transitions, seconds):
    return {"transitions": transitions, "rollout_seconds": seconds}


def test_new_experiment_from_copies_the_model_inputs_only():
    first = _with_inputs()
    write_params(first, training_params_for(first))
    second = new_experiment_from(first)
    assert second.id != first.id
    assert second.id.startswith("lesson-")
    assert (second.backend, second.store_url, second.world_name) == (
        first.backend,
        first.store_url,
        first.world_name,
    )
    for name in ("model_metadata.json", "hyperparameters.json", "reward_function.py"):
        assert second.input_path(name).read_text() == first.input_path(name).read_text()
    assert not second.input_path("training_params.yaml").exists()
    assert load_experiment(second.id) == second
    assert new_experiment_from(first, name="two-workers").id.startswith("two-workers-")


def test_new_experiment_from_needs_the_model_and_the_reward():
    bare = new_experiment("bare")
    with pytest.raises(FileNotFoundError, match=r"model_metadata\.json or reward_function\.py"):
        new_experiment_from(bare)


def test_record_track_saves_the_track_in_the_experiment():
    experiment = _with_inputs()
    same = record_track(experiment, experiment.world_name)
    assert same is experiment
    moved = record_track(experiment, "Workshop_Kidney")
    assert moved.world_name == "Workshop_Kidney"
    assert load_experiment(experiment.id).world_name == "Workshop_Kidney"
    saved = json.loads(experiment.input_path("experiment.json").read_text())
    assert saved["world_name"] == "Workshop_Kidney"


def test_record_track_refuses_to_change_the_track_after_training_started():
    experiment = _with_inputs()
    store = experiment.open_store()
    CheckpointPublisher(store, experiment.prefix).publish(0, 0, {".safetensors": b"weights"})

    with pytest.raises(TrainedTrackError, match=r"already trained on Workshop_Oval") as refused:
        record_track(experiment, "Workshop_Kidney")
    assert "new_experiment_from" in str(refused.value) and "override=True" in str(refused.value)
    assert load_experiment(experiment.id).world_name == "Workshop_Oval"

    assert record_track(experiment, "Workshop_Oval") is experiment  # the same track is fine
    moved = record_track(experiment, "Workshop_Kidney", override=True)
    assert load_experiment(experiment.id).world_name == moved.world_name == "Workshop_Kidney"


def test_experiments_refuse_a_track_this_machine_cannot_load(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_TRACKS_DIR", str(tmp_path / "tracks"))
    monkeypatch.setenv("DR_TRACKS_CACHE", str(tmp_path / "cache"))

    def offline(url, timeout):
        raise OSError("network is unreachable")

    monkeypatch.setattr(official, "_fetch", offline)
    with pytest.raises(TrackNotFoundError, match="cannot use the track 'Spain_track'") as refused:
        new_experiment("spain", world_name="Spain_track")
    assert "python -m markov.tracks.fetch Spain_track" in str(refused.value)
    assert "DR_TRACKS_DIR" in str(refused.value)
    experiment = _with_inputs()
    with pytest.raises(TrackNotFoundError, match="network is unreachable"):
        record_track(experiment, "Spain_track")
    assert load_experiment(experiment.id).world_name == "Workshop_Oval"


def test_training_params_of_reads_the_written_yaml():
    experiment = _with_inputs()
    assert training_params_of(experiment) == {}
    write_params(experiment, training_params_for(experiment, race_type="HEAD_TO_BOT"))
    params = training_params_of(experiment)
    assert params["RACE_TYPE"] == "HEAD_TO_BOT"
    assert params["WORLD_NAME"] == experiment.world_name


def test_latest_trained_picks_by_worker_count():
    one = _with_inputs("one")
    _fake_training(one, 1, [_iteration(100, 1.0)])
    two = _with_inputs("two")
    _fake_training(two, 2, [_iteration(200, 1.0)])
    _with_inputs("untrained")
    assert trained_workers(one) == 1 and trained_workers(two) == 2
    assert latest_trained() == two
    assert latest_trained(1) == one
    assert latest_trained(2) == two
    with pytest.raises(ExperimentNotFoundError, match="3 rollout worker"):
        latest_trained(3)


def test_rollout_speed_skips_the_start_up_iteration():
    experiment = _with_inputs()
    _fake_training(experiment, 2, [_iteration(100, 4.0), _iteration(150, 0.5), _iteration(50, 0.5)])
    speed = rollout_speed(experiment)
    assert speed == {
        "workers": 2,
        "iterations": 2,
        "steps": 200,
        "rollout s": 1.0,
        "steps/s": 200.0,
    }
    assert rollout_speed(experiment, skip_first=False)["steps"] == 300
    lonely = _with_inputs()
    _fake_training(lonely, 1, [_iteration(120, 2.0)])
    assert rollout_speed(lonely)["steps/s"] == 60.0
    with pytest.raises(LookupError, match="no finished training iteration"):
        rollout_speed(_with_inputs())


def test_speed_comparison_relates_every_run_to_the_first():
    one = _with_inputs()
    _fake_training(one, 1, [_iteration(10, 1.0), _iteration(100, 1.0)])
    two = _with_inputs()
    _fake_training(two, 2, [_iteration(10, 1.0), _iteration(180, 1.0)])
    table = speed_comparison({"1 worker": one, "2 workers": two})
    assert list(table.index) == ["1 worker", "2 workers"]
    assert list(table.columns) == [
        "workers",
        "iterations",
        "steps",
        "rollout s",
        "steps/s",
        "speed-up",
    ]
    assert table["speed-up"].tolist() == [1.0, 1.8]


def test_run_layout_groups_keys_by_top_level_folder():
    experiment = _with_inputs()
    store, prefix = experiment.open_store(), experiment.prefix
    for key in (
        "model/0_Step-0.ckpt.safetensors",
        "model/model_metadata.json",
        "1/training-simtrace/0-iteration.csv",
        "reward_function.py",
    ):
        store.put_text(f"{prefix}/{key}", "x")
    table = run_layout(experiment)
    rows = {row["folder or file"]: row for row in table.frame.to_dict("records")}
    assert list(rows) == ["1/", "model/", "reward_function.py"]
    assert rows["model/"]["files"] == 2
    assert rows["model/"]["example"] == "model/0_Step-0.ckpt.safetensors"
    assert "worker 1" in rows["1/"]["what it holds"]
    assert rows["reward_function.py"]["what it holds"] == "the reward function"
