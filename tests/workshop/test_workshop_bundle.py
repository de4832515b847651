"""The engine bundle and the upload of a run's inputs into its store."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest

from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.run_inputs import (
    MODEL_METADATA,
    REWARD_FUNCTION,
    TRAINING_PARAMS,
    read_hyperparameters,
    read_model_metadata,
    read_params,
    read_reward_source,
    worker_params_key,
)
from workshop_helpers.bundle import (
    BUNDLE_KEY,
    RunInputsError,
    build_bundle,
    bundle_manifest,
    upload_run_inputs,
)
from workshop_helpers.experiment import new_experiment
from workshop_helpers.model_config import (
    load_action_preset,
    write_hyperparameters,
    write_model_metadata,
)
from workshop_helpers.reward import load_reward_example, write_reward_function
from workshop_helpers.yaml_params import training_params_for, write_params


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle(tmp_path_factory.mktemp("build") / "output.tar.gz")


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    experiment = new_experiment("upload", world_name="Workshop_Kidney")
    write_model_metadata(experiment, load_action_preset("drfc_default"))
    write_reward_function(experiment, load_reward_example("prevent_zig_zag"))
    return experiment


def test_bundle_holds_the_engine_and_the_artifacts(bundle):
    names = bundle_manifest(bundle)
    assert "markov/__init__.py" in names
    assert "markov/environment/dynamics.py" in names
    assert "artifacts/yaml/training_yaml_template.yaml" in names
    assert "artifacts/actions/console_default.json" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert names == sorted(names)


def test_bundle_entries_carry_no_owner_or_local_time(bundle):
    with tarfile.open(bundle) as tar:
        members = tar.getmembers()
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert len({m.mtime for m in members}) == 1


def test_bundle_is_reproducible_byte_for_byte(bundle, tmp_path):
    again = build_bundle(tmp_path / "again.tar.gz")
    assert again.read_bytes() == bundle.read_bytes()


def test_bundled_engine_imports_on_its_own(bundle, tmp_path):
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path, filter="data")
    code = "import markov.environment.dynamics as d; print(d.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().startswith(str(tmp_path))


def test_upload_writes_the_keys_the_engine_reads(experiment, bundle):
    write_hyperparameters(experiment, {"num_episodes_between_training": "30"})
    write_params(experiment, training_params_for(experiment, num_workers=3))
    keys = upload_run_inputs(
        experiment,
        world_name="Workshop_Kidney",
        num_workers=3,
        worker_params={1: {"REVERSE_DIR": "true"}},
        bundle=bundle,
    )
    store, prefix = experiment.open_store(), experiment.prefix
    assert store.get_bytes(f"{prefix}/{BUNDLE_KEY}") == bundle.read_bytes()
    assert all(store.exists(key) for key in keys)
    params = read_params(store, f"{prefix}/{TRAINING_PARAMS}")
    assert params["WORLD_NAME"] == "Workshop_Kidney"
    assert params["NUM_WORKERS"] == "3"
    assert params["MODEL_METADATA_FILE_S3_KEY"] == f"{prefix}/{MODEL_METADATA}"
    metadata = read_model_metadata(store, params["MODEL_METADATA_FILE_S3_KEY"])
    assert metadata == load_action_preset("drfc_default")
    source = read_reward_source(store, params["REWARD_FILE_S3_KEY"])
    assert source == load_reward_example("prevent_zig_zag")
    assert read_hyperparameters(store, prefix).num_episodes_between_training == 30
    worker = read_params(store, worker_params_key(prefix, 1))
    assert worker["REVERSE_DIR"] == "true" and worker["WORLD_NAME"] == "Workshop_Kidney"


def test_upload_without_yaml_uses_the_engine_defaults(experiment):
    keys = upload_run_inputs(experiment, world_name="Workshop_Kidney", num_workers=1, bundle=False)
    store = experiment.open_store()
    assert f"{experiment.prefix}/{REWARD_FUNCTION}" in keys
    assert not any(key.endswith(BUNDLE_KEY) for key in keys)
    params = read_params(store, f"{experiment.prefix}/{TRAINING_PARAMS}")
    assert params["RACE_TYPE"] == "TIME_TRIAL"


def test_upload_needs_the_model_and_the_reward(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    bare = new_experiment("bare")
    with pytest.raises(RunInputsError, match=r"model_metadata\.json is missing"):
        upload_run_inputs(bare, world_name="Workshop_Oval", num_workers=1, bundle=False)


def test_upload_refuses_a_world_that_disagrees_with_the_yaml(experiment):
    write_params(experiment, training_params_for(experiment))
    with pytest.raises(RunInputsError, match="WORLD_NAME"):
        upload_run_inputs(experiment, world_name="Workshop_Oval", num_workers=1, bundle=False)


def test_upload_refuses_to_change_a_run_that_has_checkpoints(experiment):
    upload_run_inputs(experiment, world_name="Workshop_Kidney", num_workers=1, bundle=False)
    store = experiment.open_store()
    CheckpointPublisher(store, experiment.prefix).publish(1, 100, {".safetensors": b"weights"})
    before = store.get_text(f"{experiment.prefix}/{REWARD_FUNCTION}")
    write_reward_function(experiment, load_reward_example("follow_center_line"), overwrite=True)
    with pytest.raises(RunInputsError, match=r"already has checkpoint 1_Step-100\.ckpt"):
        upload_run_inputs(experiment, world_name="Workshop_Kidney", num_workers=1, bundle=False)
    assert store.get_text(f"{experiment.prefix}/{REWARD_FUNCTION}") == before
