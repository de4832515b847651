"""Evaluation and training videos: H.264 MP4 at 15 fps, 640 x 480, camera inset, atomic writes."""

from __future__ import annotations

import base64
import re

import imageio_ffmpeg
import numpy as np
import pytest

from markov.formats.video import VideoError, VideoRecorder, inline_html
from markov.store import open_store

RED = (200, 30, 30)


def topdown(width: int = 640, height: int = 480) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = RED
    return image


def camera(level: int = 180) -> np.ndarray:
    return np.full((120, 160, 1), level, np.uint8)


def first_frame(path) -> tuple[dict, np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frame = np.frombuffer(next(reader), np.uint8).reshape(meta["size"][1], meta["size"][0], 3)
    reader.close()
    return meta, frame


def test_mp4_has_every_frame_at_15_fps_and_640x480(tmp_path):
    path = tmp_path / "run.mp4"
    recorder = VideoRecorder(path)
    for step in range(30):
        recorder.add_frame(topdown(), camera(), {"Lap": "1/3", "Progress": float(step)})
    assert recorder.close() == path

    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    meta, _ = first_frame(path)
    assert frames == 30
    assert seconds == pytest.approx(2.0, abs=0.1)
    assert meta["fps"] == 15
    assert meta["size"] == (640, 480)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")


def test_frame_shows_scaled_track_view_and_camera_inset_in_the_corner(tmp_path):
    path = tmp_path / "small_view.mp4"
    with VideoRecorder(path) as recorder:
        recorder.add_frame(topdown(320, 240), camera(level=180))

    _, frame = first_frame(path)
    centre = frame[120, 160].astype(int)
    inset = frame[480 - 120, 640 - 160].astype(int)
    assert np.abs(centre - RED).max() < 12  # the half-size track view fills the frame
    assert np.abs(inset - 180).max() < 12  # the grey camera picture sits bottom right


def test_video_lands_in_the_store_only_when_finished(tmp_path):
    store = open_store(tmp_path)
    recorder = VideoRecorder("exp/mp4/evaluation-20260101120000.mp4", store=store)
    recorder.add_frame(topdown(), camera(), {"Resets": 0})
    assert store.list("exp") == []

    assert recorder.close() == "exp/mp4/evaluation-20260101120000.mp4"
    assert store.list("exp") == ["exp/mp4/evaluation-20260101120000.mp4"]
    local = store.local_path("exp/mp4/evaluation-20260101120000.mp4")
    assert imageio_ffmpeg.count_frames_and_secs(str(local))[0] == 1


def test_a_failed_recording_leaves_no_file_behind(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), VideoRecorder(path) as recorder:
        recorder.add_frame(topdown(), camera())
        raise RuntimeError("simulation failed")
    assert list(tmp_path.iterdir()) == []


def test_bad_frames_and_settings_are_named_in_the_error(tmp_path):
    recorder = VideoRecorder(tmp_path / "x.mp4")
    with pytest.raises(VideoError, match=r"top-down frame has shape \(480, 640\)"):
        recorder.add_frame(np.zeros((480, 640), np.uint8))
    with pytest.raises(VideoError, match=r"camera image has shape \(60, 80\)"):
        recorder.add_frame(topdown(), np.zeros((60, 80), np.uint8))
    with pytest.raises(VideoError, match="no frames"):
        VideoRecorder(tmp_path / "empty.mp4").close()
    with pytest.raises(VideoError, match="641x480"):
        VideoRecorder(tmp_path / "odd.mp4", size=(641, 480))
    recorder.discard()
    assert list(tmp_path.iterdir()) == []


def test_inline_html_embeds_the_mp4_as_base64(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoRecorder(path) as recorder:
        recorder.add_frame(topdown(), camera())

    html = inline_html(path)
    match = re.search(r'<video[^>]*>\s*<source src="data:video/mp4;base64,([^"]+)"', html)
    assert match is not None
    assert base64.b64decode(match.group(1)) == path.read_bytes()


def test_an_encoder_failure_on_the_writer_thread_reaches_the_caller(tmp_path, monkeypatch):
    def broken_encoder(*args, **kwargs):
        yield
        raise BrokenPipeError("ffmpeg exited")

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", broken_encoder)
    recorder = VideoRecorder(tmp_path / "broken.mp4")
    frame = np.zeros((480, 640, 3), np.uint8)
    with pytest.raises(BrokenPipeError, match="ffmpeg exited"):
        for _ in range(20):
            recorder.add_frame(frame)
        recorder.close()
    recorder.discard()
    assert not (tmp_path / "broken.mp4").exists()
