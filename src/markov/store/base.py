"""The ModelStore interface: the only channel between the trainer and the rollout workers.

A store holds opaque files under '/'-separated keys relative to its root, laid out like the
simapp's S3 prefix (docs/file-formats.md §8). Every write is atomic: a reader sees either the
previous content or the new one, never a partial file.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

TEMP_NAME_PREFIX = ".~tmp-"
"""Names starting with this are in-flight temporary files of the folder store, never keys."""


class StoreKeyError(KeyError):
    """A key that was read does not exist in the store."""

    def __init__(self, key: str, store_url: str) -> None:
        super().__init__(key)
        self.key = key
        self.store_url = store_url

    def __str__(self) -> str:
        return f"no file at key '{self.key}' in store {self.store_url}"


class InvalidStoreKey(ValueError):
    """A key or prefix is not a clean relative '/'-separated path."""


class StoreConfigError(ValueError):
    """A store URL or its target (folder, bucket) cannot be used."""


class StoreDecodeError(ValueError):
    """A stored file does not hold the text or JSON that the caller asked for."""


def validate_key(key: str, *, what: str = "key") -> str:
    """Return `key` unchanged if it is a clean relative path, else raise InvalidStoreKey.

    Clean means: non-empty '/'-separated segments, no leading '/', no '.' or '..' segments,
    no backslashes, and no segment that looks like a temporary file of the folder store.
    """
    if not isinstance(key, str) or not key:
        raise InvalidStoreKey(
            f"store {what} {key!r} is empty or not a string; use a relative path such as "
            "'experiment/model/.coach_checkpoint'"
        )
    if key.startswith("/") or "\\" in key:
        raise InvalidStoreKey(
            f"store {what} {key!r} must be a relative '/'-separated path without a leading '/' "
            "or backslashes; drop the leading slash or replace backslashes with '/'"
        )
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidStoreKey(
                f"store {what} {key!r} contains an empty, '.' or '..' segment; keys must stay "
                "inside the store, so write the path without them"
            )
        if segment.startswith(TEMP_NAME_PREFIX):
            raise InvalidStoreKey(
                f"store {what} {key!r} uses the reserved name prefix {TEMP_NAME_PREFIX!r} of "
                "temporary files; choose another file name"
            )
    return key


def normalize_prefix(prefix: str) -> str:
    """Strip a trailing '/' from a folder prefix; '' (the whole store) stays ''."""
    stripped = prefix.rstrip("/")
    if stripped:
        validate_key(stripped, what="prefix")
    return stripped


class ModelStore(ABC):
    """Files under '/'-separated keys, with atomic writes, in a folder or an S3 prefix."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL this store was opened with, normalised (file:///... or s3://bucket/prefix)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write `data` under `key`, replacing any previous content atomically."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Read the file under `key`; raise StoreKeyError if it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a file exists under `key`."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """All keys below the folder `prefix` ('' = the whole store), recursively, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the file under `key`; a missing file is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every file below the folder `prefix` (which must not be empty)."""

    def local_path(self, key: str) -> Path | None:
        """Where `key` lives on the local disk (it may not exist yet), or None if not local."""
        validate_key(key)
        return None

    def put_text(self, key: str, text: str) -> None:
        """Write `text` as UTF-8 under `key`, atomically."""
        self.put_bytes(key, text.encode("utf-8"))

    def get_text(self, key: str) -> str:
        """Read the UTF-8 text under `key`."""
        data = self.get_bytes(key)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StoreDecodeError(
                f"{self.url} key '{key}' is not UTF-8 text ({error}); read it with get_bytes"
            ) from error

    def put_json(self, key: str, value: Any, *, indent: int | None = 2) -> None:
        """Write `value` as strict JSON (no NaN or infinity) under `key`, atomically."""
        try:
            text = json.dumps(value, indent=indent, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StoreDecodeError(
                f"cannot write key '{key}' to {self.url} as JSON: {error}; pass only dicts, "
                "lists, strings, finite numbers, booleans and None"
            ) from error
        self.put_text(key, text + "\n")

    def get_json(self, key: str) -> Any:
        """Read and parse the JSON document under `key`."""
        text = self.get_text(key)
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise StoreDecodeError(
                f"{self.url} key '{key}' is not valid JSON ({error}); rewrite or delete the file"
            ) from error

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
