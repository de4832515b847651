"""A ModelStore in a local folder, used by local runs and by tests.

Writes go to a temporary file in the target's own folder, are flushed to disk and then moved
over the final name with os.replace, which is atomic on one file system. A crash at any point
leaves either the old file or the new one under the final name.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from markov.store.base import (
    TEMP_NAME_PREFIX,
    InvalidStoreKey,
    ModelStore,
    StoreConfigError,
    StoreKeyError,
    normalize_prefix,
    validate_key,
)


class FolderStore(ModelStore):
    """Files under a root folder; keys map to relative paths below it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root).expanduser().resolve()
        if self._root.exists() and not self._root.is_dir():
            raise StoreConfigError(
                f"store folder {str(self._root)!r} exists but is not a folder; "
                "pass a folder path or a path that does not exist yet"
            )
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        """The absolute folder that holds the store."""
        return self._root

    @property
    def url(self) -> str:
        return self._root.as_uri()

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f"{TEMP_NAME_PREFIX}{uuid.uuid4().hex}-{target.name}")
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StoreKeyError(key, self.url) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        folder_key = normalize_prefix(prefix)
        folder = self._root.joinpath(*folder_key.split("/")) if folder_key else self._root
        if not folder.is_dir():
            return []
        keys = []
        for dirpath, _dirnames, filenames in os.walk(folder):
            relative = Path(dirpath).relative_to(self._root).as_posix()
            for name in filenames:
                if name.startswith(TEMP_NAME_PREFIX):
                    continue
                keys.append(name if relative == "." else f"{relative}/{name}")
        return sorted(keys)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        folder_key = normalize_prefix(prefix)
        if not folder_key:
            raise InvalidStoreKey(
                "delete_prefix needs a non-empty prefix; refusing to empty the whole store "
                f"{self.url}"
            )
        folder = self._root.joinpath(*folder_key.split("/"))
        if folder.is_dir():
            shutil.rmtree(folder)
