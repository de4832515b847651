"""Model stores: the folder or S3 prefix through which trainer and rollout workers talk."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from markov.store.base import (
    InvalidStoreKey,
    ModelStore,
    StoreConfigError,
    StoreDecodeError,
    StoreKeyError,
)
from markov.store.folder import FolderStore
from markov.store.s3 import RetryPolicy, S3Store

__all__ = [
    "FolderStore",
    "InvalidStoreKey",
    "ModelStore",
    "RetryPolicy",
    "S3Store",
    "StoreConfigError",
    "StoreDecodeError",
    "StoreKeyError",
    "open_store",
]

ACCEPTED_FORMS = "s3://bucket[/prefix], file:///absolute/folder, or a plain folder path"


def open_store(url_or_path: str | os.PathLike[str]) -> ModelStore:
    """Open the store named by an s3:// URL, a file:// URL or a plain folder path.

    Folder stores are created if missing. Any other URL scheme is rejected with the list of
    accepted forms.
    """
    if isinstance(url_or_path, os.PathLike):
        return FolderStore(url_or_path)
    text = str(url_or_path).strip()
    if not text:
        raise StoreConfigError(f"store URL is empty; use {ACCEPTED_FORMS}")
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreConfigError(f"store URL {text!r} has no bucket name; use {ACCEPTED_FORMS}")
        return S3Store(parsed.netloc, parsed.path.strip("/"))
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StoreConfigError(
                f"store URL {text!r} names the host {parsed.netloc!r}; only local folders are "
                f"supported, so write file:///absolute/folder. Accepted forms: {ACCEPTED_FORMS}"
            )
        return FolderStore(Path(unquote(parsed.path)))
    if "://" in text:
        raise StoreConfigError(
            f"store URL {text!r} has the unsupported scheme {parsed.scheme!r}; use {ACCEPTED_FORMS}"
        )
    return FolderStore(Path(text))
