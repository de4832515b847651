"""Live viewer: frames the rollout workers publish, and the grid a notebook shows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from markov.store import ModelStore, open_store
from workshop_helpers import viewer
from workshop_helpers.viewer import LiveGrid, publish_frames

PREFIX = "experiment-1"
STATUS = {"iteration": 2, "episode": np.int64(41), "step": 17, "progress": 12.5, "time": 1.0}


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return open_store(tmp_path / "store")


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Figures that LiveGrid.run displays (instead of a notebook output area)."""
    figures: list[Figure] = []
    monkeypatch.setattr(viewer, "display", figures.append)
    monkeypatch.setattr(viewer, "clear_output", lambda wait=False: None)
    return figures


def camera_frame() -> np.ndarray:
    rows, columns = np.mgrid[0:120, 0:160]
    return ((rows + 2 * columns) % 256).astype(np.uint8)[:, :, None]


def topdown_frame() -> np.ndarray:
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    frame[:, :320] = (200, 30, 30)
    return frame


def texts_of(figure: Figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts]


def test_publish_frames_writes_the_live_files_of_one_worker(store: ModelStore) -> None:
    publish_frames(store, PREFIX, 1, camera_frame(), topdown_frame(), STATUS)

    assert store.list(PREFIX) == [
        f"{PREFIX}/live/worker-1/camera.png",
        f"{PREFIX}/live/worker-1/status.json",
        f"{PREFIX}/live/worker-1/topdown.png",
    ]
    assert store.get_json(f"{PREFIX}/live/worker-1/status.json")["episode"] == 41


def test_frames_come_back_lossless_and_the_top_down_view_shrunk(store: ModelStore) -> None:
    publish_frames(store, PREFIX, 0, camera_frame(), topdown_frame(), STATUS)
    frames = LiveGrid(store, PREFIX, 1).frames(0)

    np.testing.assert_array_equal(frames.camera, camera_frame()[:, :, 0])
    assert frames.topdown.shape == (240, 320, 3)
    assert tuple(frames.topdown[10, 10]) == (200, 30, 30)
    assert frames.status["progress"] == 12.5


def test_stereo_frames_are_published_side_by_side(store: ModelStore) -> None:
    stereo = np.concatenate([camera_frame(), 255 - camera_frame()], axis=2)
    publish_frames(store, PREFIX, 0, stereo, topdown_frame(), STATUS)
    camera = LiveGrid(store, PREFIX, 1).frames(0).camera

    assert camera.shape == (120, 320)
    np.testing.assert_array_equal(camera[:, 160:], 255 - camera_frame()[:, :, 0])


def test_grid_says_waiting_before_any_frame(store: ModelStore) -> None:
    figure = LiveGrid(store, PREFIX, 2).render()

    assert len(figure.axes) == 6
    assert not any(ax.get_images() for ax in figure.axes)
    assert texts_of(figure).count("waiting") == 6


def test_grid_shows_published_frames_and_status(store: ModelStore) -> None:
    publish_frames(store, PREFIX, 0, camera_frame(), topdown_frame(), STATUS)
    figure = LiveGrid(store, PREFIX, 2).render()
    camera_ax, topdown_ax, status_ax = figure.axes[:3]

    np.testing.assert_array_equal(camera_ax.get_images()[0].get_array(), camera_frame()[:, :, 0])
    assert topdown_ax.get_images()[0].get_array().shape == (240, 320, 3)
    (status,) = status_ax.texts
    assert "episode   41" in status.get_text() and "progress  12.5 %" in status.get_text()
    assert texts_of(figure).count("waiting") == 3  # worker 1 has not published yet


def test_run_stops_when_the_duration_is_over(store: ModelStore, shown: list[Figure]) -> None:
    assert LiveGrid(store, PREFIX, 1).run(refresh_s=0.0, duration_s=0.0) == 1
    assert len(shown) == 1


def test_run_stops_when_training_has_finished(store: ModelStore, shown: list[Figure]) -> None:
    store.put_bytes(f"{PREFIX}/model/.finished", b"")

    assert LiveGrid(store, PREFIX, 1).run(refresh_s=0.0) == 1
    assert "training finished" in shown[0].texts[0].get_text()


def test_run_stops_when_asked(store: ModelStore, shown: list[Figure]) -> None:
    answers = iter([False, False, True])

    assert LiveGrid(store, PREFIX, 1).run(refresh_s=0.0, stop=lambda: next(answers)) == 3
    assert len(shown) == 3


def test_live_grid_opens_a_store_url(tmp_path: Path) -> None:
    grid = LiveGrid(str(tmp_path / "store"), f"{PREFIX}/", 1)

    publish_frames(grid.store, PREFIX, 0, camera_frame(), topdown_frame(), STATUS)
    assert grid.frames(0).camera is not None


def test_grid_names_the_episode_of_an_evaluation_frame(store: ModelStore) -> None:
    status = {**STATUS, "phase": "evaluation"}
    publish_frames(store, PREFIX, 0, camera_frame(), topdown_frame(), status)
    (text,) = LiveGrid(store, PREFIX, 1).render().axes[2].texts
    assert "episode   41 (evaluation)" in text.get_text()


def test_a_worker_publishes_the_last_frame_of_every_episode(store: ModelStore) -> None:
    from markov.agents.restore import build_agent
    from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv
    from markov.environment.model_metadata import load_model_metadata
    from markov.presets.preset import Hyperparameters
    from markov.workers.live_frames import LiveFramePublisher
    from markov.workers.rollout import play_episode

    metadata = {
        "action_space": [{"steering_angle": 30, "speed": 1.0}],
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        "version": "5",
    }
    env = DeepRacerRacetrackEnv("Workshop_Oval", model_metadata=metadata, render_mode="rgb_array")
    agent = build_agent(load_model_metadata(metadata), Hyperparameters(), seed=0)
    # due only once: without the end-of-episode frame the first step's frame would stay shown
    live = LiveFramePublisher(store, PREFIX, 0, interval_s=1e9)
    record = play_episode(env, agent, deterministic=True, live=live, status={"episode": 3})

    grid = LiveGrid(store, PREFIX, 1)
    frames = grid.frames(0)
    assert frames.status["step"] == record.steps > 1
    assert frames.status["episode"] == 3
    assert frames.camera is not None and frames.camera.std() > 0  # a real picture, not blank
