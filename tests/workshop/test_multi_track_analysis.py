"""Log analysis of a real multi-config run whose two workers drive two different tracks.

Worker 0 trains on Workshop_Oval (the run's main YAML), worker 1 on Workshop_Kidney (its own
``training_params_1.yaml``), as notebook 04 sets it up; notebook 06 must show and replay every
episode on the track its worker drove.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from markov.environment.model_metadata import default_model_metadata
from markov.environment.reward_function import reward_function_from_source
from markov.environment.reward_params import measure_pose
from markov.formats.run_inputs import write_run_inputs
from markov.presets.preset import Hyperparameters
from markov.runners.local import LocalTrainingRun
from markov.store import open_store
from markov.tracks import Track
from workshop_helpers import analysis
from workshop_helpers.experiment import Experiment

MAIN_TRACK = "Workshop_Oval"
OTHER_TRACK = "Workshop_Kidney"
PREFIX = "two-tracks"
# pays for geometry that differs from track to track, so a replay on the wrong track shows
GEOMETRY_REWARD = '''
def reward_function(params):
    half = params["track_width"] / 2
    centre = 1.0 - min(params["distance_from_center"] / half, 1.0)
    side = 0.3 if params["is_left_of_center"] else 0.1
    waypoint = params["closest_waypoints"][1] / len(params["waypoints"])
    return float(1e-3 + centre + side + waypoint)
'''
EDGE_TOLERANCE_M = 0.1
"""How far beyond the border the front point of a car with a wheel on the road can be."""


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def two_track_run(tmp_path_factory) -> tuple[analysis.RunLogs, analysis.RunSettings]:
    store_dir = tmp_path_factory.mktemp("store")
    write_run_inputs(
        open_store(store_dir),
        PREFIX,
        world_name=MAIN_TRACK,
        num_workers=2,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(
            num_episodes_between_training=4,
            num_epochs=1,
            batch_size=32,
            term_cond_max_episodes=1,
        ),
        reward_source=GEOMETRY_REWARD,
        params={"MIN_EVAL_TRIALS": "1"},
        worker_params={1: {"WORLD_NAME": OTHER_TRACK}},
    )
    run = LocalTrainingRun(store_dir, PREFIX, 2, printer=lambda line: None)
    assert run.run().exit_code == 0
    experiment = Experiment(
        id=PREFIX, backend="local", store_url=str(store_dir), prefix=PREFIX, world_name=MAIN_TRACK
    )
    return analysis.load_run(Path(store_dir), PREFIX), analysis.run_settings(experiment)


def off_road_m(track: Track, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far each point lies beyond the track's border (0 on the road)."""
    beyond = []
    for px, py in zip(x, y, strict=True):
        pose = measure_pose(track, float(px), float(py))
        beyond.append(max(0.0, pose.distance_from_center - pose.track_width / 2))
    return np.array(beyond)


def test_run_settings_give_each_worker_its_own_track(two_track_run):
    _, settings = two_track_run

    assert settings.world_name == MAIN_TRACK
    assert {w: own.world_name for w, own in settings.workers.items()} == {
        0: MAIN_TRACK,
        1: OTHER_TRACK,
    }
    assert settings.multi_track
    assert settings.describe_tracks() == f"{MAIN_TRACK} (worker 0), {OTHER_TRACK} (worker 1)"
    assert {w: track.name for w, track in settings.tracks.items()} == {
        0: MAIN_TRACK,
        1: OTHER_TRACK,
    }


def test_every_path_lies_on_its_own_workers_track(two_track_run):
    run, settings = two_track_run
    steps = analysis.run_steps(run.training)
    on_road = steps[steps["on_track"].astype(bool)]
    assert set(on_road["worker"]) == {0, 1}

    for worker, track in settings.tracks.items():
        own = on_road[on_road["worker"] == worker]
        beyond = off_road_m(track, own["x"].to_numpy(), own["y"].to_numpy())
        assert beyond.max() <= EDGE_TOLERANCE_M, f"worker {worker} left {track.name}"


def test_replaying_the_runs_own_reward_reproduces_both_workers_rewards(two_track_run):
    run, settings = two_track_run
    own = reward_function_from_source(settings.reward_source)

    replayed = analysis.replay_reward(run.training, own, settings.tracks)

    difference = (replayed["new_reward"] - replayed["reward"]).abs()
    for worker in (0, 1):
        assert difference[replayed["worker"] == worker].max() <= 1e-6
    assert analysis.replay_agrees(replayed)
    # the old single-track replay was wrong for worker 1 (the bug this pins)
    main_only = analysis.replay_reward(run.training, own, settings.world_name)
    wrong = (main_only["new_reward"] - main_only["reward"]).abs()
    assert wrong[main_only["worker"] == 1].max() > 1e-3


def test_track_pictures_get_one_panel_per_track(two_track_run):
    run, settings = two_track_run
    titles = [f"{MAIN_TRACK} (worker 0)", f"{OTHER_TRACK} (worker 1)"]
    training = run.training

    paths = analysis.plot_episode_paths(training, settings.tracks, episodes=[0, 1, 2, 3])
    assert [ax.get_title() for ax in paths] == titles
    heatmaps = analysis.plot_track_heatmap(training, settings.tracks)
    assert [ax.get_title() for ax in heatmaps] == titles
    sections = analysis.plot_action_breakdown(training, by="section", track=settings.tracks)
    assert [ax.get_title() for ax in sections] == titles
    off_track = analysis.plot_off_track(training, settings.tracks)
    assert len(off_track) == 4
    assert [ax.get_title().split(":")[0] for ax in off_track[::2]] == titles


def test_each_panel_draws_its_workers_rows_only(two_track_run):
    run, settings = two_track_run
    training = run.training
    last_of = training.groupby("worker")["unique_episode"].max()

    paths = analysis.plot_episode_paths(training, settings.tracks, episodes=last_of.tolist())

    for ax, worker in zip(paths, (0, 1), strict=True):
        _, inner, _ = settings.tracks[worker].lines()
        np.testing.assert_allclose(ax.get_lines()[0].get_xydata(), inner)  # its own borders
        drawn = [line.get_label() for line in ax.get_lines()]
        assert f"unique_episode {last_of[worker]}" in drawn
        assert f"unique_episode {last_of[1 - worker]}" not in drawn


def test_a_track_per_worker_is_needed_for_every_worker(two_track_run):
    run, settings = two_track_run
    with pytest.raises(ValueError, match=r"worker\(s\) \[1\]"):
        analysis.plot_track_heatmap(run.training, {0: settings.tracks[0]})
    with pytest.raises(ValueError, match="leave ax out"):
        _, ax = plt.subplots()
        analysis.plot_track_heatmap(run.training, settings.tracks, ax=ax)


def test_sections_are_numbered_on_each_workers_track(two_track_run):
    run, settings = two_track_run
    steps = run.training

    sections = analysis.track_sections(steps, settings.tracks, sections=4)

    for worker, track in settings.tracks.items():
        rows = steps["worker"] == worker
        expected = analysis.track_sections(steps[rows], track, 4)
        assert sections[rows].tolist() == expected.tolist()
