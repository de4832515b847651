"""MP4 videos of a car's run: top-down view, camera picture-in-picture and a text overlay.

Frames follow the simapp's videos (docs/file-formats.md §12.1): H.264 (libx264, yuv420p), 15 fps,
640 x 480 by default. Each frame is the top-down view scaled to the frame, the car's own
160 x 120 grey camera picture drawn 2x in the bottom-right corner, and "label: value" text lines
in the top-left corner (lap, progress, speed, ...). The file appears atomically: frames are
encoded into a temporary file that is moved to the target path (or put in the model store) by
``close()``.

    recorder = VideoRecorder("run.mp4")
    recorder.add_frame(env.render(), obs["FRONT_FACING_CAMERA"], {"Lap": "1/3"})
    recorder.close()
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Generator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from markov.store import ModelStore
from markov.store.base import TEMP_NAME_PREFIX, validate_key

VIDEO_FPS = 15
VIDEO_SIZE = (640, 480)
PIP_SCALE = 2
ENCODER_OPTIONS = ("-preset", "ultrafast", "-crf", "23", "-movflags", "+faststart")
"""libx264 settings: fast enough to keep up with the simulator, small files, playable on the
web while downloading (the index is moved to the front of the file)."""

_FONT_SIZE = 16
_LINE_HEIGHT = 20
_TEXT_MARGIN = 6
_TEXT_BOX_WIDTH = 230
_PIP_BORDER = 2
_GLYPH_PAD = 2
_MIN_SIZE = (160 * PIP_SCALE + 2 * _PIP_BORDER, 120 * PIP_SCALE + 2 * _PIP_BORDER)
_QUEUED_FRAMES = 8


class VideoError(ValueError):
    """A frame or a video setting cannot be used."""


@cache
def _overlay_font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font, loaded once per process."""
    return ImageFont.load_default(size=_FONT_SIZE)


@cache
def _glyph(char: str) -> tuple[np.ndarray, int]:
    """One character drawn once: its alpha mask (line height x width) and its advance.

    The built-in font has no kerning, so a line drawn glyph by glyph matches Pillow's own.
    """
    font = _overlay_font()
    advance = round(font.getlength(char))
    image = Image.new("L", (advance + 2 * _GLYPH_PAD, _LINE_HEIGHT))
    ImageDraw.Draw(image).text((_GLYPH_PAD, 0), char, fill=255, font=font)
    return np.asarray(image), advance


def _format_overlay_value(value: Any) -> str:
    """Text of one overlay value: floats with two decimals, anything else with str()."""
    if isinstance(value, float | np.floating):
        return f"{value:.2f}"
    return str(value)


class _EncoderThread:
    """Writes frames into the ffmpeg pipe on its own thread.

    A frame (900 KB at 640 x 480) is far larger than a pipe's buffer, so writing it blocks until
    ffmpeg has read it; on this thread the caller meanwhile simulates and composes the next
    frame. At most `_QUEUED_FRAMES` frames wait. A failed write is raised to the caller on its
    next frame or at `finish()`.
    """

    def __init__(self, encoder: Generator[Any, Any, None]) -> None:
        self._encoder = encoder
        self._frames: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=_QUEUED_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="video-encoder", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        while (frame := self._frames.get()) is not None:
            if self._error is None:  # after a failure, keep draining so callers never block
                try:
                    self._encoder.send(frame)
                except BaseException as error:
                    self._error = error

    def send(self, frame: np.ndarray) -> None:
        self._raise_failure()
        self._frames.put(frame.copy())

    def finish(self) -> None:
        """Write every queued frame and close the encoder (ffmpeg finishes the file)."""
        self._frames.put(None)
        self._thread.join()
        self._raise_failure()
        self._encoder.close()

    def abandon(self) -> None:
        """Stop without caring whether the file is complete."""
        self._frames.put(None)
        self._thread.join()
        with contextlib.suppress(Exception):
            self._encoder.close()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error


class VideoRecorder:
    """Composes frames and encodes them into one MP4 file.

    Args:
        target: a file path, or a store key when ``store`` is given.
        fps: frames per second of the video.
        size: (width, height) of the frames; both must be even (yuv420p).
        store: the model store to put the finished video in, under the key ``target``.
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        fps: int = VIDEO_FPS,
        size: tuple[int, int] = VIDEO_SIZE,
        *,
        store: ModelStore | None = None,
    ) -> None:
        width, height = (int(size[0]), int(size[1]))
        min_width, min_height = _MIN_SIZE
        if width < min_width or height < min_height or width % 2 or height % 2:
            raise VideoError(
                f"video size is {width}x{height}; use even dimensions of at least "
                f"{min_width}x{min_height} so the camera picture fits (the default is 640x480)"
            )
        if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
            raise VideoError(f"fps is {fps!r}; use a whole number of frames per second >= 1")
        self.store = store
        self.target: str | Path = validate_key(str(target)) if store is not None else Path(target)
        self.fps = fps
        self.size = (width, height)
        self.frame_count = 0
        self._frame = np.zeros((height, width, 3), np.uint8)
        self._scale_index: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._temp_path: Path | None = None
        self._encoder: _EncoderThread | None = None

    # ------------------------------------------------------------------ frames
    def add_frame(
        self,
        topdown_rgb: np.ndarray,
        camera_grey: np.ndarray | None = None,
        overlay: Mapping[str, Any] | None = None,
    ) -> None:
        """Compose and encode one frame.

        Args:
            topdown_rgb: (H, W, 3) uint8 view of the track (``env.render()``), scaled to fit.
            camera_grey: the car's camera, (120, 160), (120, 160, 1) or stereo (120, 160, 2)
                uint8 (the left image is shown); None for cars without a camera.
            overlay: label -> value pairs drawn as "label: value" lines, in order.
        """
        frame = self._frame
        frame[:] = self._scaled(topdown_rgb)
        if camera_grey is not None:
            self._draw_picture_in_picture(frame, camera_grey)
        if overlay:
            self._draw_text(frame, overlay)
        if self._encoder is None:
            self._start_encoder()
        self._encoder.send(frame)
        self.frame_count += 1

    def _scaled(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise VideoError(
                f"top-down frame has shape {image.shape} and dtype {image.dtype}; pass an "
                "(H, W, 3) uint8 RGB image such as env.render() with render_mode='rgb_array'"
            )
        width, height = self.size
        if image.shape[:2] == (height, width):
            return image
        if self._scale_index is None or self._scale_index[0] != image.shape[:2]:
            rows = np.arange(height) * image.shape[0] // height
            cols = np.arange(width) * image.shape[1] // width
            self._scale_index = (image.shape[:2], rows[:, None], cols[None, :])
        _, rows, cols = self._scale_index
        return image[rows, cols]

    def _draw_picture_in_picture(self, frame: np.ndarray, camera: np.ndarray) -> None:
        camera = np.asarray(camera)
        if camera.ndim == 3:
            camera = camera[:, :, 0]
        if camera.dtype != np.uint8 or camera.shape != (120, 160):
            raise VideoError(
                f"camera image has shape {camera.shape} and dtype {camera.dtype}; pass the "
                "camera observation, a (120, 160[, channels]) uint8 grey image"
            )
        height, width = frame.shape[0], frame.shape[1]
        pip_height, pip_width = PIP_SCALE * camera.shape[0], PIP_SCALE * camera.shape[1]
        bottom, right = height - _PIP_BORDER, width - _PIP_BORDER
        top, left = bottom - pip_height, right - pip_width
        frame[top - _PIP_BORDER :, left - _PIP_BORDER :] = 255
        # Scale up by writing each camera pixel into a PIP_SCALE x PIP_SCALE block of a view.
        blocks = frame.reshape(height // PIP_SCALE, PIP_SCALE, width // PIP_SCALE, PIP_SCALE, 3)
        blocks[
            top // PIP_SCALE : bottom // PIP_SCALE, :, left // PIP_SCALE : right // PIP_SCALE
        ] = camera[:, None, :, None, None]

    def _draw_text(self, frame: np.ndarray, overlay: Mapping[str, Any]) -> None:
        lines = [f"{label}: {_format_overlay_value(value)}" for label, value in overlay.items()]
        height = min(2 * _TEXT_MARGIN + _LINE_HEIGHT * len(lines), frame.shape[0])
        width = min(_TEXT_BOX_WIDTH, frame.shape[1])
        alpha = np.zeros((height, width), np.uint8)
        for index, line in enumerate(lines):
            top = _TEXT_MARGIN + index * _LINE_HEIGHT
            if top + _LINE_HEIGHT > height:
                break
            x = _TEXT_MARGIN
            for char in line:
                mask, advance = _glyph(char)
                left = x - _GLYPH_PAD
                visible = min(mask.shape[1], width - left)
                if visible <= 0:
                    break
                target = alpha[top : top + _LINE_HEIGHT, left : left + visible]
                np.maximum(target, mask[:, :visible], out=target)
                x += advance
        box = frame[:height, :width]
        box //= 3  # darken the background so white text stays readable on any track colour
        lift = (255 - box).astype(np.uint16) * alpha[:, :, None] // 255
        box += lift.astype(np.uint8)

    # ------------------------------------------------------------------ encoding
    def _start_encoder(self) -> None:
        if isinstance(self.target, Path):
            self.target.parent.mkdir(parents=True, exist_ok=True)
            folder = self.target.parent
        else:
            folder = None
        handle, name = tempfile.mkstemp(prefix=TEMP_NAME_PREFIX, suffix=".mp4", dir=folder)
        os.close(handle)
        self._temp_path = Path(name)
        encoder = imageio_ffmpeg.write_frames(
            name,
            self.size,
            fps=self.fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=list(ENCODER_OPTIONS),
        )
        encoder.send(None)
        self._encoder = _EncoderThread(encoder)

    def close(self) -> Path | str:
        """Finish the video and move it into place; returns the path (or the store key)."""
        if self._encoder is None:
            raise VideoError(f"no frames were added to the video {self.target}; nothing to write")
        encoder, self._encoder = self._encoder, None
        temp_path, self._temp_path = self._temp_path, None
        try:
            encoder.finish()
            if isinstance(self.target, Path):
                os.replace(temp_path, self.target)
            else:
                self.store.put_bytes(self.target, temp_path.read_bytes())
        finally:
            temp_path.unlink(missing_ok=True)
        return self.target

    def discard(self) -> None:
        """Stop encoding and delete the unfinished video; the target is left untouched."""
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            encoder.abandon()
        if self._temp_path is not None:
            self._temp_path.unlink(missing_ok=True)
            self._temp_path = None

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def inline_html(video: str | os.PathLike[str] | bytes, width: int = 640) -> str:
    """An HTML5 ``<video>`` tag with the MP4 embedded as base64, for a notebook cell.

    Show it with ``IPython.display.HTML(inline_html("run.mp4"))``.
    """
    data = video if isinstance(video, bytes) else Path(video).read_bytes()
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<video width="{int(width)}" controls autoplay loop muted playsinline>'
        f'<source src="data:video/mp4;base64,{encoded}" type="video/mp4"></video>'
    )
