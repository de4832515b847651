"""Helpers of the log-analysis notebook (workshop_helpers.analysis: summaries, readings, plots)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.environment.reward_function import reward_function_from_source
from markov.environment.scripted import ZigZagDriver
from markov.formats.run_inputs import write_run_inputs
from markov.formats.simtrace import SimtraceWriter, training_simtrace_prefix
from markov.presets.preset import Hyperparameters
from markov.store import open_store
from markov.tracks import load_track
from workshop_helpers import analysis
from workshop_helpers.analysis.tracks import section_starts
from workshop_helpers.experiment import new_experiment
from workshop_helpers.reward import load_reward_example

TRACK = "Workshop_Oval"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    return new_experiment("lesson", world_name=TRACK)


def steps_frame(episodes):
    """Steps of hand-made episodes: (iteration, worker, statuses, rewards, progress, waypoints)."""
    rows = []
    for number, (iteration, worker, statuses, rewards, progress, waypoints) in enumerate(episodes):
        for step, status in enumerate(statuses):
            rows.append(
                {
                    "unique_episode": number,
                    "episode": number,
                    "iteration": iteration,
                    "worker": worker,
                    "steps": float(step + 1),
                    "x": float(step),
                    "y": float(number),
                    "steering_angle": 0.0,
                    "speed": 1.0,
                    "action": 2,
                    "reward": rewards[step],
                    "progress": progress[step],
                    "closest_waypoint": waypoints[step],
                    "tstamp": step / 15,
                    "episode_status": status,
                }
            )
    return pd.DataFrame(rows)


def summary(rows):
    """An iteration_summary-like frame from (mean_reward, mean_progress, completion_rate)."""
    return pd.DataFrame(
        [
            {
                "iteration": i,
                "episodes": 4,
                "mean_reward": reward,
                "mean_progress": progress,
                "completion_rate": rate,
                "best_lap_time_s": np.nan,
            }
            for i, (reward, progress, rate) in enumerate(rows)
        ]
    )


# ----------------------------------------------------------------------------- the run
def test_run_settings_come_from_the_store(experiment):
    store = experiment.open_store()
    source = load_reward_example("prevent_zig_zag")
    write_run_inputs(
        store,
        experiment.prefix,
        world_name="Workshop_Oval",
        num_workers=2,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(lr=0.0001),
        reward_source=source,
        params={"REVERSE_DIR": "true"},
    )

    settings = analysis.run_settings(experiment)

    assert settings.world_name == "Workshop_Oval"
    assert settings.reverse_dir is True
    assert settings.alternate_direction is False
    assert settings.reward_source == source
    assert settings.hyperparameters["lr"] == 0.0001


def test_run_settings_fall_back_to_the_experiment(experiment):
    settings = analysis.run_settings(experiment)

    assert settings.world_name == TRACK
    assert settings.reverse_dir is False
    assert settings.reward_source is None
    assert settings.hyperparameters == Hyperparameters().to_json_dict()


def test_run_counts():
    training = steps_frame(
        [
            (0, 0, ["prepare", "in_progress", "off_track"], [0, 1, 1], [1, 2, 3], [0, 1, 2]),
            (0, 1, ["prepare", "off_track"], [0, 1], [1, 2], [0, 1]),
            (1, 0, ["prepare", "lap_complete"], [0, 1], [1, 100], [0, 1]),
        ]
    )
    evaluation = training.drop(columns=["unique_episode"]).assign(stream="e")
    run = analysis.RunLogs(training, pd.DataFrame(), evaluation, pd.DataFrame(), None, None)

    assert analysis.run_counts(run) == {
        "workers": 2,
        "iterations": 2,
        "episodes": 3,
        "steps": 7,
        "evaluation_trials": 3,
    }


# ----------------------------------------------------------------------------- learning
def test_evaluation_progress_averages_the_evaluation_phase_per_iteration():
    metrics = pd.DataFrame(
        {
            "phase": ["training", "evaluation", "training", "evaluation", "evaluation"],
            "iteration": [0, 0, 1, 1, 1],
            "completion_percentage": [50, 20, 60, 30, 50],
        }
    )

    progress = analysis.evaluation_progress(metrics)

    assert progress.to_dict("list") == {"iteration": [0, 1], "evaluation_progress": [20.0, 40.0]}
    assert analysis.evaluation_progress(pd.DataFrame()).empty


def test_learning_table_adds_evaluation_progress_or_nan():
    iterations = summary([(1, 10, 0), (2, 20, 0)])
    metrics = pd.DataFrame(
        {"phase": ["evaluation"], "iteration": [1], "completion_percentage": [35.0]}
    )

    table = analysis.learning_table(iterations, metrics)

    assert math.isnan(table["evaluation_progress"][0])
    assert table["evaluation_progress"][1] == 35.0
    assert analysis.learning_table(iterations, pd.DataFrame())["evaluation_progress"].isna().all()


def test_progress_plot_has_one_axes_with_or_without_evaluation():
    iterations = summary([(1, 10, 0), (2, 20, 0)])
    for metrics in (
        pd.DataFrame(),
        pd.DataFrame({"phase": ["evaluation"], "iteration": [0], "completion_percentage": [5]}),
    ):
        ax = analysis.plot_progress_per_iteration(analysis.learning_table(iterations, metrics))
        assert len(ax.figure.axes) == 1


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([(1, 10, 0)] * 2, "too few to read a trend"),
        ([(10, 10, 0), (12, 12, 0), (20, 20, 0), (30, 30, 0)], "still learning"),
        ([(10, 10, 0), (12, 10, 0), (20, 10, 0), (30, 10, 0)], "without getting further"),
        ([(30, 30, 0), (25, 30, 0), (20, 30, 0), (10, 30, 0)], "unstable"),
        ([(10, 10, 0), (10.5, 10, 0), (10, 10, 0), (10.2, 10, 0)], "flat"),
        ([(10, 90, 0.5), (20, 95, 0.8), (30, 100, 0.9), (40, 100, 1.0)], "work on speed"),
    ],
)
def test_training_trend_reads_the_curve(rows, expected):
    assert expected in analysis.training_trend(summary(rows))


# ----------------------------------------------------------------------------- episodes
def episodes_frame(progress, reward, complete=None, time_s=None):
    count = len(progress)
    return pd.DataFrame(
        {
            "unique_episode": range(count),
            "iteration": [i // 2 for i in range(count)],
            "steps": [10 + i for i in range(count)],
            "total_reward": reward,
            "progress": progress,
            "complete": complete or [p >= 100 for p in progress],
            "time_s": time_s or [1.0] * count,
        }
    )


def test_reward_progress_correlation():
    rising = episodes_frame([10, 20, 30, 40], [1, 2, 3, 4])
    falling = episodes_frame([10, 20, 30, 40], [4, 3, 2, 1])

    assert analysis.reward_progress_correlation(rising) == pytest.approx(1.0)
    assert "as they should" in analysis.describe_reward_progress(rising)
    assert "something other than" in analysis.describe_reward_progress(falling)
    assert math.isnan(analysis.reward_progress_correlation(rising.head(2)))
    assert "Too few" in analysis.describe_reward_progress(rising.head(2))


def test_reward_vs_progress_plot_has_a_colour_bar_also_without_laps():
    ax = analysis.plot_reward_vs_progress(episodes_frame([10, 20], [1, 2]))
    assert len(ax.figure.axes) == 2


def test_pick_episodes_prefers_laps_then_progress_then_time():
    episodes = episodes_frame(
        [100, 100, 50, 5, 5], [1, 1, 1, 1, 1], time_s=[20.0, 18.0, 3.0, 1.0, 0.5]
    )

    best, worst = analysis.pick_episodes(episodes, count=2)

    assert best == [1, 0]
    assert worst == [3, 4]


def test_pick_episodes_never_returns_an_episode_twice():
    best, worst = analysis.pick_episodes(episodes_frame([30], [1]))
    assert (best, worst) == ([0], [])


# ----------------------------------------------------------------------------- sections
def test_sections_match_the_action_breakdown_numbering():
    track = load_track(TRACK)
    count = len(track.waypoints)
    steps = pd.DataFrame({"closest_waypoint": range(count)})

    sections = analysis.track_sections(steps, track, sections=4)

    expected = (steps["closest_waypoint"] * 4 // count).clip(upper=3)
    assert sections.tolist() == expected.tolist()
    for number, start in enumerate(section_starts(track, 4)):
        assert sections[start] == number
        if start:
            assert sections[start - 1] == number - 1


def test_off_track_ends_are_the_last_steps_of_off_track_episodes():
    df = steps_frame(
        [
            (0, 0, ["prepare", "in_progress", "off_track"], [0, 1, 1], [1, 2, 3], [0, 1, 2]),
            (0, 0, ["prepare", "lap_complete"], [0, 1], [1, 100], [0, 1]),
            (1, 0, ["prepare", "off_track"], [0, 1], [1, 2], [0, 40]),
        ]
    )

    ends = analysis.off_track_ends(df)

    assert ends["unique_episode"].tolist() == [0, 2]
    assert ends["steps"].tolist() == [3.0, 2.0]


def test_off_track_plot_always_has_two_axes():
    with_exits = steps_frame([(0, 0, ["prepare", "off_track"], [0, 1], [1, 2], [0, 40])])
    without = steps_frame([(0, 0, ["prepare", "lap_complete"], [0, 1], [1, 100], [0, 1])])

    for df in (with_exits, without):
        axes = analysis.plot_off_track(df, TRACK)
        assert len(axes[0].figure.axes) == 2
    heights = [bar.get_height() for bar in axes[1].patches]
    assert heights == [0, 0, 0, 0]


# ----------------------------------------------------------------------------- actions
def test_action_usage_lists_every_discrete_action_also_unused_ones():
    df = steps_frame(
        [(0, 0, ["prepare", "in_progress", "in_progress", "off_track"], [0] * 4, [1] * 4, [0] * 4)]
    )
    df["action"] = [0, 2, 2, 3]
    metadata = default_model_metadata().to_json_dict()

    usage = analysis.action_usage(df, metadata)

    assert usage["action"].tolist() == [0, 1, 2, 3, 4]
    assert usage["steps"].tolist() == [0, 0, 2, 1, 0]  # the prepare step does not count
    assert usage["percent"].tolist() == [0.0, 0.0, 66.7, 33.3, 0.0]
    assert analysis.rarely_used(usage)["action"].tolist() == [0, 1, 4]


def test_action_usage_without_a_discrete_space_uses_the_binned_labels():
    df = steps_frame([(0, 0, ["in_progress"] * 3, [0] * 3, [1] * 3, [0] * 3)])
    df["action"] = -1
    df["steering_angle"] = [11.0, 9.5, -20.0]

    usage = analysis.action_usage(df, {"action_space": {"steering_angle": {}}})

    assert usage["steps"].sum() == 3
    assert usage["percent"].sum() == pytest.approx(100.0, abs=0.2)


# ----------------------------------------------------------------------------- what if
def replayed_frame(rewards, new_rewards, episodes):
    df = steps_frame(
        [(0, 0, ["in_progress"] * len(r), r, [1] * len(r), [0] * len(r)) for r in rewards]
    )
    df["new_reward"] = [value for episode in new_rewards for value in episode]
    df["steering_angle"] = [value for episode in episodes for value in episode]
    df["action"] = -1
    return df


def test_replay_agreement_and_episode_ranks():
    same = replayed_frame([[1, 2], [3, 4], [0, 1]], [[1, 2], [3, 4], [0, 1]], [[0, 0]] * 3)
    flipped = replayed_frame([[1, 2], [3, 4], [0, 1]], [[3, 4], [1, 2], [5, 5]], [[0, 0]] * 3)

    assert analysis.replay_agrees(same)
    assert not analysis.replay_agrees(flipped)
    totals = analysis.episode_totals(flipped)
    assert totals["recorded_rank"].tolist() == [2, 1, 3]
    assert totals["new_rank"].tolist() == [2, 3, 1]
    assert analysis.ranking_agreement(same) == pytest.approx(1.0)
    assert "prefer the same episodes" in analysis.describe_what_if(same)
    assert "quite different" in analysis.describe_what_if(flipped)
    assert "Too few" in analysis.describe_what_if(same[same["unique_episode"] < 2])


def test_reward_by_action_compares_relative_pay():
    # The new function pays half for hard steering and doubles every reward: only the relative
    # pay of the hard-steering steps drops.
    df = replayed_frame([[1, 1, 1, 1]], [[2, 2, 1, 1]], [[0, 0, 30, 30]])

    table = analysis.reward_by_action(df).set_index("action")

    straight, hard = (
        table.index[table.index.str.contains(r"\+0°")],
        table.index[table.index.str.contains(r"\+30°")],
    )
    assert table.loc[straight[0], "recorded"] == pytest.approx(1.0)
    assert table.loc[straight[0], "new"] == pytest.approx(4 / 3)
    assert table.loc[hard[0], "change"] == pytest.approx(2 / 3 - 1)


def test_replaying_the_recorded_reward_function_agrees_on_engine_data(tmp_path):
    source = load_reward_example("follow_center_line")
    reward = reward_function_from_source(source)
    store = open_store(tmp_path)
    env = DeepRacerRacetrackEnv(TRACK, reward_function=reward, sensors=[], wall_clock=lambda: 0.0)
    env.reset(seed=0)
    writer = SimtraceWriter(store, training_simtrace_prefix("exp", 0, 1))
    for episode in range(3):
        if episode:
            env.reset()
        driver = ZigZagDriver(speed=1.5, amplitude_deg=20.0 + 10 * episode)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(driver.act(env))
            writer.add_row(info["simtrace"])
            done = terminated or truncated
    writer.flush(0)
    training = analysis.load_run(store, "exp").training

    own = analysis.replay_reward(training, reward, TRACK)
    other = analysis.replay_reward(
        training, reward_function_from_source(load_reward_example("prevent_zig_zag")), TRACK
    )

    assert analysis.replay_agrees(own)
    assert not analysis.replay_agrees(other)
    assert len(analysis.episode_totals(other)) == 3
    assert set(analysis.reward_by_action(other).columns) == {
        "action",
        "steps",
        "recorded",
        "new",
        "change",
    }
