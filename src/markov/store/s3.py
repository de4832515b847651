"""A ModelStore in an S3 bucket (optionally below a base prefix), used by SageMaker runs.

S3 PUTs are atomic per object, so put_bytes needs no temporary object. Endpoints are never
hard-coded: boto3 itself honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) for clients built
without an explicit endpoint; S3_ENDPOINT_URL (the DRfC / simapp variable) is passed explicitly
and so takes precedence when set. botocore retries each call in "standard" mode, and this module
adds a bounded exponential backoff around it for errors that outlive those retries.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from markov.store.base import (
    InvalidStoreKey,
    ModelStore,
    StoreConfigError,
    StoreKeyError,
    normalize_prefix,
    validate_key,
)

ENDPOINT_ENV_VARIABLE = "S3_ENDPOINT_URL"
TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalError",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
    }
)
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
DELETE_BATCH_SIZE = 1000

Result = TypeVar("Result")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff on top of botocore's own retries."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(
                f"retry policy {self} is invalid; attempts must be >= 1 and delays >= 0"
            )

    def delay_before(self, attempt: int) -> float:
        """Seconds to sleep before retry number `attempt` (1-based), with jitter."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_transient(error: Exception) -> bool:
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return _error_code(error) in TRANSIENT_ERROR_CODES or status == 429 or status >= 500
    return False


def make_s3_client() -> Any:
    """A boto3 S3 client with standard-mode retries and the endpoint from the environment."""
    endpoint = os.environ.get(ENDPOINT_ENV_VARIABLE) or None
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return boto3.client("s3", endpoint_url=endpoint, config=config)


class S3Store(ModelStore):
    """Objects in `bucket` below `base_prefix`; store keys are relative to that prefix."""

    def __init__(
        self,
        bucket: str,
        base_prefix: str = "",
        *,
        client: Any | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise StoreConfigError(
                f"S3 bucket name {bucket!r} is invalid; use a URL like s3://my-bucket/prefix"
            )
        try:
            self._base = normalize_prefix(base_prefix)
        except InvalidStoreKey as error:
            raise StoreConfigError(f"S3 base prefix {base_prefix!r} is invalid: {error}") from error
        self._bucket = bucket
        self._client = client if client is not None else make_s3_client()
        self._retry = retry if retry is not None else RetryPolicy()

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._base}" if self._base else f"s3://{self._bucket}"

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self._base}/{key}" if self._base else key

    def _folder_key(self, prefix: str) -> str:
        folder = normalize_prefix(prefix)
        parts = [part for part in (self._base, folder) if part]
        return "/".join(parts) + "/" if parts else ""

    def _call(self, description: str, operation: Callable[[], Result]) -> Result:
        """Run one S3 operation, retrying transient failures with bounded backoff."""
        attempt = 1
        while True:
            try:
                return operation()
            except (ClientError, BotoCoreError) as error:
                if isinstance(error, ClientError) and _error_code(error) == "NoSuchBucket":
                    raise StoreConfigError(
                        f"S3 bucket '{self._bucket}' does not exist ({description}); create it "
                        "or fix the store URL"
                    ) from error
                if not _is_transient(error) or attempt >= self._retry.attempts:
                    raise
                time.sleep(self._retry.delay_before(attempt))
                attempt += 1

    def put_bytes(self, key: str, data: bytes) -> None:
        object_key = self._object_key(key)
        self._call(
            f"put {object_key}",
            lambda: self._client.put_object(Bucket=self._bucket, Key=object_key, Body=data),
        )

    def get_bytes(self, key: str) -> bytes:
        object_key = self._object_key(key)

        def read() -> bytes:
            response = self._client.get_object(Bucket=self._bucket, Key=object_key)
            return response["Body"].read()

        try:
            return self._call(f"get {object_key}", read)
        except ClientError as error:
            if _error_code(error) in MISSING_KEY_CODES:
                raise StoreKeyError(key, self.url) from None
            raise

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        try:
            self._call(
                f"head {object_key}",
                lambda: self._client.head_object(Bucket=self._bucket, Key=object_key),
            )
        except ClientError as error:
            if _error_code(error) in MISSING_KEY_CODES:
                return False
            raise
        return True

    def _list_object_keys(self, folder_key: str) -> list[str]:
        def collect() -> list[str]:
            paginator = self._client.get_paginator("list_objects_v2")
            keys = []
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder_key):
                keys.extend(item["Key"] for item in page.get("Contents", []))
            return keys

        return self._call(f"list {folder_key or '/'}", collect)

    def list(self, prefix: str = "") -> list[str]:
        base_length = len(self._base) + 1 if self._base else 0
        return sorted(key[base_length:] for key in self._list_object_keys(self._folder_key(prefix)))

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        self._call(
            f"delete {object_key}",
            lambda: self._client.delete_object(Bucket=self._bucket, Key=object_key),
        )

    def delete_prefix(self, prefix: str) -> None:
        if not normalize_prefix(prefix):
            raise InvalidStoreKey(
                "delete_prefix needs a non-empty prefix; refusing to empty the whole store "
                f"{self.url}"
            )
        object_keys = self._list_object_keys(self._folder_key(prefix))
        for start in range(0, len(object_keys), DELETE_BATCH_SIZE):
            batch = [{"Key": key} for key in object_keys[start : start + DELETE_BATCH_SIZE]]
            self._call(
                f"delete below {prefix}",
                lambda batch=batch: self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                ),
            )
