"""Faults a careful user or a fault injector meets in a local run, each ending in a clear message
with nothing lost: corrupt batches, damaged checkpoints, contradicting options, a read-only
store, SIGTERM, a run that trains nothing, a worker that fails for good, and a worker that starts
polling before the trainer has written its inputs.

Runs use tiny budgets and are bounded by iterations and events; the only time limits are ones a
hang reaches.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from markov.agents.restore import find_checkpoint
from markov.environment.model_metadata import default_model_metadata
from markov.formats.checkpoints import (
    CheckpointBook,
    CheckpointPublisher,
    CheckpointReader,
    find_resume_point,
    parse_checkpoint_name,
)
from markov.formats.episodes import EpisodeArrays, episode_batch_key, save_episode_batch
from markov.formats.run_inputs import read_params, write_run_inputs
from markov.presets.preset import Hyperparameters
from markov.runners.local import LocalTrainingRun, check_prefix_options, main
from markov.store import FolderStore, open_store
from markov.workers.failure import FAILURE_MARKER
from markov.workers.training import MAX_REPLAYS, Trainer, TrainerError

TRACK = "Workshop_Oval"
HANG_S = 600.0
"""A limit only a hang reaches."""


def write_inputs(store_dir: Path, prefix: str, iterations: int = 1, episodes: int = 2) -> None:
    write_run_inputs(
        open_store(store_dir),
        prefix,
        world_name=TRACK,
        num_workers=1,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(
            num_episodes_between_training=episodes,
            num_epochs=1,
            batch_size=32,
            term_cond_max_episodes=iterations,
        ),
        params={"MIN_EVAL_TRIALS": "1"},
    )


def run_quietly(run: LocalTrainingRun):
    lines: list[str] = []
    run.printer = lines.append
    return run.run(), lines


def set_iterations(store_dir: Path, prefix: str, iterations: int) -> None:
    store = open_store(store_dir)
    hyper = store.get_json(f"{prefix}/hyperparameters.json")
    store.put_json(
        f"{prefix}/hyperparameters.json", {**hyper, "term_cond_max_episodes": iterations}
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def episode() -> EpisodeArrays:
    return EpisodeArrays(
        observations={"FRONT_FACING_CAMERA": np.zeros((3, 120, 160, 1), np.uint8)},
        actions=np.array([0, 1, 2]),
        rewards=np.ones(3, np.float32),
    )


def result_file(run_folder: Path) -> dict:
    return json.loads((run_folder / "runner_result.json").read_text())


# ------------------------------------------------------------------ all batches corrupt
def started_trainer(store_dir: Path, prefix: str) -> tuple[Trainer, CheckpointReader]:
    """A trainer past start-up (checkpoint 0, .ready) and a worker's reader that saw .ready."""
    write_inputs(store_dir, prefix)
    store = open_store(store_dir)
    publisher = CheckpointPublisher(store, prefix)
    publisher.publish(0, 0, {".safetensors": b"w", ".info.json": b"{}"})
    publisher.mark_ready()
    reader = CheckpointReader(store, prefix)
    reader.wait_until_ready(HANG_S)
    return Trainer(store, prefix, {}), reader


def test_an_iteration_whose_batches_are_all_corrupt_is_replayed(tmp_path, caplog) -> None:
    trainer, reader = started_trainer(tmp_path, "replay")
    store = trainer.store
    key = episode_batch_key("replay", 0, 0)
    gathered: list = []
    thread = threading.Thread(target=lambda: gathered.append(trainer._gather(0, 1, 0.0)))
    store.put_bytes(key, b"not an episode batch")
    with caplog.at_level("WARNING"):
        thread.start()
        # the worker waits for checkpoint 1 and is sent back to play iteration 0 again
        ref = reader.wait_for(1, timeout_s=HANG_S, poll_s=0.02)
        assert ref.number == 0
        save_episode_batch(store, key, [episode()])
        thread.join(HANG_S)
    episodes, _idle_seconds = gathered[0]
    assert len(episodes) == 1
    assert "skipping episode batch" in caplog.text
    assert "asking the workers to replay it (attempt 1 of 3)" in caplog.text
    assert not store.exists("replay/model/.replay")
    with pytest.raises(TimeoutError):  # the request is served once, not again
        reader.wait_for(1, timeout_s=0.1, poll_s=0.02)


def test_batches_that_stay_corrupt_end_training_with_a_clear_error(tmp_path) -> None:
    trainer, reader = started_trainer(tmp_path, "broken")
    key = episode_batch_key("broken", 0, 0)
    errors: list[TrainerError] = []

    def gather() -> None:
        try:
            trainer._gather(0, 1, 0.0)
        except TrainerError as error:
            errors.append(error)

    thread = threading.Thread(target=gather)
    thread.start()
    for _ in range(MAX_REPLAYS):
        trainer.store.put_bytes(key, b"garbage")
        assert reader.wait_for(1, timeout_s=HANG_S, poll_s=0.02).number == 0
    trainer.store.put_bytes(key, b"garbage")
    thread.join(HANG_S)
    message = str(errors[0])
    assert f"iteration 0 was unusable {MAX_REPLAYS + 1} times in a row" in message
    assert "restart the training" in message


# ------------------------------------------------------------------ damaged checkpoints
def test_a_truncated_or_deleted_newest_checkpoint_is_skipped_and_the_pointer_repaired(
    tmp_path,
) -> None:
    write_inputs(tmp_path, "damaged", iterations=2)
    summary, _ = run_quietly(LocalTrainingRun(tmp_path, "damaged", 1))
    assert summary.exit_code == 0 and summary.iterations == 2
    store = open_store(tmp_path)
    model = tmp_path / "damaged" / "model"
    trainer_log = tmp_path / "damaged" / "logs" / "trainer.log"

    for damage, reason, iterations in (
        ("truncate", "bytes, expected", 3),
        ("delete", "missing", 4),
    ):
        newest = (model / ".coach_checkpoint").read_text()
        weights = model / f"{newest}.safetensors"
        if damage == "truncate":
            weights.write_bytes(weights.read_bytes()[:1000])
        else:
            weights.unlink()
        fallback = find_resume_point(store, "damaged")
        assert fallback is not None and fallback.name != newest
        # a worker (and an evaluation of "last") loads the newest checkpoint that loads
        ref, _ = CheckpointReader(store, "damaged").load_usable(parse_checkpoint_name(newest))
        assert ref == fallback == find_checkpoint(store, "damaged", "last")

        set_iterations(tmp_path, "damaged", iterations)
        logged = len(trainer_log.read_text())
        summary, lines = run_quietly(LocalTrainingRun(tmp_path, "damaged", 1))
        assert summary.exit_code == 0 and summary.iterations == iterations
        log = trainer_log.read_text()[logged:]
        assert f"skipped checkpoint {newest}" in log and reason in log
        assert f"resuming from {fallback.name}" in log
        assert f"checkpoint pointer damaged/model/.coach_checkpoint named {newest}" in log
        assert not any("restarting" in line for line in lines)
        assert "Traceback" not in (tmp_path / "damaged" / "logs" / "rollout-0.log").read_text()


def test_a_checkpoint_still_being_evaluated_survives_the_next_publish(tmp_path) -> None:
    store = open_store(tmp_path)
    publisher = CheckpointPublisher(store, "p", keep=1)
    files = {".safetensors": b"w", ".info.json": b"{}"}
    first = publisher.publish(0, 0, files)
    publisher.publish(1, 10, files, protect=[first.name])  # worker 0 still evaluates 0
    CheckpointBook(store, "p").record(first.name, 80.0)  # ...and it turns out to be the best
    publisher.publish(2, 20, files)
    assert CheckpointReader(store, "p").load(first) == files
    assert not store.exists("p/model/1_Step-10.ckpt.safetensors")  # neither best nor newest


# ------------------------------------------------------------------ options and the store
def test_options_that_contradict_an_existing_prefix_are_refused(tmp_path, capsys) -> None:
    write_inputs(tmp_path, "taken")
    before = snapshot(tmp_path)
    code = main(
        [
            "--store",
            str(tmp_path),
            "--prefix",
            "taken",
            "--track",
            "Workshop_Kidney",
            "--workers",
            "2",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2
    assert "--track Workshop_Kidney but the stored WORLD_NAME is 'Workshop_Oval'" in error
    assert "--workers 2 but the stored NUM_WORKERS is '1'" in error
    assert "another --prefix" in error and "--overwrite" in error
    assert snapshot(tmp_path) == before

    store = open_store(tmp_path)
    said: list[str] = []
    check_prefix_options(
        store, "taken", track="Workshop_Kidney", workers=None, overwrite=True, printer=said.append
    )
    assert read_params(store, "taken/training_params.yaml")["WORLD_NAME"] == "Workshop_Kidney"
    assert said == ["--overwrite: taken/training_params.yaml now has WORLD_NAME=Workshop_Kidney"]
    assert store.get_bytes("taken/reward_function.py") == before["taken/reward_function.py"]


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_are_refused_before_anything_is_written(
    tmp_path, capsys, workers
) -> None:
    store = tmp_path / "store"
    with pytest.raises(SystemExit) as exited:
        main(["--store", str(store), "--prefix", "p", "--workers", workers])
    error = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"{workers} rollout workers cannot play episodes; pass --workers 1 or more" in error
    assert "Traceback" not in error
    assert not store.exists()


def test_a_read_only_store_is_refused_before_anything_starts(tmp_path, capsys, monkeypatch):
    write_inputs(tmp_path, "ro")
    before = snapshot(tmp_path)
    folder = tmp_path / "ro"
    if os.geteuid() == 0:  # root writes through permission bits: refuse writes as a mount would

        def refuse(self, key: str, data: bytes) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(self.local_path(key)))

        monkeypatch.setattr(FolderStore, "put_bytes", refuse)
    else:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        code = main(["--store", str(tmp_path), "--prefix", "ro"])
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    error = capsys.readouterr().err
    assert code == 2
    assert f"the model store folder {folder} is not writable (Permission denied)" in error
    assert "--store" in error and "Traceback" not in error
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ how a run ends
def run_processes(store_url: str) -> list[int]:
    """Processes whose environment names this store: the runner's children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"MODEL_STORE_URL={store_url}".encode() in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_sigterm_stops_the_run_records_stopped_and_leaves_no_child(tmp_path) -> None:
    write_inputs(tmp_path, "term", iterations=50)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "markov.runners.local",
            "--store",
            str(tmp_path),
            "--prefix",
            "term",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    assert runner.stdout is not None
    for line in runner.stdout:  # until the first trained iteration is reported
        seen.append(line)
        if line.startswith("iteration"):
            break
    assert any(line.startswith("iteration") for line in seen), "".join(seen)
    runner.send_signal(signal.SIGTERM)
    rest, _ = runner.communicate(timeout=HANG_S)
    assert runner.returncode == 143
    assert "Stopped (SIGTERM): every worker was terminated." in rest
    result = result_file(tmp_path / "term")
    assert result["outcome"] == "Stopped" and result["exit_code"] == 143
    assert result["iterations"] >= 1 and result["cause"] == "stopped by SIGTERM"
    assert not (tmp_path / "term" / "runner.json").exists()
    assert run_processes(open_store(tmp_path).url) == []


def test_a_run_that_trains_no_iteration_fails_and_says_why(tmp_path, capsys) -> None:
    write_inputs(tmp_path, "zero")
    code = main(["--store", str(tmp_path), "--prefix", "zero", "--max-time", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "Failed zero: 0 iterations" in out and "Finished" not in out
    assert "no training iteration finished: MAX_TRAINING_TIME_S (0 s) ran out" in out
    result = result_file(tmp_path / "zero")
    assert result["outcome"] == "Failed" and result["exit_code"] == 1
    assert "no training iteration finished" in result["cause"]


FAILING_WORKER = textwrap.dedent(
    f"""
    import pathlib, sys
    with pathlib.Path(sys.argv[1]).open("a") as starts:
        starts.write("started\\n")
    print("params: " + repr({{"x": 1.0, "y": 2.0, "speed": -1.0}}))
    sys.stderr.write(
        "\\n{FAILURE_MARKER}\\nreward_function raised ValueError: speed is negative\\n"
    )
    sys.exit(3)
    """
)


class FailingRolloutRun(LocalTrainingRun):
    """Rollout workers that fail the way a worker with a broken reward function does."""

    starts: Path

    def rollout_command(self) -> list[str]:
        return [sys.executable, "-c", FAILING_WORKER, str(self.starts)]


def test_a_worker_that_fails_for_good_is_not_restarted_and_its_cause_is_shown(tmp_path) -> None:
    write_inputs(tmp_path, "bad")
    run = FailingRolloutRun(tmp_path, "bad", 1)
    run.starts = tmp_path / "starts.txt"
    summary, lines = run_quietly(run)
    shown = "\n".join(lines)
    assert summary.exit_code == 1 and summary.outcome == "Failed"
    assert run.starts.read_text().count("started") == 1
    assert "rollout-0 failed, and a restart would fail the same way (exit 3" in shown
    assert "reward_function raised ValueError: speed is negative" in shown
    assert "params:" not in shown and "restarting" not in shown
    assert "speed is negative" in result_file(tmp_path / "bad")["cause"]


# ------------------------------------------------------------------ start-up race
WAIT_THEN_TRAIN = textwrap.dedent(
    """
    import pathlib, runpy, sys, time
    log = pathlib.Path(sys.argv[1])
    deadline = time.monotonic() + 600
    while "waiting for the trainer" not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline:
            sys.exit("the rollout worker never started polling for the trainer")
        time.sleep(0.05)
    sys.argv = ["training_worker"]
    runpy.run_module("markov.workers.training", run_name="__main__")
    """
)


class LateTrainerRun(LocalTrainingRun):
    """The trainer starts only once the rollout worker polls for its inputs."""

    def trainer_command(self) -> list[str]:
        log = self.run_folder / "logs" / "rollout-0.log"
        return [sys.executable, "-c", WAIT_THEN_TRAIN, str(log)]


def test_a_worker_polling_before_the_trainer_wrote_its_inputs_waits_for_them(tmp_path) -> None:
    write_inputs(tmp_path, "race")
    summary, lines = run_quietly(LateTrainerRun(tmp_path, "race", 1))
    assert summary.exit_code == 0 and summary.iterations == 1
    log = (tmp_path / "race" / "logs" / "rollout-0.log").read_text()
    assert "waiting for the trainer" in log and "Traceback" not in log
    assert not any("restarting" in line for line in lines)
