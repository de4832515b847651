"""Live view of training: rollout workers publish small frames, a notebook shows them in a grid.

Per worker ``i`` the store holds ``<prefix>/live/worker-<i>/camera.png``, ``topdown.png`` and
``status.json`` (``iteration``, ``episode``, ``step``, ``progress``, ``time`` = wall-clock
seconds since the epoch). Each file is replaced atomically, so a reader never sees half a frame.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import clear_output, display
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from markov.formats.layout import RunLayout
from markov.store import ModelStore, StoreKeyError, open_store
from markov.workers.live_frames import MAX_FRAME_SIDE_PX, publish_frames

__all__ = ["MAX_FRAME_SIDE_PX", "LiveGrid", "WorkerFrames", "publish_frames"]

WAITING_TEXT = "waiting"


@dataclass(frozen=True)
class WorkerFrames:
    """The latest published frames and status of one worker (None where nothing is there)."""

    camera: np.ndarray | None
    topdown: np.ndarray | None
    status: dict[str, Any] | None


class LiveGrid:
    """One row per worker: camera frame, top-down frame and status text."""

    def __init__(
        self, store: ModelStore | str | os.PathLike[str], prefix: str, num_workers: int
    ) -> None:
        self.store = store if isinstance(store, ModelStore) else open_store(store)
        self.prefix = prefix.strip("/")
        self.layout = RunLayout(self.prefix)
        self.num_workers = num_workers

    def frames(self, worker: int) -> WorkerFrames:
        """The latest files one worker has published."""
        camera = self._read(self.layout.live_camera(worker))
        topdown = self._read(self.layout.live_topdown(worker))
        try:
            status = self.store.get_json(self.layout.live_status(worker))
        except StoreKeyError:
            status = None
        return WorkerFrames(
            None if camera is None else _decode_png(camera),
            None if topdown is None else _decode_png(topdown),
            status,
        )

    def finished(self) -> bool:
        """Whether the training run has written its ``model/.finished`` marker."""
        return self.store.exists(self.layout.finished_flag)

    def render(self) -> Figure:
        """The grid as a Figure; a worker with nothing published yet shows "waiting"."""
        rows = self.num_workers
        figure, axes = plt.subplots(
            rows, 3, figsize=(10, 2.6 * rows), squeeze=False, width_ratios=[1.0, 1.35, 0.75]
        )
        for worker, (camera_ax, topdown_ax, status_ax) in enumerate(axes):
            frames = self.frames(worker)
            _show_frame(camera_ax, frames.camera, f"worker {worker}: camera")
            _show_frame(topdown_ax, frames.topdown, f"worker {worker}: track")
            status_ax.set_axis_off()
            status_ax.text(
                0.0,
                0.5,
                _status_text(frames.status),
                va="center",
                fontsize=10,
                family="monospace",
                transform=status_ax.transAxes,
            )
        state = "training finished" if self.finished() else "live"
        figure.suptitle(f"{self.prefix or 'store root'}: {state}", fontsize=11)
        figure.tight_layout()
        plt.close(figure)  # shown by the caller (display); keeps notebooks from showing it twice
        return figure

    def run(
        self,
        refresh_s: float = 1.0,
        duration_s: float | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """Redraw the grid in the notebook cell every ``refresh_s`` seconds.

        Stops after ``duration_s`` seconds, when ``stop()`` returns True (e.g. an Event's
        ``is_set``), when the run's ``.finished`` marker appears, or on the notebook's stop
        button. Returns how many frames were shown.
        """
        deadline = None if duration_s is None else time.monotonic() + duration_s
        shown = 0
        try:
            while True:
                finished = self.finished()
                figure = self.render()
                clear_output(wait=True)
                display(figure)
                shown += 1
                if finished or (stop is not None and stop()):
                    return shown
                pause = refresh_s
                if deadline is not None:
                    pause = min(pause, deadline - time.monotonic())
                    if pause <= 0:
                        return shown
                time.sleep(pause)
        except KeyboardInterrupt:
            return shown

    def _read(self, key: str) -> bytes | None:
        try:
            return self.store.get_bytes(key)
        except StoreKeyError:
            return None


def _decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture)


def _show_frame(ax: Axes, image: np.ndarray | None, title: str) -> None:
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    if image is None:
        ax.text(
            0.5, 0.5, WAITING_TEXT, ha="center", va="center", color="0.5", transform=ax.transAxes
        )
        return
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)


def _status_text(status: Mapping[str, Any] | None) -> str:
    if status is None:
        return WAITING_TEXT
    lines = [
        f"iteration {status.get('iteration', '?')}",
        f"episode   {status.get('episode', '?')}"
        + (" (evaluation)" if status.get("phase") == "evaluation" else ""),
        f"step      {status.get('step', '?')}",
    ]
    progress = status.get("progress")
    lines.append(
        f"progress  {progress:.1f} %" if isinstance(progress, int | float) else "progress  ?"
    )
    published = status.get("time")
    if isinstance(published, int | float):
        lines.append(f"updated   {max(0.0, time.time() - published):.0f} s ago")
    return "\n".join(lines)
