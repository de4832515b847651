"""The original workshop's exercises in the engine: every worker's job environment, the preset's
SYNC setting, noise keys of the training YAML and a reward parameter of one's own."""

from __future__ import annotations

from typing import ClassVar

import pytest

from markov.environment.model_metadata import default_model_metadata
from markov.environment.world_config import WorldConfig, WorldConfigError
from markov.formats.run_inputs import worker_params_key, write_run_inputs
from markov.formats.simtrace import read_simtrace
from markov.presets import preset
from markov.presets.preset import Hyperparameters, SyncType
from markov.runners import local as local_training
from markov.runners.local import LocalTrainingRun
from markov.store import open_store
from markov.workers.config import WorkerConfigError, sync_type
from markov.workers.rollout import RolloutWorker
from markov.workers.training import TrainerSettings
from workshop_helpers.reward_params import remove_params_extension, write_params_extension

TRACK = "Workshop_Oval"
PROBE = "seed_exercise_probe"
PROBE_SOURCE = f'''from markov.environment.extra_params import register_params_builder


@register_params_builder("{PROBE}")
def probe(params, env):
    """The environment's steering noise, as a param the reward function can read."""
    return {{"{PROBE}": env.steering_noise_std_deg}}
'''
PROBE_REWARD = f'def reward_function(params):\n    return float(params["{PROBE}"])\n'


def write_inputs(store_dir, prefix: str, workers: int, reward: str | None = None, **params: str):
    write_run_inputs(
        open_store(store_dir),
        prefix,
        world_name=TRACK,
        num_workers=workers,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(
            num_episodes_between_training=2,
            num_epochs=1,
            batch_size=32,
            term_cond_max_episodes=1,
        ),
        reward_source=reward,
        params={"MIN_EVAL_TRIALS": "0", **params},
    )


# ------------------------------------------------------------------ job environments
class _Recorded:
    """A Popen stand-in that records the child's environment and has already exited."""

    started: ClassVar[list[dict[str, str]]] = []

    def __init__(self, command, env, **_kwargs) -> None:
        self.pid = 0
        self.returncode = 0
        _Recorded.started.append({"module": command[-1], **env})

    def poll(self) -> int:
        return 0

    def wait(self, timeout=None) -> int:
        return 0


def test_the_local_runner_starts_each_worker_with_the_environment_it_reports(
    tmp_path, monkeypatch
) -> None:
    write_inputs(tmp_path, "envs", workers=2)
    store = open_store(tmp_path)
    other = store.get_text("envs/training_params.yaml").replace(TRACK, "Workshop_Kidney")
    store.put_text(worker_params_key("envs", 1), other)
    reported = local_training.worker_environments(store, "envs", 2, {"MAX_TRAINING_TIME_S": "9"})
    _Recorded.started = []
    monkeypatch.setattr(local_training.subprocess, "Popen", _Recorded)
    run = LocalTrainingRun(tmp_path, "envs", 2, extra_env={"MAX_TRAINING_TIME_S": "9"})
    run.printer = lambda _line: None
    run.run()
    assert [child["module"] for child in _Recorded.started] == [
        "markov.workers.training",
        "markov.workers.rollout",
        "markov.workers.rollout",
    ]
    for (name, variables), child in zip(reported.items(), _Recorded.started, strict=True):
        assert {key: child[key] for key in variables} == variables, name
    assert reported["rollout-1"]["ROLLOUT_IDX"] == "1"
    assert reported["rollout-1"]["S3_YAML_NAME"] == worker_params_key("envs", 1)
    assert reported["rollout-1"]["WORLD_NAME"] == "Workshop_Kidney"
    assert reported["rollout-0"]["WORLD_NAME"] == TRACK
    assert "ROLLOUT_IDX" not in reported["trainer"]


# ------------------------------------------------------------------ SYNC in the preset
def test_trainer_and_rollout_worker_follow_the_presets_sync_type(tmp_path, monkeypatch) -> None:
    write_inputs(tmp_path, "sync", workers=1)
    store = open_store(tmp_path)
    environment = {"SAGEMAKER_SHARED_S3_PREFIX": "sync"}
    for setting in (SyncType.ASYNC, SyncType.SYNC):
        monkeypatch.setattr(preset, "SYNC_TYPE", setting)
        assert TrainerSettings.from_environ(environment, 1).sync is setting
        assert RolloutWorker(store, "sync", environment).sync is setting
    override = {**environment, preset.SYNC_TYPE_VARIABLE: "async"}
    assert TrainerSettings.from_environ(override, 1).sync is SyncType.ASYNC
    assert RolloutWorker(store, "sync", override).sync is SyncType.ASYNC


def test_a_bad_sync_override_names_the_variable_and_the_preset() -> None:
    with pytest.raises(WorkerConfigError, match=r"DISTRIBUTED_COACH_SYNCHRONIZATION_TYPE.*preset"):
        sync_type({preset.SYNC_TYPE_VARIABLE: "sometimes"})


# ------------------------------------------------------------------ noise keys
def test_noise_keys_are_checked_with_the_key_and_the_fix() -> None:
    config = WorldConfig.from_params({"CAMERA_NOISE_STD": "4", "SPEED_NOISE_STD": "0.1"})
    assert (config.camera_noise_std, config.speed_noise_std) == (4.0, 0.1)
    with pytest.raises(WorldConfigError, match=r"STEERING_NOISE_STD_DEG is -1.0.*>= 0"):
        WorldConfig.from_params({"STEERING_NOISE_STD_DEG": "-1"})
    with pytest.raises(WorldConfigError, match="SPEED_NOISE_STD is 'fast'; it must be a number"):
        WorldConfig.from_params({"SPEED_NOISE_STD": "fast"})


# ------------------------------------------------------------------ a reward param of one's own
@pytest.fixture
def probe_extension():
    write_params_extension(PROBE, PROBE_SOURCE)
    yield
    remove_params_extension(PROBE)


def test_an_extra_param_and_a_noise_key_reach_a_real_rollout_workers_reward(
    tmp_path, probe_extension
) -> None:
    write_inputs(tmp_path, "probe", 1, reward=PROBE_REWARD, STEERING_NOISE_STD_DEG="3.5")
    run = LocalTrainingRun(tmp_path, "probe", 1)
    run.printer = lambda _line: None
    summary = run.run()
    assert summary.exit_code == 0, (tmp_path / "probe" / "logs" / "rollout-0.log").read_text()
    csv = (tmp_path / "probe" / "training-simtrace" / "0-iteration.csv").read_bytes()
    running = [row for row in read_simtrace(csv) if row["episode_status"] != "prepare"]
    assert running and {row["reward"] for row in running} == {3.5}
