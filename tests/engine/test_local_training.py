"""Local training end to end: trainer + rollout workers as processes, synchronised by a folder.

These runs use tiny budgets (a few short episodes, one epoch) so each takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch

from markov.environment.model_metadata import default_model_metadata
from markov.formats.checkpoints import CheckpointPublisher, CheckpointRef, find_resume_point
from markov.formats.episodes import EpisodeArrays, episode_batch_key, save_episode_batch
from markov.formats.run_inputs import worker_params_key, write_run_inputs
from markov.formats.simtrace import SIMTRACE_HEADER
from markov.presets.preset import Hyperparameters
from markov.runners.local import LocalTrainingRun, RunnerError
from markov.store import open_store
from markov.workers.rollout import episodes_for_worker
from markov.workers.training import Trainer, cap_transitions

TRACK = "Workshop_Oval"


def tiny_run(
    store_dir: Path,
    prefix: str,
    workers: int,
    iterations: int = 2,
    episodes: int = 4,
    **params: str,
) -> None:
    write_run_inputs(
        open_store(store_dir),
        prefix,
        world_name=TRACK,
        num_workers=workers,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(
            num_episodes_between_training=episodes,
            num_epochs=1,
            batch_size=32,
            term_cond_max_episodes=iterations,
        ),
        params={"MIN_EVAL_TRIALS": "1", **params},
    )


def run_quietly(run: LocalTrainingRun):
    lines: list[str] = []
    run.printer = lines.append
    return run.run(), lines


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory) -> tuple[Path, object, list[str]]:
    store = tmp_path_factory.mktemp("store")
    tiny_run(store, "exp", workers=2)
    summary, lines = run_quietly(LocalTrainingRun(store, "exp", 2))
    return store / "exp", summary, lines


def test_two_workers_two_iterations_leave_a_complete_store(two_worker_run) -> None:
    run, summary, lines = two_worker_run
    assert summary.exit_code == 0 and summary.iterations == 2
    model = run / "model"
    pointer = (model / ".coach_checkpoint").read_text().strip()
    assert re.fullmatch(r"2_Step-\d+\.ckpt", pointer)
    assert (model / ".ready").exists() and (model / ".finished").exists()
    assert not (model / ".lock").exists()
    book = json.loads((model / "deepracer_checkpoints.json").read_text())
    assert {"best_checkpoint", "last_checkpoint"} <= set(book)
    # retention: the pointer's target, the best and the last evaluated checkpoint (and the one
    # before the pointer's while worker 0 may still have been evaluating it)
    kept = {path.name.split(".ckpt")[0] + ".ckpt" for path in model.glob("*.ckpt.safetensors")}
    wanted = {pointer, book["best_checkpoint"]["name"], book["last_checkpoint"]["name"]}
    assert wanted <= kept and {name.split("_")[0] for name in kept - wanted} <= {"1"}
    # a finished run drops the trainer's state (only an interrupted run resumes from it) and
    # exports the best policy only
    assert not (model / "trainer_state.pt").exists()
    assert sorted(path.name for path in (run / "export").iterdir()) == ["best-model.tar.gz"]
    weights = safetensors.torch.load_file(model / f"{pointer}.safetensors")
    assert weights and all(name.startswith("policy.") for name in weights)
    assert json.loads((run / "ip" / "hyperparameters.json").read_text())["num_epochs"] == 1
    for worker in (0, 1):
        for iteration in (0, 1):
            csv = run / str(worker) / "training-simtrace" / f"{iteration}-iteration.csv"
            rows = csv.read_text().splitlines()
            assert rows[0] == SIMTRACE_HEADER and len(rows) > 2
            assert rows[1].split(",")[15] == "prepare"
    main = json.loads((run / "metrics" / "TrainingMetrics.json").read_text())
    other = json.loads((run / "metrics" / "TrainingMetrics_1.json").read_text())
    assert main["version"] == 2.0 and other["best_model_metric"] == "progress"
    assert [m["phase"] for m in main["metrics"]].count("evaluation") == 2  # worker 0 only
    assert {m["phase"] for m in other["metrics"]} == {"training"}
    assert [m["episode"] for m in other["metrics"]] == [1, 2, 3, 4]
    assert sum(line.startswith("iteration") for line in lines) == 2


def test_worker_and_trainer_logs_match_the_sagemaker_metric_regexes(two_worker_run) -> None:
    run, _, _ = two_worker_run
    rollout = (run / "logs" / "rollout-0.log").read_text().splitlines()
    trainer = (run / "logs" / "trainer.log").read_text().splitlines()
    assert any(re.match(r"^Training>.*Total reward=(.*?),", line) for line in rollout)
    assert any(re.match(r"^Testing>.*Total reward=(.*?),", line) for line in rollout)
    assert any(re.match(r"^Policy training>.*Surrogate loss=(.*?),", line) for line in trainer)
    assert any(re.match(r"^Policy training>.*Entropy=(.*?),", line) for line in trainer)


def test_every_process_reports_its_idle_time_per_iteration(two_worker_run) -> None:
    run, _, _ = two_worker_run
    history = json.loads((run / "metrics" / "trainer.json").read_text())
    for record in history:
        assert 0.0 <= record["trainer_idle_seconds"] <= record["rollout_seconds"]
        assert set(record["workers_idle_seconds"]) == {"0", "1"}
        assert all(seconds >= 0.0 for seconds in record["workers_idle_seconds"].values())
    trainer = (run / "logs" / "trainer.log").read_text().splitlines()
    idle_lines = [line for line in trainer if line.startswith("Iteration> ")]
    assert len(idle_lines) == 2
    assert all("trainer idle" in line and "0: " in line and "1: " in line for line in idle_lines)


def test_deepracer_utils_reads_the_run_folder(two_worker_run) -> None:
    from deepracer.logs import DeepRacerLog

    run, _, _ = two_worker_run
    log = DeepRacerLog(str(run))
    log.load()
    frame = log.dataframe()
    assert set(frame["worker"].unique()) == {0, 1}
    assert set(frame["iteration"].unique()) == {0, 1}
    assert {"x", "y", "steering_angle", "speed", "on_track", "progress"} <= set(frame.columns)
    assert frame.groupby(["worker", "iteration"])["episode"].nunique().sum() == 8


def test_episode_split_follows_the_remainder_rule() -> None:
    assert [episodes_for_worker(20, 3, i) for i in range(3)] == [7, 7, 6]
    assert [episodes_for_worker(2, 3, i) for i in range(3)] == [1, 1, 0]


def test_per_worker_settings_and_surplus_workers(tmp_path) -> None:
    tiny_run(tmp_path, "multi", workers=3, iterations=1, episodes=2)
    store = open_store(tmp_path)
    params = store.get_text("multi/training_params.yaml").replace(
        "WORLD_NAME: Workshop_Oval", "WORLD_NAME: Workshop_Kidney"
    )
    store.put_text(worker_params_key("multi", 1), params)
    summary, _ = run_quietly(LocalTrainingRun(tmp_path, "multi", 3))
    assert summary.exit_code == 0  # worker 2 has no episode and exits cleanly
    rows = (tmp_path / "multi" / "1" / "training-simtrace" / "0-iteration.csv").read_text()
    track_len = float(rows.splitlines()[1].split(",")[13])
    assert track_len == pytest.approx(23.71, abs=0.05)  # Workshop_Kidney, not the oval
    assert not (tmp_path / "multi" / "2").exists()


def test_a_killed_rollout_worker_is_restarted_and_training_goes_on(tmp_path) -> None:
    tiny_run(tmp_path, "fault", workers=2, iterations=3, episodes=12)
    run = LocalTrainingRun(tmp_path, "fault", 2, extra_env={"ROLLOUT_TIMEOUT_S": "5"})
    killed = threading.Event()

    def kill_worker_one_while_playing() -> None:
        status = tmp_path / "fault" / "live" / "worker-1" / "status.json"
        deadline = time.monotonic() + 900  # only a hang reaches it
        while time.monotonic() < deadline and not status.exists():
            time.sleep(0.05)
        assert status.exists(), "worker 1 never published its live status"
        child = run._children[2]
        os.killpg(child.process.pid, signal.SIGKILL)
        killed.set()

    threading.Thread(target=kill_worker_one_while_playing, daemon=True).start()
    summary, lines = run_quietly(run)
    assert killed.is_set()
    assert summary.exit_code == 0 and summary.iterations == 3
    assert any("rollout-1 exited" in line and "restarting" in line for line in lines)


def test_a_restarted_trainer_resumes_from_the_last_complete_checkpoint(tmp_path) -> None:
    tiny_run(tmp_path, "resume", workers=1, iterations=2)
    summary, _ = run_quietly(LocalTrainingRun(tmp_path, "resume", 1))
    assert summary.iterations == 2
    store = open_store(tmp_path)
    # a crash while publishing checkpoint 3: its weights are there, its manifest and pointer not
    store.put_bytes("resume/model/3_Step-999.ckpt.safetensors", b"half-written")
    assert find_resume_point(store, "resume").number == 2
    hyper = store.get_json("resume/hyperparameters.json")
    store.put_json("resume/hyperparameters.json", {**hyper, "term_cond_max_episodes": 3})
    summary, _ = run_quietly(LocalTrainingRun(tmp_path, "resume", 1))
    assert summary.exit_code == 0 and summary.iterations == 3
    trainer_log = (tmp_path / "resume" / "logs" / "trainer.log").read_text()
    assert "resuming from 2_Step-" in trainer_log and "no saved optimizer" in trainer_log
    history = store.get_json("resume/metrics/trainer.json")
    assert [h["iteration"] for h in history] == [0, 1, 2]


def test_a_corrupt_episode_batch_is_skipped_with_a_warning(tmp_path, caplog) -> None:
    tiny_run(tmp_path, "corrupt", workers=2, iterations=1)
    store = open_store(tmp_path)
    trainer = Trainer(store, "corrupt", {})
    good = EpisodeArrays(
        observations={"FRONT_FACING_CAMERA": np.zeros((3, 120, 160, 1), np.uint8)},
        actions=np.array([0, 1, 2]),
        rewards=np.ones(3, np.float32),
    )
    save_episode_batch(store, episode_batch_key("corrupt", 0, 0), [good])
    bad_key = episode_batch_key("corrupt", 0, 1)
    store.put_bytes(bad_key, store.get_bytes(episode_batch_key("corrupt", 0, 0))[:200])
    with caplog.at_level("WARNING"):
        episodes, _ = trainer._gather(0, workers=2, started=time.monotonic())
    assert len(episodes) == 1
    assert any(bad_key in record.getMessage() for record in caplog.records)


def test_transition_cap_keeps_whole_episodes_in_order() -> None:
    def episode(steps: int) -> EpisodeArrays:
        return EpisodeArrays(
            {"LIDAR": np.zeros((steps, 64), np.float32)},
            np.zeros(steps, np.int64),
            np.zeros(steps, np.float32),
        )

    kept = cap_transitions([episode(400), episode(500), episode(200), episode(50)], 1000)
    assert [e.num_steps for e in kept] == [400, 500]


def test_a_second_run_on_the_same_prefix_is_refused(tmp_path) -> None:
    tiny_run(tmp_path, "busy", workers=1)
    (tmp_path / "busy").mkdir(exist_ok=True)
    (tmp_path / "busy" / "runner.json").write_text(json.dumps({"pid": os.getpid()}))
    with pytest.raises(RunnerError, match="already running"):
        LocalTrainingRun(tmp_path, "busy", 1).run()


def test_publisher_pointer_is_never_left_on_an_incomplete_checkpoint(tmp_path) -> None:
    store = open_store(tmp_path)
    publisher = CheckpointPublisher(store, "p")
    publisher.publish(0, 0, {".safetensors": b"w", ".info.json": b"{}"})
    store.put_bytes("p/model/1_Step-5.ckpt.safetensors", b"partial")
    assert find_resume_point(store, "p") == CheckpointRef(0, 0)


def test_the_best_policy_is_exported_as_onnx_that_reproduces_its_actions(
    two_worker_run, tmp_path
) -> None:
    import tarfile

    import onnxruntime

    from markov.agents.restore import build_agent, find_checkpoint, load_weights
    from markov.formats.checkpoints import CheckpointReader

    run, _, _ = two_worker_run
    with tarfile.open(run / "export" / "best-model.tar.gz") as tar:
        assert {"model.onnx", "model_metadata.json"} <= set(tar.getnames())
        tar.extractall(tmp_path, filter="data")
    store = open_store(run.parent)
    agent = build_agent(default_model_metadata(), Hyperparameters())
    best = find_checkpoint(store, run.name, "best")
    load_weights(agent, CheckpointReader(store, run.name).load(best))
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    images = np.random.default_rng(0).integers(0, 255, (4, 120, 160, 1), dtype=np.uint8)
    (probabilities,) = session.run(None, {"FRONT_FACING_CAMERA": images})
    expected = agent.act({"FRONT_FACING_CAMERA": images}, deterministic=True)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), expected)


def test_object_avoidance_training_records_crashed_episodes(tmp_path) -> None:
    from markov.environment.model_metadata import load_model_metadata

    straight_only = load_model_metadata(
        {"action_space": [{"steering_angle": 0.0, "speed": 1.0}], "sensor": ["FRONT_FACING_CAMERA"]}
    )
    write_run_inputs(
        open_store(tmp_path),
        "boxes",
        world_name=TRACK,
        num_workers=1,
        model_metadata=straight_only,
        hyperparameters=Hyperparameters(
            num_episodes_between_training=2, num_epochs=1, term_cond_max_episodes=1
        ),
        params={
            "RACE_TYPE": "OBJECT_AVOIDANCE",
            "OBJECT_POSITIONS": "0.1,1;0.1,-1",
            "CHANGE_START_POSITION": "false",
            "MIN_EVAL_TRIALS": "1",
        },
    )
    summary, _ = run_quietly(LocalTrainingRun(tmp_path, "boxes", 1))
    assert summary.exit_code == 0
    rows = (tmp_path / "boxes" / "training-simtrace" / "0-iteration.csv").read_text()
    last_statuses = [
        line.split(",")[15] for line in rows.splitlines()[1:] if line.split(",")[9] == "True"
    ]
    assert last_statuses == ["crashed", "crashed"]
    metrics = json.loads((tmp_path / "boxes" / "metrics" / "TrainingMetrics.json").read_text())
    assert {m["episode_status"] for m in metrics["metrics"]} == {"Crashed"}


def test_async_training_runs_to_the_end(tmp_path) -> None:
    tiny_run(tmp_path, "async", workers=2, iterations=2)
    run = LocalTrainingRun(
        tmp_path, "async", 2, extra_env={"DISTRIBUTED_COACH_SYNCHRONIZATION_TYPE": "ASYNC"}
    )
    summary, _ = run_quietly(run)
    assert summary.exit_code == 0 and summary.iterations == 2
    history = open_store(tmp_path).get_json("async/metrics/trainer.json")
    assert all(record["episodes"] >= 4 for record in history)  # a full iteration's episodes
