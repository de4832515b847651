"""Evaluation trials (markov.races.trials) and the evaluation worker's files and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from markov.agents.restore import build_agent, checkpoint_files
from markov.environment.dynamics import STEP_S
from markov.environment.model_metadata import load_model_metadata
from markov.environment.scripted import CenterLineDriver, OffTrackDriver
from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.simtrace import SIMTRACE_HEADER, read_simtrace
from markov.presets.preset import Hyperparameters
from markov.races.settings import EvaluationSettings
from markov.races.trials import evaluate, scripted_policy
from markov.store import open_store
from markov.workers.evaluation import EXIT_BAD_INPUT, main
from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE, FAILURE_MARKER

TRACK = "Workshop_Oval"
PREFIX = "exp"
EVALUATION_METRICS_KEYS = {
    "completion_percentage",
    "metric_time",
    "start_time",
    "elapsed_time_in_milliseconds",
    "episode_status",
    "crash_count",
    "immobilized_count",
    "off_track_count",
    "reversed_count",
    "reset_count",
    "trial",
}
CAMERA_METADATA = {
    "action_space": [{"steering_angle": angle, "speed": 1.0} for angle in (-30, 0, 30)],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "version": "5",
}


@pytest.fixture(scope="module")
def checkpoint_bytes() -> dict[str, bytes]:
    """The files of an untrained shallow camera model (built once; published per test)."""
    agent = build_agent(load_model_metadata(CAMERA_METADATA), Hyperparameters(), seed=0)
    return checkpoint_files(agent, {"iteration": 0})


@pytest.fixture
def model_store(tmp_path, checkpoint_bytes) -> Path:
    """A store folder with checkpoint 0 and model_metadata.json under PREFIX."""
    store = open_store(tmp_path / "store")
    CheckpointPublisher(store, PREFIX).publish(0, 0, checkpoint_bytes)
    store.put_json(f"{PREFIX}/model/model_metadata.json", CAMERA_METADATA)
    return tmp_path / "store"


def worker_environment(store_folder: Path, **overrides: str) -> dict[str, str]:
    return {
        "MODEL_STORE_URL": store_folder.as_uri(),
        "MODEL_S3_PREFIX": PREFIX,
        "WORLD_NAME": TRACK,
        "NUMBER_OF_TRIALS": "2",
        "EVALUATION_ID": "20260101120000",
        **overrides,
    }


# ----------------------------------------------------------------------------- evaluate()
def test_centre_line_driver_completes_every_trial_from_the_start_line():
    result = evaluate(
        scripted_policy(CenterLineDriver(speed=1.5)), TRACK, None, EvaluationSettings(3)
    )

    assert [trial.episode_status for trial in result.trials] == ["Lap complete"] * 3
    assert [trial.reset_count for trial in result.trials] == [0, 0, 0]
    for trial in result.trials:
        assert trial.completion_percentage == 100.0
        assert abs(trial.lap_time_s - trial.steps / 15) <= STEP_S
    assert {row["episode"] for row in result.simtrace_rows} == {0, 1, 2}
    starts = [row for row in result.simtrace_rows if row["episode_status"] == "prepare"]
    assert len({(row["X"], row["Y"]) for row in starts}) == 1  # every trial starts in one place
    assert result.laps_completed == 3


def test_resets_pause_the_car_and_the_pause_counts_into_the_lap_time():
    result = evaluate(
        scripted_policy(OffTrackDriver(speed=1.0)),
        TRACK,
        None,
        EvaluationSettings(number_of_trials=1, number_of_resets=2, off_track_penalty=1.0),
    )

    (trial,) = result.trials
    statuses = [row["episode_status"] for row in result.simtrace_rows]
    assert trial.off_track_count == 3  # two resets, then the third ends the trial
    assert trial.reset_count == 3 == sum(trial.reset_counts().values())
    assert trial.episode_status == "Off track"
    assert statuses.count("pause") == 2 * 15  # two 1.0 s penalties at 15 steps per second
    assert trial.steps == len(statuses)
    assert trial.lap_time_s == pytest.approx(len(statuses) / 15)


def test_crashes_into_obstacles_are_counted_and_paused_for_the_collision_penalty():
    result = evaluate(
        scripted_policy(CenterLineDriver(speed=1.5)),
        TRACK,
        None,
        EvaluationSettings(
            number_of_trials=1,
            number_of_resets=2,
            collision_penalty=1.0,
            race_type="OBJECT_AVOIDANCE",
            world_params={"NUMBER_OF_OBSTACLES": "2"},
        ),
    )

    (trial,) = result.trials
    statuses = [row["episode_status"] for row in result.simtrace_rows]
    assert trial.crash_count == statuses.count("crashed") == 3
    assert trial.reset_count == 3
    assert trial.episode_status == "Crashed"
    assert statuses.count("pause") == 2 * 15


def test_continuous_evaluation_drives_the_laps_in_one_episode():
    result = evaluate(
        scripted_policy(CenterLineDriver(speed=1.5)),
        TRACK,
        None,
        EvaluationSettings(number_of_trials=2, is_continuous=True),
    )

    first, second = result.trials
    rows = result.simtrace_rows
    assert [first.episode_status, second.episode_status] == ["Lap complete", "Lap complete"]
    assert second.start_time_s == first.end_time_s
    assert [row["steps"] for row in rows] == [float(n) for n in range(1, len(rows) + 1)]
    assert sum(row["episode_status"] == "prepare" for row in rows) == 1
    assert [row["done"] for row in rows].count(True) == 1
    assert {row["episode"] for row in rows} == {0, 1}


def test_evaluation_params_reject_keys_given_twice():
    with pytest.raises(ValueError, match=r"NUMBER_OF_RESETS.*number_of_resets"):
        evaluate(
            scripted_policy(CenterLineDriver()),
            TRACK,
            None,
            EvaluationSettings(number_of_trials=1, world_params={"NUMBER_OF_RESETS": "3"}),
        )


# ----------------------------------------------------------------------------- the worker
def test_worker_writes_metrics_simtrace_and_video_in_the_drfc_layout(model_store, capsys):
    assert main(worker_environment(model_store)) == 0

    folder = model_store / PREFIX
    metrics = json.loads((folder / "metrics/EvaluationMetrics-20260101120000.json").read_text())
    assert set(metrics) == {"metrics"}
    assert [set(entry) for entry in metrics["metrics"]] == [EVALUATION_METRICS_KEYS] * 2
    assert [entry["trial"] for entry in metrics["metrics"]] == [1, 2]

    simtrace = folder / "evaluation-20260101120000/evaluation-simtrace/0-iteration.csv"
    assert simtrace.read_text().splitlines()[0] == SIMTRACE_HEADER
    rows = read_simtrace(simtrace)
    assert {row["episode"] for row in rows} == {0, 1}

    video = folder / "mp4/evaluation-20260101120000.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == len(rows)
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("Evaluation> done: ")
    assert "mp4/evaluation-20260101120000.mp4" in summary


def test_deepracer_utils_loads_the_evaluation_the_worker_wrote(model_store):
    deepracer_logs = pytest.importorskip("deepracer.logs")
    assert main(worker_environment(model_store, SAVE_MP4="false")) == 0

    log = deepracer_logs.DeepRacerLog(str(model_store / PREFIX))
    log.load_evaluation_trace()
    frame = log.dataframe()
    assert set(frame["stream"]) == {"20260101120000"}
    assert set(frame["episode"]) == {0, 1}


def test_worker_reads_the_evaluation_yaml_with_drfc_lists(model_store):
    store = open_store(model_store)
    store.put_text(
        f"{PREFIX}/evaluation_params.yaml",
        "---\n"
        "WORLD_NAME: 'Workshop_Kidney'\n"
        f"MODEL_S3_PREFIX: ['{PREFIX}']\n"
        "NUMBER_OF_TRIALS: '3'\n"
        "CAR_COLOR: ['Grey']\n"
        "PENALTY_SECONDS: '2.0'\n",
    )
    environment = {
        "MODEL_STORE_URL": model_store.as_uri(),
        "S3_YAML_NAME": f"{PREFIX}/evaluation_params.yaml",
        "NUMBER_OF_TRIALS": "1",
        "EVALUATION_ID": "20260101120001",
        "SAVE_MP4": "false",
    }
    assert main(environment) == 0

    metrics = store.get_json(f"{PREFIX}/metrics/EvaluationMetrics-20260101120001.json")
    assert len(metrics["metrics"]) == 1  # the environment variable overrides the YAML
    rows = read_simtrace(
        store.get_bytes(f"{PREFIX}/evaluation-20260101120001/evaluation-simtrace/0-iteration.csv")
    )
    kidney_length = rows[0]["track_len"]
    oval = evaluate(scripted_policy(CenterLineDriver()), TRACK, None, EvaluationSettings(1))
    assert kidney_length != oval.simtrace_rows[0]["track_len"]


def test_parallel_workers_on_two_tracks_write_separate_folders(model_store):
    jobs = {
        "20260101130000": "Workshop_Oval",
        "20260101130001": "Workshop_Kidney",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "markov.workers.evaluation"],
            env={
                **os.environ,
                **worker_environment(
                    model_store,
                    WORLD_NAME=track,
                    EVALUATION_ID=evaluation_id,
                    NUMBER_OF_TRIALS="1",
                    SAVE_MP4="false",
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for evaluation_id, track in jobs.items()
    ]
    outputs = [process.communicate(timeout=1800)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    lengths = set()
    for evaluation_id in jobs:
        folder = model_store / PREFIX / f"evaluation-{evaluation_id}"
        rows = read_simtrace(folder / "evaluation-simtrace/0-iteration.csv")
        lengths.add(rows[0]["track_len"])
        assert (model_store / PREFIX / f"metrics/EvaluationMetrics-{evaluation_id}.json").exists()
    assert len(lengths) == 2


def test_missing_checkpoint_is_a_failure_no_restart_fixes_naming_the_prefix(tmp_path, capsys):
    environment = worker_environment(tmp_path, MODEL_S3_PREFIX="no-such-model")

    assert main(environment) == EXIT_BAD_INPUT == EXIT_DETERMINISTIC_FAILURE
    error = capsys.readouterr().err
    assert FAILURE_MARKER in error
    assert "no-such-model/model" in error
    assert "No checkpoint" in error


def test_metadata_that_does_not_fit_the_checkpoint_exits_3_with_a_clear_message(
    model_store, capsys
):
    wrong = {**CAMERA_METADATA, "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"}
    open_store(model_store).put_json(f"{PREFIX}/model/model_metadata.json", wrong)

    assert main(worker_environment(model_store)) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert "exp/model/model_metadata.json does not match checkpoint 0_Step-0.ckpt" in error


def test_bad_settings_exit_3_naming_the_setting(model_store, capsys):
    assert main(worker_environment(model_store, EVALUATION_ID="today")) == EXIT_BAD_INPUT
    assert "EVALUATION_ID is 'today'" in capsys.readouterr().err
    assert main(worker_environment(model_store, NUMBER_OF_RESETS="many")) == EXIT_BAD_INPUT
    assert "NUMBER_OF_RESETS" in capsys.readouterr().err
