"""Live frames: rollout workers publish their latest camera and top-down views for notebooks.

Per worker ``i`` the store holds ``<prefix>/live/worker-<i>/camera.png``, ``topdown.png`` and
``status.json`` (iteration, episode, step, progress, ``time`` = unix seconds), each replaced
atomically a few times per second, so a reader never sees half a frame.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from markov.formats.layout import RunLayout
from markov.store import ModelStore

MAX_FRAME_SIDE_PX = 320
"""Frames are shrunk to fit this many pixels per side before they are published."""


def encode_png(image: np.ndarray, max_side: int = MAX_FRAME_SIDE_PX) -> bytes:
    """PNG bytes of a grey (H, W[, 1]), stereo (H, W, 2: side by side) or RGB uint8 image."""
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3 and pixels.shape[2] == 2:
        pixels = np.hstack([pixels[:, :, 0], pixels[:, :, 1]])
    picture = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def publish_frames(
    store: ModelStore,
    prefix: str,
    worker: int,
    camera: np.ndarray | None,
    topdown: np.ndarray,
    status: Mapping[str, Any],
) -> None:
    """Write a worker's camera and top-down frames (small PNGs) and its status JSON."""
    layout = RunLayout(prefix)
    if camera is not None:
        store.put_bytes(layout.live_camera(worker), encode_png(camera))
    store.put_bytes(layout.live_topdown(worker), encode_png(topdown))
    plain = {key: _plain(value) for key, value in status.items()}
    store.put_json(layout.live_status(worker), {**plain, "time": time.time()}, indent=None)


class LiveFramePublisher:
    """Publishes a worker's frames at most every ``interval_s`` seconds of wall clock."""

    def __init__(self, store: ModelStore, prefix: str, worker: int, interval_s: float = 0.3):
        self.store = store
        self.prefix = prefix
        self.worker = worker
        self.interval_s = interval_s
        self._last = 0.0

    def due(self) -> bool:
        """Whether enough time passed since the last publication."""
        return time.monotonic() - self._last >= self.interval_s

    def publish(
        self, camera: np.ndarray | None, topdown: np.ndarray, status: Mapping[str, Any]
    ) -> None:
        """Write the frames and status now."""
        self._last = time.monotonic()
        publish_frames(self.store, self.prefix, self.worker, camera, topdown, status)


def _plain(value: Any) -> Any:
    """NumPy scalars become plain Python numbers for JSON."""
    return value.item() if isinstance(value, np.generic) else value
