"""Reward-function testing helpers: scripted cars, the reward heatmap and the params table."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv
from markov.rewards.default import reward_function as follow_center_line
from markov.tracks import load_track
from workshop_helpers.reward_testing import (
    drive_scripted_cars,
    params_table,
    reward_heatmap,
    summary_table,
)

TRACK = "Workshop_Oval"


def real_params() -> dict:
    env = DeepRacerRacetrackEnv(TRACK)
    env.reset(seed=0)
    env.step(env.actions.default_action)
    return env.step(env.actions.default_action)[4]["params"]


def test_center_line_car_earns_more_than_the_off_track_car() -> None:
    runs = drive_scripted_cars(follow_center_line, TRACK, max_steps=400)
    by_name = {run.name: run for run in runs}

    assert [run.name for run in runs] == ["center", "zigzag", "offtrack"]
    assert by_name["center"].final_status in ("lap_complete", "in_progress")
    assert by_name["offtrack"].final_status == "off_track"
    assert by_name["center"].total_reward > by_name["offtrack"].total_reward
    assert by_name["center"].total_reward == pytest.approx(sum(by_name["center"].rewards))


def test_runs_keep_per_step_params_without_the_prepare_step() -> None:
    (run,) = drive_scripted_cars(follow_center_line, TRACK, drivers=("center",), max_steps=30)

    assert len(run.rewards) == len(run.statuses) == len(run.params) == 29
    assert "prepare" not in run.statuses
    assert {"x", "y", "progress", "all_wheels_on_track"} <= set(run.params[0])
    assert np.all(np.diff(run.progress) > 0)
    assert run.xs.shape == run.ys.shape == (29,)
    assert "in_progress" in run._repr_html_()


def test_summary_table_has_one_row_per_car() -> None:
    runs = drive_scripted_cars(follow_center_line, TRACK, drivers=("center", "offtrack"))
    table = summary_table(runs)

    assert list(table.index) == ["center", "offtrack"]
    assert table.loc["offtrack", "final_status"] == "off_track"
    assert table.loc["center", "total_reward"] > table.loc["offtrack", "total_reward"]


def test_unknown_scripted_car_names_the_choices() -> None:
    with pytest.raises(ValueError, match="center, zigzag, offtrack"):
        drive_scripted_cars(follow_center_line, TRACK, drivers=("rocket",))


def test_heatmap_is_highest_on_the_center_line_and_nan_off_the_road() -> None:
    heatmap = reward_heatmap(follow_center_line, TRACK)
    track = load_track(TRACK)
    grid_x, grid_y = np.meshgrid(heatmap.xs, heatmap.ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    rewards = heatmap.rewards.ravel()

    on_road = track.points_on_road(points)
    assert np.isnan(rewards[~on_road]).all()
    assert np.isfinite(rewards[on_road]).all()

    center = shapely.LineString(track.center.points)
    distance = shapely.distance(center, shapely.points(points[on_road]))
    near, far = rewards[on_road][distance < 0.04], rewards[on_road][distance > 0.4]
    assert near.min() == pytest.approx(1.0)
    assert far.max() < near.min()


def test_heatmap_heading_follows_the_center_line() -> None:
    heatmap = reward_heatmap(
        lambda params: params["heading"], TRACK, resolution=0.1, speed=2.0, steering=5.0
    )
    track = load_track(TRACK)
    start_x, start_y = track.center.points[0]
    row = np.argmin(np.abs(heatmap.ys - start_y))
    column = np.argmin(np.abs(heatmap.xs - (start_x + 1.0)))

    # The oval starts on its bottom straight, driven towards +x: heading 0 degrees.
    assert heatmap.rewards[row, column] == pytest.approx(0.0, abs=1e-6)
    assert heatmap.speed == 2.0 and heatmap.steering == 5.0


def test_heatmap_builds_the_same_params_as_the_env() -> None:
    seen: list[dict] = []

    def record(params: dict) -> float:
        seen.append(params)
        return float(params["speed"] + params["steering_angle"])

    heatmap = reward_heatmap(record, TRACK, resolution=0.25, heading=90.0, speed=1.5, steering=-10)

    assert seen and set(seen[0]) == set(real_params())
    assert {params["heading"] for params in seen} == {90.0}
    assert np.nanmax(heatmap.rewards) == pytest.approx(-8.5)


def test_params_table_covers_every_key_of_real_params() -> None:
    table = params_table(TRACK)
    keys = [row["key"] for row in table]

    assert set(keys) == set(real_params())
    assert len(keys) == len(set(keys))
    for row in table:
        assert row["meaning"].endswith("."), row["key"]
        assert row["example"], row["key"]
    examples = {row["key"]: row["example"] for row in table}
    assert "items" in examples["waypoints"]
    assert examples["all_wheels_on_track"] == "True"
