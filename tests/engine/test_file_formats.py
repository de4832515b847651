"""Simtrace, metrics and episode files match docs/file-formats.md and load in deepracer-utils."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from markov.formats.episodes import (
    CorruptEpisodeFile,
    EpisodeArrays,
    InvalidEpisode,
    episode_batch_key,
    load_episode_batch,
    save_episode_batch,
)
from markov.formats.metrics import (
    EvaluationMetricsWriter,
    MetricsFormatError,
    TrainingMetricsWriter,
    count_reset_statuses,
    episode_status_to_label,
    evaluation_metrics_key,
    read_training_metrics,
    training_metrics_key,
)
from markov.formats.simtrace import (
    SIMTRACE_COLUMNS,
    SimtraceFormatError,
    SimtraceWriter,
    evaluation_simtrace_prefix,
    format_simtrace_row,
    read_simtrace,
    training_simtrace_prefix,
)
from markov.store import FolderStore

SPEC_HEADER = (
    "episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,"
    "closest_waypoint,track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,"
    "wall_clock"
)


def spec_row(**changes: object) -> dict[str, object]:
    """The illustrative continuous-action row of docs/file-formats.md §7.2 as a dict."""
    row: dict[str, object] = {
        "episode": 0,
        "steps": 1,
        "X": 3.1999,
        "Y": 0.6831,
        "yaw": 0.184,
        "steer": -25.0,
        "throttle": 1.331,
        "action": "[-25.0 1.331]",
        "reward": 0.0,
        "done": False,
        "all_wheels_on_track": True,
        "progress": 0.7915,
        "closest_waypoint": 1,
        "track_len": 17.709,
        "tstamp": 27.788,
        "episode_status": "prepare",
        "pause_duration": 0.0,
        "obstacle_crash_counter": 0,
        "wall_clock": 1767225600.12,
    }
    row.update(changes)
    return row


def test_header_line_is_exactly_the_spec_one() -> None:
    assert ",".join(SIMTRACE_COLUMNS) == SPEC_HEADER
    assert len(SIMTRACE_COLUMNS) == 19


def test_row_formats_like_the_spec_example() -> None:
    # The spec writes yaw as 0.1840 for illustration; str(0.184) is '0.184'.
    expected = (
        "0,1.0,3.1999,0.6831,0.184,-25.0,1.331,[-25.0 1.331],0.0,False,True,0.7915,1,17.709,"
        "27.788,prepare,0.0,0,1767225600.12"
    )
    assert format_simtrace_row(spec_row()) == expected


def test_row_keeps_full_precision_and_discrete_action_index() -> None:
    line = format_simtrace_row(
        spec_row(X=3.1999123456789, action=np.int64(4), steps=np.float32(12), episode=7)
    ).split(",")
    assert line[0] == "7"
    assert line[1] == "12.0"
    assert line[2] == "3.1999123456789"
    assert line[7] == "4"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"done": "False"}, "done"),
        ({"action": "[-25.0, 1.331]"}, "commas"),
        ({"episode_status": "Lap complete"}, "raw status"),
        ({"closest_waypoint": 1.5}, "closest_waypoint"),
        ({"X": "abc"}, "'X'"),
    ],
)
def test_bad_row_values_name_the_column(changes, message) -> None:
    with pytest.raises(SimtraceFormatError, match=message):
        format_simtrace_row(spec_row(**changes))


def test_missing_column_is_named() -> None:
    row = spec_row()
    del row["wall_clock"]
    with pytest.raises(SimtraceFormatError, match="wall_clock"):
        format_simtrace_row(row)


def test_simtrace_prefixes_follow_the_drfc_layouts() -> None:
    assert training_simtrace_prefix("exp", 0, 1) == "exp/training-simtrace"
    assert training_simtrace_prefix("exp", 0, 3) == "exp/0/training-simtrace"
    assert training_simtrace_prefix("exp", 2, 3) == "exp/2/training-simtrace"
    assert (
        evaluation_simtrace_prefix("exp", datetime(2026, 1, 2, 3, 4, 5))
        == "exp/evaluation-20260102030405/evaluation-simtrace"
    )
    with pytest.raises(ValueError, match="worker"):
        training_simtrace_prefix("exp", 3, 3)


def test_writer_rewrites_the_iteration_file_and_starts_a_new_one(tmp_path) -> None:
    store = FolderStore(tmp_path)
    writer = SimtraceWriter(store, "exp/training-simtrace")
    writer.add_row(spec_row(steps=1))
    assert writer.flush(0) == "exp/training-simtrace/0-iteration.csv"
    writer.add_row(spec_row(steps=2))
    writer.flush(0)
    writer.add_row(spec_row(episode=1, steps=1))
    writer.flush(1)
    first = store.get_text("exp/training-simtrace/0-iteration.csv").splitlines()
    second = store.get_text("exp/training-simtrace/1-iteration.csv").splitlines()
    assert first[0] == SPEC_HEADER and [line.split(",")[1] for line in first[1:]] == ["1.0", "2.0"]
    assert second[0] == SPEC_HEADER and len(second) == 2
    assert writer.flush(2) is None
    assert not store.exists("exp/training-simtrace/2-iteration.csv")


@pytest.mark.parametrize("num_columns", [15, 16, 17, 18, 19])
def test_reader_accepts_every_historic_variant(num_columns) -> None:
    columns = list(SIMTRACE_COLUMNS[:17])
    if num_columns == 18:
        columns.append("wall_clock")
    elif num_columns == 19:
        columns = list(SIMTRACE_COLUMNS)
    else:
        columns = columns[:num_columns]
    full = format_simtrace_row(spec_row(action=2)).split(",")
    cells = [full[SIMTRACE_COLUMNS.index(name)] for name in columns]
    rows = read_simtrace((",".join(columns) + "\n" + ",".join(cells) + "\n").encode())
    assert rows[0]["X"] == 3.1999 and rows[0]["action"] == 2 and rows[0]["done"] is False
    assert rows[0]["wall_clock"] == (1767225600.12 if "wall_clock" in columns else None)
    assert set(rows[0]) == set(SIMTRACE_COLUMNS)


def test_reader_keeps_continuous_action_strings(tmp_path) -> None:
    path = tmp_path / "0-iteration.csv"
    path.write_text(SPEC_HEADER + "\n" + format_simtrace_row(spec_row()) + "\n")
    assert read_simtrace(path)[0]["action"] == "[-25.0 1.331]"


def test_training_metrics_json_matches_section_5(tmp_path) -> None:
    store = FolderStore(tmp_path)
    key = training_metrics_key("exp", 0)
    writer = TrainingMetricsWriter(store, key)
    writer.add_episode(13.6, 29.067, 31.058, 1, 1, "training", 14.9, "off_track")
    writer.add_episode(2.4, 31.1, 40.0, 1, 1, "evaluation", 100.0, "Lap complete")
    document = json.loads((tmp_path / "exp" / "metrics" / "TrainingMetrics.json").read_text())
    assert list(document) == ["metrics", "version", "best_model_metric"]
    assert document["version"] == 2.0 and isinstance(document["version"], float)
    assert document["best_model_metric"] == "progress"
    assert document["metrics"][0] == {
        "reward_score": 14,
        "metric_time": 31058,
        "start_time": 29067,
        "elapsed_time_in_milliseconds": 1991,
        "episode": 1,
        "trial": 1,
        "phase": "training",
        "completion_percentage": 14,
        "episode_status": "Off track",
    }
    spec_types = {"phase": str, "episode_status": str}
    for entry in document["metrics"]:
        assert list(entry) == list(document["metrics"][0])
        assert all(type(value) is spec_types.get(name, int) for name, value in entry.items())


def test_metrics_keys_per_worker_and_evaluation_run() -> None:
    assert training_metrics_key("exp", 0) == "exp/metrics/TrainingMetrics.json"
    assert training_metrics_key("exp", 2) == "exp/metrics/TrainingMetrics_2.json"
    assert evaluation_metrics_key("exp", "20260102030405") == (
        "exp/metrics/EvaluationMetrics-20260102030405.json"
    )


def test_training_metrics_reject_bad_input_naming_the_field(tmp_path) -> None:
    writer = TrainingMetricsWriter(FolderStore(tmp_path), "exp/metrics/TrainingMetrics.json")
    with pytest.raises(MetricsFormatError, match="phase"):
        writer.add_episode(1.0, 0.0, 1.0, 1, 1, "racing", 10.0, "Crashed")
    with pytest.raises(MetricsFormatError, match="end"):
        writer.add_episode(1.0, 5.0, 1.0, 1, 1, "training", 10.0, "Crashed")


def test_status_labels_cover_the_raw_statuses() -> None:
    assert episode_status_to_label("lap_complete") == "Lap complete"
    assert episode_status_to_label("time_up") == "Time Up"
    assert episode_status_to_label("in_progress") == "In progress"
    with pytest.raises(MetricsFormatError, match="'finished'"):
        episode_status_to_label("finished")


def test_read_training_metrics_accepts_files_without_version(tmp_path) -> None:
    store = FolderStore(tmp_path)
    store.put_json("old/training_metrics.json", {"metrics": [{"episode": 1, "trial": 1}]})
    parsed = read_training_metrics(store, "old/training_metrics.json")
    assert parsed.version is None and parsed.best_model_metric == "progress"
    assert parsed.metrics == [{"episode": 1, "trial": 1}]


def test_evaluation_metrics_counts_resets_and_has_no_version(tmp_path) -> None:
    store = FolderStore(tmp_path)
    writer = EvaluationMetricsWriter(store, "exp/metrics/EvaluationMetrics-20260102030405.json")
    statuses = ["prepare", "in_progress", "off_track", "pause", "crashed", "reversed", "off_track"]
    counts = count_reset_statuses(statuses)
    writer.add_episode(6.614, 22.193, 100.0, "lap_complete", **counts)
    writer.add_episode(0.0, 10.0, 42.5, "off_track")
    document = store.get_json("exp/metrics/EvaluationMetrics-20260102030405.json")
    assert list(document) == ["metrics"]
    first, second = document["metrics"]
    assert first == {
        "completion_percentage": 100,
        "metric_time": 22193,
        "start_time": 6614,
        "elapsed_time_in_milliseconds": 15579,
        "episode_status": "Lap complete",
        "crash_count": 1,
        "immobilized_count": 0,
        "off_track_count": 2,
        "reversed_count": 1,
        "reset_count": 4,
        "trial": 1,
    }
    assert second["trial"] == 2 and second["reset_count"] == 0


def make_episode(steps: int, continuous: bool, worker: int = 0) -> EpisodeArrays:
    rng = np.random.default_rng(steps)
    actions = (
        rng.uniform(-1, 1, size=(steps, 2))
        if continuous
        else rng.integers(0, 3, size=steps, dtype=np.int32)
    )
    return EpisodeArrays(
        observations={
            "FRONT_FACING_CAMERA": rng.integers(0, 255, size=(steps, 12, 16, 1), dtype=np.uint8),
            "LIDAR": rng.random((steps, 8), dtype=np.float32),
        },
        actions=actions,
        rewards=rng.random(steps),
        metadata={
            "worker": worker,
            "iteration": 3,
            "episode": 7,
            "total_reward": 1.5,
            "progress": 12.5,
            "status": "off_track",
        },
        extras={"action_probabilities": rng.random((steps, 3), dtype=np.float32)},
    )


def test_episode_batch_round_trip_preserves_dtypes_shapes_and_metadata(tmp_path) -> None:
    store = FolderStore(tmp_path)
    key = episode_batch_key("exp", 3, 1)
    assert key == "exp/episodes/iteration-3/worker-1.npz"
    episodes = [make_episode(5, continuous=False, worker=1), make_episode(9, continuous=True)]
    save_episode_batch(store, key, episodes)
    loaded = load_episode_batch(store, key)
    assert [episode.num_steps for episode in loaded] == [5, 9]
    assert loaded[0].actions.dtype == np.int64 and loaded[0].actions.shape == (5,)
    assert loaded[1].actions.dtype == np.float32 and loaded[1].actions.shape == (9, 2)
    for original, restored in zip(episodes, loaded, strict=True):
        assert restored.rewards.dtype == np.float32
        camera = restored.observations["FRONT_FACING_CAMERA"]
        assert camera.dtype == np.uint8 and camera.shape == (restored.num_steps, 12, 16, 1)
        np.testing.assert_array_equal(camera, original.observations["FRONT_FACING_CAMERA"])
        np.testing.assert_array_equal(
            restored.observations["LIDAR"], original.observations["LIDAR"]
        )
        np.testing.assert_array_equal(
            restored.extras["action_probabilities"], original.extras["action_probabilities"]
        )
        assert restored.metadata == original.metadata


def test_truncated_episode_file_raises_corrupt_error_naming_the_key(tmp_path) -> None:
    store = FolderStore(tmp_path)
    key = episode_batch_key("exp", 0, 0)
    save_episode_batch(store, key, [make_episode(4, continuous=False)])
    data = store.get_bytes(key)
    store.put_bytes(key, data[: len(data) // 2])
    with pytest.raises(CorruptEpisodeFile, match=r"exp/episodes/iteration-0/worker-0\.npz"):
        load_episode_batch(store, key)


def test_episode_with_inconsistent_lengths_is_rejected(tmp_path) -> None:
    episode = make_episode(4, continuous=False)
    episode.rewards = episode.rewards[:3]
    with pytest.raises(InvalidEpisode, match="same first dimension"):
        save_episode_batch(FolderStore(tmp_path), "exp/e.npz", [episode])


# deepracer-utils compatibility ------------------------------------------------------------

MODEL_METADATA = {
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
EPISODES_PER_ITERATION_PER_WORKER = 2
STEPS_PER_EPISODE = 3
ITERATIONS = 2


def write_run(run: Path, num_workers: int) -> int:
    """Write a made-up training run with the product's writers; return the number of rows."""
    store = FolderStore(run)
    store.put_json("model/model_metadata.json", MODEL_METADATA)
    store.put_json(
        "ip/hyperparameters.json", {"batch_size": 64, "num_episodes_between_training": 4}
    )
    rows = 0
    for worker in range(num_workers):
        simtrace = SimtraceWriter(store, training_simtrace_prefix("", worker, num_workers))
        metrics = TrainingMetricsWriter(store, training_metrics_key("", worker))
        episode = 0
        for iteration in range(ITERATIONS):
            for trial in range(1, EPISODES_PER_ITERATION_PER_WORKER + 1):
                for step in range(1, STEPS_PER_EPISODE + 1):
                    simtrace.add_row(
                        spec_row(
                            episode=episode,
                            steps=step,
                            action=step % 3,
                            X=1.0 + step,
                            done=step == STEPS_PER_EPISODE,
                            episode_status="off_track" if step == 3 else "in_progress",
                        )
                    )
                    rows += 1
                episode += 1
                metrics.add_episode(3.2, 0.0, 1.5, episode, trial, "training", 20.0, "off_track")
            simtrace.flush(iteration)
    return rows


@pytest.mark.parametrize("num_workers", [1, 2])
def test_run_folder_loads_in_deepracer_utils(tmp_path, num_workers) -> None:
    from deepracer.logs import DeepRacerLog, LogFolderType

    run = tmp_path / "run"
    rows = write_run(run, num_workers)
    log = DeepRacerLog(str(run))
    expected_type = (
        LogFolderType.DRFC_MODEL_SINGLE_WORKERS
        if num_workers == 1
        else LogFolderType.DRFC_MODEL_MULTIPLE_WORKERS
    )
    assert log.fh.type == expected_type
    log.load()
    frame = log.dataframe()
    assert len(frame) == rows
    assert {"x", "y", "steering_angle", "speed", "on_track"} <= set(frame.columns)
    assert not {"X", "Y", "steer", "throttle", "all_wheels_on_track"} & set(frame.columns)
    assert sorted(frame["worker"].unique()) == list(range(num_workers))
    assert sorted(frame["iteration"].unique()) == list(range(ITERATIONS))
    assert frame["unique_episode"].nunique() == (
        num_workers * ITERATIONS * EPISODES_PER_ITERATION_PER_WORKER
    )
    assert set(frame["action"]) == {0, 1, 2}
    assert log.action_space() == MODEL_METADATA["action_space"]
    assert log.hyperparameters()["batch_size"] == 64


def test_training_metrics_load_in_deepracer_utils(tmp_path, monkeypatch) -> None:
    from deepracer.logs import TrainingMetrics

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    write_run(tmp_path / "run", num_workers=1)
    metrics = TrainingMetrics(
        None, fname=str(tmp_path / "run" / "metrics" / "TrainingMetrics.json")
    )
    frame = metrics.metrics
    assert list(frame["iteration"].unique()) == list(range(ITERATIONS))
    assert frame["reward"].tolist() == [3] * ITERATIONS * EPISODES_PER_ITERATION_PER_WORKER
