"""Configuration every worker reads from its environment, with the simapp's variable names.

``MODEL_STORE_URL`` names the store (``file:///abs/folder`` locally, ``s3://bucket`` on AWS);
without it the store is ``s3://$SAGEMAKER_SHARED_S3_BUCKET``. ``SAGEMAKER_SHARED_S3_PREFIX`` is
the run's prefix (the experiment id).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from markov.presets import preset
from markov.presets.preset import SYNC_TYPE_VARIABLE, SyncType


class WorkerConfigError(ValueError):
    """An environment variable a worker needs is missing or malformed."""


@dataclass(frozen=True)
class StoreLocation:
    """Where the run lives: the store URL and the run's prefix."""

    url: str
    prefix: str


def store_location(env: Mapping[str, str] = os.environ) -> StoreLocation:
    """The store URL and prefix from MODEL_STORE_URL / SAGEMAKER_SHARED_S3_* variables."""
    url = env.get("MODEL_STORE_URL") or (
        f"s3://{env['SAGEMAKER_SHARED_S3_BUCKET']}" if env.get("SAGEMAKER_SHARED_S3_BUCKET") else ""
    )
    if not url:
        raise WorkerConfigError(
            "No model store: set MODEL_STORE_URL (file:///abs/folder or s3://bucket) or "
            "SAGEMAKER_SHARED_S3_BUCKET."
        )
    prefix = env.get("SAGEMAKER_SHARED_S3_PREFIX", "").strip("/")
    if not prefix:
        raise WorkerConfigError(
            "SAGEMAKER_SHARED_S3_PREFIX is not set: set it to the run's prefix (experiment id)."
        )
    return StoreLocation(url, prefix)


def int_variable(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole-number environment variable, with a clear error when it is not one."""
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WorkerConfigError(f"{name} is {raw!r}; set it to a whole number.") from None
    if value < minimum:
        raise WorkerConfigError(f"{name} is {value}; it must be >= {minimum}.")
    return value


def float_variable(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A number environment variable (empty or absent gives the default)."""
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise WorkerConfigError(f"{name} is {raw!r}; set it to a number of seconds.") from None


def sync_type(env: Mapping[str, str] = os.environ) -> SyncType:
    """The preset's ``SYNC_TYPE``, or SYNC / ASYNC from DISTRIBUTED_COACH_SYNCHRONIZATION_TYPE
    when the run's environment sets it (read at call time, so an edited preset counts)."""
    raw = env.get(SYNC_TYPE_VARIABLE, "").strip().upper()
    if not raw:
        return preset.SYNC_TYPE
    try:
        return SyncType[raw]
    except KeyError:
        raise WorkerConfigError(
            f"{SYNC_TYPE_VARIABLE} is {raw!r}; use SYNC or ASYNC, or unset it to use "
            f"SYNC_TYPE of markov/presets/preset.py ({preset.SYNC_TYPE.name})."
        ) from None


def setup_logging(name: str) -> logging.Logger:
    """Plain log lines on stderr; stdout stays for the DeepRacer metric lines."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
    )
    return logging.getLogger(name)


def exit_with_parent(env: Mapping[str, str] = os.environ, poll_s: float = 1.0) -> None:
    """End this worker when the runner that started it dies (``DR_PARENT_PID`` is set).

    A local runner killed abruptly cannot stop its children; without this they would keep
    training in the background.
    """
    raw = env.get("DR_PARENT_PID", "")
    if not raw.isdigit():
        return
    parent = int(raw)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
