"""Contract tests shared by the folder and S3 model stores, plus URL handling and atomicity."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from markov.store import (
    FolderStore,
    InvalidStoreKey,
    ModelStore,
    RetryPolicy,
    S3Store,
    StoreConfigError,
    StoreDecodeError,
    StoreKeyError,
    open_store,
)
from markov.store.s3 import make_s3_client

BUCKET = "deepracer-test-bucket"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so moto intercepts every call."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path, aws_env) -> Iterator[ModelStore]:
    if request.param == "folder":
        yield FolderStore(tmp_path / "store")
        return
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield open_store(f"s3://{BUCKET}/runs")


def test_bytes_round_trip_and_overwrite(store: ModelStore) -> None:
    store.put_bytes("exp/model/a.bin", b"\x00\x01first")
    store.put_bytes("exp/model/a.bin", b"second")
    assert store.get_bytes("exp/model/a.bin") == b"second"


def test_text_and_json_round_trip(store: ModelStore) -> None:
    store.put_text("exp/model/.coach_checkpoint", "3_Step-120.ckpt")
    store.put_json("exp/ip/hyperparameters.json", {"lr": 0.0003, "batch_size": 64})
    assert store.get_text("exp/model/.coach_checkpoint") == "3_Step-120.ckpt"
    assert store.get_json("exp/ip/hyperparameters.json") == {"lr": 0.0003, "batch_size": 64}


def test_json_refuses_nan_and_reports_bad_json(store: ModelStore) -> None:
    with pytest.raises(StoreDecodeError, match=r"exp/bad\.json"):
        store.put_json("exp/bad.json", {"value": float("nan")})
    store.put_text("exp/broken.json", "{not json")
    with pytest.raises(StoreDecodeError, match=r"exp/broken\.json"):
        store.get_json("exp/broken.json")


def test_exists_and_missing_key_error_names_key_and_url(store: ModelStore) -> None:
    assert not store.exists("exp/model/.lock")
    store.put_text("exp/model/.lock", "")
    assert store.exists("exp/model/.lock")
    with pytest.raises(StoreKeyError) as caught:
        store.get_bytes("exp/model/missing.ckpt")
    assert isinstance(caught.value, KeyError)
    assert "exp/model/missing.ckpt" in str(caught.value)
    assert store.url in str(caught.value)


def test_list_returns_sorted_keys_below_a_folder_prefix(store: ModelStore) -> None:
    for key in ("exp/model/b", "exp/model/.ready", "exp/model/sub/c", "exp/ip/done", "exp2/x"):
        store.put_text(key, "x")
    assert store.list("exp/model") == ["exp/model/.ready", "exp/model/b", "exp/model/sub/c"]
    assert store.list("exp/model/") == store.list("exp/model")
    assert store.list("exp/nothing") == []
    assert store.list("") == sorted(
        ["exp/model/b", "exp/model/.ready", "exp/model/sub/c", "exp/ip/done", "exp2/x"]
    )


def test_delete_is_idempotent(store: ModelStore) -> None:
    store.put_text("exp/model/.lock", "")
    store.delete("exp/model/.lock")
    store.delete("exp/model/.lock")
    assert not store.exists("exp/model/.lock")


def test_delete_prefix_removes_only_that_folder(store: ModelStore) -> None:
    for key in ("exp/episodes/iteration-0/worker-0.npz", "exp/episodes/iteration-1/w", "exp/k"):
        store.put_bytes(key, b"1")
    store.delete_prefix("exp/episodes")
    assert store.list("exp") == ["exp/k"]
    with pytest.raises(InvalidStoreKey):
        store.delete_prefix("")


@pytest.mark.parametrize(
    "bad_key", ["", "/abs/key", "a/../b", "..", "a//b", "./a", "a\\b", "a/.~tmp-x"]
)
def test_keys_that_escape_or_are_malformed_are_rejected(store: ModelStore, bad_key: str) -> None:
    with pytest.raises(InvalidStoreKey, match="store key"):
        store.put_bytes(bad_key, b"x")


def test_local_path_only_for_folder_store(store: ModelStore) -> None:
    store.put_text("exp/a.txt", "hello")
    path = store.local_path("exp/a.txt")
    if isinstance(store, FolderStore):
        assert path is not None and path.read_text() == "hello"
    else:
        assert path is None


def test_folder_write_crash_before_rename_keeps_old_value(tmp_path, monkeypatch) -> None:
    store = FolderStore(tmp_path)
    store.put_text("exp/model/.coach_checkpoint", "1_Step-10.ckpt")

    def crash(*_args: object) -> None:
        raise OSError("simulated crash between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.put_text("exp/model/.coach_checkpoint", "2_Step-20.ckpt")
    monkeypatch.undo()
    assert store.get_text("exp/model/.coach_checkpoint") == "1_Step-10.ckpt"
    assert sorted(p.name for p in (tmp_path / "exp" / "model").iterdir()) == [".coach_checkpoint"]


def test_open_store_accepts_plain_paths_and_file_urls(tmp_path) -> None:
    plain = open_store(str(tmp_path / "plain"))
    from_url = open_store((tmp_path / "by-url").as_uri())
    from_pathlike = open_store(tmp_path / "pathlike")
    for store, folder in ((plain, "plain"), (from_url, "by-url"), (from_pathlike, "pathlike")):
        assert isinstance(store, FolderStore)
        assert (tmp_path / folder).is_dir()
        assert store.url == (tmp_path / folder).as_uri()


def test_open_store_s3_url_keeps_bucket_and_base_prefix(aws_env) -> None:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        store = open_store(f"s3://{BUCKET}/base/prefix/")
        store.put_text("exp/a.txt", "x")
        listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    assert isinstance(store, S3Store)
    assert store.url == f"s3://{BUCKET}/base/prefix"
    assert [item["Key"] for item in listed] == ["base/prefix/exp/a.txt"]


@pytest.mark.parametrize(
    "url", ["http://example.com/x", "gs://bucket/x", "s3://", "file://otherhost/x", " "]
)
def test_open_store_rejects_other_forms_listing_accepted_ones(url: str) -> None:
    with pytest.raises(StoreConfigError, match="file:///absolute/folder"):
        open_store(url)


def test_s3_missing_bucket_is_a_clear_config_error(aws_env) -> None:
    with mock_aws():
        store = open_store("s3://no-such-bucket-here")
        with pytest.raises(StoreConfigError, match="no-such-bucket-here"):
            store.put_text("a", "x")


def test_s3_client_endpoint_comes_from_environment(aws_env, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9001")
    assert make_s3_client().meta.endpoint_url == "http://127.0.0.1:9001"
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9002")
    assert make_s3_client().meta.endpoint_url == "http://127.0.0.1:9002"


class FlakyClient:
    """Wraps a real client and fails the first `failures` put_object calls with SlowDown."""

    def __init__(self, client: object, failures: int) -> None:
        self._client = client
        self.failures = failures

    def put_object(self, **kwargs: object) -> object:
        if self.failures > 0:
            self.failures -= 1
            raise ClientError(
                {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                "PutObject",
            )
        return self._client.put_object(**kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def test_s3_transient_errors_are_retried_within_the_bound(aws_env) -> None:
    no_wait = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        recovering = S3Store(BUCKET, client=FlakyClient(client, failures=2), retry=no_wait)
        recovering.put_text("a", "x")
        assert recovering.get_text("a") == "x"
        failing = S3Store(BUCKET, client=FlakyClient(client, failures=3), retry=no_wait)
        with pytest.raises(ClientError, match="SlowDown"):
            failing.put_text("b", "x")
