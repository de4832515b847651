"""Trainer <-> worker sync protocol through a folder store (docs/file-formats.md §12 and §4)."""

from __future__ import annotations

import json
import logging
import threading

import boto3
import pytest
from moto import mock_aws

from markov.formats.checkpoints import (
    CheckpointBook,
    CheckpointPublisher,
    CheckpointReader,
    CheckpointRef,
    IncompleteCheckpoint,
    TrainingFinished,
    find_resume_point,
)
from markov.store import FolderStore, ModelStore, open_store

PREFIX = "exp-1"


def files_for(number: int) -> dict[str, bytes]:
    return {".safetensors": f"weights-{number}".encode(), ".json": b'{"n": %d}' % number}


@pytest.fixture
def store(tmp_path) -> FolderStore:
    return FolderStore(tmp_path)


def checkpoint_names(store: ModelStore) -> set[str]:
    return {
        key.split("/")[-1].split(".ckpt")[0] + ".ckpt"
        for key in store.list(f"{PREFIX}/model")
        if ".ckpt" in key
    }


def test_publish_six_keeps_four_newest_plus_best_and_points_at_sixth(store) -> None:
    publisher = CheckpointPublisher(store, PREFIX, keep=4)
    book = CheckpointBook(store, PREFIX)
    for number in range(6):
        ref = publisher.publish(number, number * 100, files_for(number))
        book.record(ref.name, 90.0 if number == 1 else 10.0 + number, "progress")

    assert store.get_text(f"{PREFIX}/model/.coach_checkpoint") == "5_Step-500.ckpt"
    legacy_index = store.get_text(f"{PREFIX}/model/checkpoint")
    assert legacy_index == 'model_checkpoint_path: "5_Step-500.ckpt"\n'
    assert not store.exists(f"{PREFIX}/model/.lock")
    assert checkpoint_names(store) == {
        "1_Step-100.ckpt",  # the best
        "2_Step-200.ckpt",
        "3_Step-300.ckpt",
        "4_Step-400.ckpt",
        "5_Step-500.ckpt",
    }
    reader = CheckpointReader(store, PREFIX)
    assert reader.latest() == CheckpointRef(5, 500)
    assert reader.load(CheckpointRef(1, 100)) == files_for(1)


def test_reader_sees_none_while_lock_exists_and_without_pointer(store) -> None:
    reader = CheckpointReader(store, PREFIX)
    assert reader.latest() is None
    CheckpointPublisher(store, PREFIX).publish(0, 0, files_for(0))
    assert reader.latest() == CheckpointRef(0, 0)
    store.put_text(f"{PREFIX}/model/.lock", "")
    assert reader.latest() is None


def test_malformed_pointer_gives_none_and_a_warning(store, caplog) -> None:
    store.put_text(f"{PREFIX}/model/.coach_checkpoint", "garbage")
    with caplog.at_level(logging.WARNING):
        assert CheckpointReader(store, PREFIX).latest() is None
    assert "garbage" in caplog.text


def run_once_polled(action) -> tuple[threading.Thread, object]:
    """A thread that runs `action` after the waiter's first poll, and the stop hook to pass."""
    polled = threading.Event()

    def run() -> None:
        polled.wait()
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, lambda: polled.set() or False


def test_wait_for_returns_when_a_later_checkpoint_is_published(store) -> None:
    publisher = CheckpointPublisher(store, PREFIX)
    publisher.publish(0, 0, files_for(0))
    reader = CheckpointReader(store, PREFIX)
    thread, stop = run_once_polled(lambda: publisher.publish(1, 373, files_for(1)))
    ref = reader.wait_for(1, timeout_s=30, poll_s=0.01, stop=stop)
    thread.join()
    assert ref == CheckpointRef(1, 373)
    assert reader.load(ref) == files_for(1)


def test_wait_for_raises_training_finished_when_finished_appears(store) -> None:
    publisher = CheckpointPublisher(store, PREFIX)
    publisher.publish(0, 0, files_for(0))
    reader = CheckpointReader(store, PREFIX)
    thread, stop = run_once_polled(publisher.mark_finished)
    with pytest.raises(TrainingFinished, match=r"\.finished"):
        reader.wait_for(1, timeout_s=30, poll_s=0.01, stop=stop)
    thread.join()
    assert reader.is_finished()


def test_wait_for_times_out_naming_what_it_waited_for(store) -> None:
    CheckpointPublisher(store, PREFIX).publish(2, 50, files_for(2))
    with pytest.raises(TimeoutError, match=r"checkpoint >= 3.*2_Step-50.ckpt"):
        CheckpointReader(store, PREFIX).wait_for(3, timeout_s=0.05, poll_s=0.01)


def test_wait_for_stops_when_the_caller_asks(store) -> None:
    with pytest.raises(TrainingFinished, match="stopped by the caller"):
        CheckpointReader(store, PREFIX).wait_for(0, timeout_s=None, stop=lambda: True)


def test_load_names_missing_files(store) -> None:
    ref = CheckpointPublisher(store, PREFIX).publish(0, 0, files_for(0))
    store.delete(f"{PREFIX}/model/0_Step-0.ckpt.safetensors")
    with pytest.raises(IncompleteCheckpoint, match=r"0_Step-0\.ckpt\.safetensors' is missing"):
        CheckpointReader(store, PREFIX).load(ref)


def test_resume_point_skips_an_incomplete_newest_checkpoint(store) -> None:
    publisher = CheckpointPublisher(store, PREFIX)
    for number in range(3):
        publisher.publish(number, number * 10, files_for(number))
    assert find_resume_point(store, PREFIX) == CheckpointRef(2, 20)

    store.put_bytes(f"{PREFIX}/model/3_Step-30.ckpt.safetensors", b"half")  # crashed upload
    store.put_text(f"{PREFIX}/model/.lock", "3_Step-30.ckpt")
    assert find_resume_point(store, PREFIX) == CheckpointRef(2, 20)

    store.delete(f"{PREFIX}/model/2_Step-20.ckpt.json")  # the pointed-at one is damaged
    assert find_resume_point(store, PREFIX) == CheckpointRef(1, 10)


def test_resume_point_is_none_for_a_fresh_prefix(store) -> None:
    assert find_resume_point(store, PREFIX) is None


@pytest.mark.parametrize(
    ("metric", "values", "best"),
    [
        ("progress", [40.0, 75.5, 60.0], "1_Step-10.ckpt"),
        ("reward", [-5.0, 12.0, 12.0], "1_Step-10.ckpt"),
        ("laptime", [None, 14.2, 12.9, float("inf")], "2_Step-20.ckpt"),
    ],
)
def test_book_tracks_best_and_last(store, metric, values, best) -> None:
    book = CheckpointBook(store, PREFIX)
    for number, value in enumerate(values):
        state = book.record(f"{number}_Step-{number * 10}.ckpt", value, metric)
    assert state.best is not None and state.best.name == best
    last = len(values) - 1
    assert state.last is not None and state.last.name == f"{last}_Step-{last * 10}.ckpt"
    written = json.loads((store.root / PREFIX / "model" / "deepracer_checkpoints.json").read_text())
    assert written["best_checkpoint"]["name"] == best
    assert isinstance(written["last_checkpoint"]["time_stamp"], float)
    assert book.read() == state


def test_book_laptime_without_a_lap_has_no_best(store) -> None:
    state = CheckpointBook(store, PREFIX).record("0_Step-0.ckpt", None, "laptime")
    assert state.best is None
    assert state.last is not None and state.last.avg_eval_metric is None


def test_book_reads_legacy_avg_comp_pct_and_missing_file(store) -> None:
    book = CheckpointBook(store, PREFIX)
    assert book.read().best is None
    store.put_json(
        book.key,
        {"best_checkpoint": {"name": "7_Step-900.ckpt", "avg_comp_pct": 50.0, "time_stamp": 1.0}},
    )
    assert book.read().best.avg_eval_metric == 50.0
    assert book.record("8_Step-1000.ckpt", 49.0).best.name == "7_Step-900.ckpt"


def test_book_rejects_unknown_metric_and_bad_names(store) -> None:
    book = CheckpointBook(store, PREFIX)
    with pytest.raises(ValueError, match="'speed'"):
        book.record("1_Step-1.ckpt", 1.0, "speed")
    with pytest.raises(ValueError, match=r"'model\.ckpt'"):
        book.record("model.ckpt", 1.0)


def test_ip_files_and_flags(store) -> None:
    publisher = CheckpointPublisher(store, PREFIX)
    publisher.write_ip_files({"batch_size": 64, "lr": 0.0003}, host="127.0.0.1")
    assert store.get_json(f"{PREFIX}/ip/ip.json") == {"IP": "127.0.0.1"}
    assert store.get_text(f"{PREFIX}/ip/done") == "done"
    assert store.get_json(f"{PREFIX}/ip/hyperparameters.json") == {"batch_size": 64, "lr": 0.0003}

    reader = CheckpointReader(store, PREFIX)
    assert not reader.is_ready()
    publisher.mark_ready()
    publisher.mark_finished()
    assert reader.is_ready() and reader.is_finished()
    publisher.clear_run_flags()
    assert not reader.is_ready() and not reader.is_finished()


@pytest.mark.parametrize(
    ("number", "files", "message"),
    [
        (-1, {".pt": b"x"}, "number"),
        (1, {}, "empty"),
        (1, {"safetensors": b"x"}, "'safetensors'"),
        (1, {".manifest.json": b"x"}, "reserved"),
        (1, {".pt": "text"}, "must be bytes"),
    ],
)
def test_publish_rejects_bad_input(store, number, files, message) -> None:
    with pytest.raises(ValueError, match=message):
        CheckpointPublisher(store, PREFIX).publish(number, 0, files)
    assert not store.exists(f"{PREFIX}/model/.lock")


def test_protocol_works_the_same_on_s3(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="sync-bucket")
        store = open_store("s3://sync-bucket/shared")
        publisher = CheckpointPublisher(store, PREFIX, keep=2)
        for number in range(4):
            publisher.publish(number, number * 5, files_for(number))
        reader = CheckpointReader(store, PREFIX)
        assert reader.wait_for(3, timeout_s=5, poll_s=0.01) == CheckpointRef(3, 15)
        assert reader.load(CheckpointRef(3, 15)) == files_for(3)
        assert checkpoint_names(store) == {"2_Step-10.ckpt", "3_Step-15.ckpt"}
        assert find_resume_point(store, PREFIX) == CheckpointRef(3, 15)
