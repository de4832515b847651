"""Workshop figures: what each plot draws, checked on the returned Figure (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.patches import FancyArrow, Rectangle
from track_fixtures import circle_route

from markov.environment.model_metadata import default_model_metadata
from markov.tracks import BUILTIN_TRACKS, WORKSHOP_TRACKS, load_track, official
from workshop_helpers.plotting import (
    plot_action_space,
    plot_reward_heatmap,
    plot_rewards_per_step,
    plot_track,
    plot_training_progress,
    show_tracks,
)
from workshop_helpers.reward_testing import RewardHeatmap, ScriptedRun


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def offline_tracks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty track folders and no network: official tracks are unavailable."""
    tracks, cache = tmp_path / "tracks", tmp_path / "cache"
    tracks.mkdir()
    cache.mkdir()
    monkeypatch.setenv("DR_TRACKS_DIR", str(tracks))
    monkeypatch.setenv("DR_TRACKS_CACHE", str(cache))

    def refuse(url: str, timeout: float) -> bytes:
        raise AssertionError(f"no download expected, got {url}")

    monkeypatch.setattr(official, "_fetch", refuse)
    return tracks


def texts_of(ax: plt.Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def test_plot_track_draws_borders_center_and_start() -> None:
    figure = plot_track("Workshop_Oval")
    (ax,) = figure.axes
    track = load_track("Workshop_Oval")

    drawn = [line.get_xydata() for line in ax.lines]
    for expected in (track.inner.points, track.outer.points, track.center.points):
        assert any(np.array_equal(points, expected) for points in drawn)
    assert any(np.allclose(points, [track.center.points[0]]) for points in drawn)
    assert "Workshop_Oval" in ax.get_title()
    assert "19.8 m" in ax.get_title()


def test_plot_track_colours_a_path_by_value() -> None:
    xs, ys = np.linspace(2, 6, 5), np.zeros(5)
    values = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    figure = plot_track("Workshop_Oval", path=(xs, ys), color_by=values, color_label="reward")

    ax, colorbar_ax = figure.axes
    (dots,) = [item for item in ax.collections if isinstance(item, PathCollection)]
    np.testing.assert_allclose(dots.get_offsets(), np.column_stack([xs, ys]))
    np.testing.assert_allclose(dots.get_array(), values)
    assert colorbar_ax.get_ylabel() == "reward"


def test_plot_track_draws_into_a_given_axes() -> None:
    figure, ax = plt.subplots()
    assert plot_track("Workshop_Straight", ax=ax, path=np.array([[0, 0], [1, 0]])) is figure
    assert len(figure.axes) == 1


def test_show_tracks_uses_placeholders_for_official_tracks_not_on_this_machine(
    offline_tracks: Path,
) -> None:
    figure = show_tracks()
    tiles = [ax for ax in figure.axes if ax.get_visible()]

    assert len(tiles) == len(BUILTIN_TRACKS) + len(WORKSHOP_TRACKS)
    builtin_tiles, official_tiles = tiles[: len(BUILTIN_TRACKS)], tiles[len(BUILTIN_TRACKS) :]
    for ax, name in zip(builtin_tiles, BUILTIN_TRACKS, strict=True):
        assert ax.get_title().startswith(name) and "m wide" in ax.get_title()
        assert ax.lines
    for ax, name in zip(official_tiles, WORKSHOP_TRACKS, strict=True):
        assert ax.get_title().startswith(name)
        assert texts_of(ax) == ["download on first use"]
        assert not ax.lines


def test_show_tracks_draws_official_tracks_found_locally(offline_tracks: Path) -> None:
    np.save(offline_tracks / "Oval_track.npy", circle_route(radius=3.0, width=0.8))
    figure = show_tracks(["Oval_track", "Spain_track"], columns=3)
    drawn, placeholder, spare = figure.axes

    assert "Oval_track" in drawn.get_title() and "0.80 m wide" in drawn.get_title()
    assert drawn.lines
    assert texts_of(placeholder) == ["download on first use"]
    assert not spare.get_visible()


def test_plot_action_space_draws_one_labelled_arrow_per_discrete_action() -> None:
    metadata = default_model_metadata()
    (ax,) = plot_action_space(metadata).axes
    arrows = [patch for patch in ax.patches if isinstance(patch, FancyArrow)]

    assert len(arrows) == metadata.action_space.size
    assert {str(index) for index in range(metadata.action_space.size)} <= set(texts_of(ax))


def test_plot_action_space_shades_the_continuous_box() -> None:
    metadata = {
        "action_space_type": "continuous",
        "action_space": {
            "steering_angle": {"low": -20.0, "high": 30.0},
            "speed": {"low": 0.5, "high": 3.0},
        },
    }
    (ax,) = plot_action_space(metadata).axes
    (box,) = [patch for patch in ax.patches if isinstance(patch, Rectangle)]

    assert box.get_xy() == (-20.0, 0.5)
    assert (box.get_width(), box.get_height()) == (50.0, 2.5)
    assert not [patch for patch in ax.patches if isinstance(patch, FancyArrow)]


def scripted_run(name: str, rewards: list[float], final_status: str) -> ScriptedRun:
    statuses = ["in_progress"] * (len(rewards) - 1) + [final_status]
    params = [{"steps": float(step + 2)} for step in range(len(rewards))]
    return ScriptedRun(name, rewards, statuses, params)


def test_plot_rewards_per_step_draws_one_line_per_car_and_its_final_status() -> None:
    runs = [
        scripted_run("center", [1.0, 1.0, 0.5, 1.0], "lap_complete"),
        scripted_run("offtrack", [1.0, 0.1], "off_track"),
    ]
    (ax,) = plot_rewards_per_step(runs).axes
    reward_lines = [line for line in ax.lines if not line.get_label().startswith("_")]

    assert len(reward_lines) == 2
    np.testing.assert_allclose(reward_lines[0].get_ydata(), [1.0, 1.0, 0.5, 1.0])
    np.testing.assert_allclose(reward_lines[1].get_xdata(), [2.0, 3.0])
    assert texts_of(ax) == ["lap_complete", "off_track"]


def test_plot_reward_heatmap_masks_cells_off_the_road() -> None:
    track = load_track("Workshop_Oval")
    rewards = np.array([[np.nan, 0.2], [0.8, np.nan]])
    heatmap = RewardHeatmap(
        track, np.array([0.0, 1.0]), np.array([0.0, 1.0]), rewards, 1.0, "track", 1.0, 0.0
    )
    ax, colorbar_ax = plot_reward_heatmap(heatmap).axes
    (image,) = ax.get_images()

    np.testing.assert_array_equal(image.get_array().mask, np.isnan(rewards))
    assert image.get_extent() == [-0.5, 1.5, -0.5, 1.5]
    assert len(ax.lines) >= 3  # the track is drawn on top
    assert colorbar_ax.get_ylabel() == "reward"


def metrics_row(episode: int, trial: int, reward: int, progress: int, phase: str) -> dict:
    return {
        "reward_score": reward,
        "episode": episode,
        "trial": trial,
        "phase": phase,
        "completion_percentage": progress,
        "episode_status": "Off track",
    }


def test_plot_training_progress_averages_per_iteration() -> None:
    rows = [
        metrics_row(1, 1, 10, 10, "training"),
        metrics_row(2, 2, 20, 20, "training"),
        metrics_row(3, 3, 30, 30, "training"),
        metrics_row(3, 3, 50, 40, "evaluation"),
        metrics_row(4, 1, 40, 50, "training"),
        metrics_row(5, 2, 60, 70, "training"),
        metrics_row(6, 3, 80, 90, "training"),
        metrics_row(6, 3, 90, 100, "evaluation"),
    ]
    reward_ax, progress_ax = plot_training_progress({"metrics": rows}).axes
    rewards = {line.get_label(): line for line in reward_ax.lines}
    progress = {line.get_label(): line for line in progress_ax.lines}

    per_episode = rewards["training: reward per episode"]
    np.testing.assert_allclose(per_episode.get_ydata(), [10, 20, 30, 40, 60, 80])
    mean_training = rewards["training: mean reward per iteration"]
    np.testing.assert_allclose(mean_training.get_xdata(), [0, 1])  # 0-based, as checkpoints
    assert per_episode.get_xdata().min() == 0 and per_episode.get_xdata().max() < 2
    np.testing.assert_allclose(mean_training.get_ydata(), [20, 60])
    assert mean_training.get_linewidth() > per_episode.get_linewidth()
    np.testing.assert_allclose(
        rewards["evaluation: mean reward per iteration"].get_ydata(), [50, 90]
    )
    np.testing.assert_allclose(
        progress["training: mean progress per iteration"].get_ydata(), [20, 70]
    )
    assert mean_training.get_color() != rewards["evaluation: mean reward per iteration"].get_color()


def test_plot_training_progress_without_episodes_says_so() -> None:
    reward_ax, _ = plot_training_progress([]).axes
    assert texts_of(reward_ax) == ["no episodes yet"]


def test_plot_training_progress_keeps_the_first_points_clear_and_counts_whole_iterations() -> None:
    rows = [metrics_row(1, 1, 10, 10, "training"), metrics_row(2, 2, 20, 20, "training")]
    figure = plot_training_progress(rows)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in figure.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        assert not legend.overlaps(ax.get_window_extent(renderer)), "legend covers the plot"
    progress_ax = figure.axes[1]
    low, high = progress_ax.get_xlim()
    shown = [tick for tick in progress_ax.get_xticks() if low <= tick <= high]
    assert shown and all(float(tick).is_integer() for tick in shown)
