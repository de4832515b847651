"""Log analysis (workshop_helpers.analysis): loading layouts, summaries, plots, reward replay."""

from __future__ import annotations

import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from markov.environment import DeepRacerRacetrackEnv
from markov.environment.scripted import OffTrackDriver, ZigZagDriver
from markov.formats.metrics import (
    EvaluationMetricsWriter,
    TrainingMetricsWriter,
    evaluation_metrics_key,
    training_metrics_key,
)
from markov.formats.simtrace import (
    SIMTRACE_HEADER,
    SimtraceFormatError,
    SimtraceWriter,
    evaluation_simtrace_prefix,
    format_simtrace_row,
    training_simtrace_prefix,
)
from markov.races.settings import EvaluationSettings
from markov.races.trials import evaluate, scripted_policy
from markov.rewards.default import reward_function as default_reward
from markov.store import open_store
from workshop_helpers import analysis

TRACK = "Workshop_Oval"
EVALUATION_ID = "20260102030405"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def write_training(store, prefix, workers, iterations=2, episodes=2):
    """Training simtraces and metrics of scripted weaving cars, as rollout workers write them."""
    for worker in range(workers):
        env = DeepRacerRacetrackEnv(TRACK, sensors=[], wall_clock=lambda: 0.0)
        env.reset(seed=worker)
        simtrace = SimtraceWriter(store, training_simtrace_prefix(prefix, worker, workers))
        metrics = TrainingMetricsWriter(store, training_metrics_key(prefix, worker))
        for iteration in range(iterations):
            for trial in range(episodes):
                episode = iteration * episodes + trial
                if episode:
                    env.reset()
                driver = ZigZagDriver(speed=1.5, amplitude_deg=25.0 + 10 * trial + 5 * worker)
                start, total, done = env.sim_time, 0.0, False
                while not done:
                    _, reward, terminated, truncated, info = env.step(driver.act(env))
                    simtrace.add_row(info["simtrace"])
                    total += reward
                    done = terminated or truncated
                metrics.add_episode(
                    total,
                    start,
                    env.sim_time,
                    episode + 1,
                    trial + 1,
                    "training",
                    info["params"]["progress"],
                    info["episode_status"],
                )
            simtrace.flush(iteration)


def write_evaluation(store, prefix):
    """An evaluation with resets and pauses, written the way the evaluation worker writes it."""
    simtrace = SimtraceWriter(store, evaluation_simtrace_prefix(prefix, EVALUATION_ID))
    metrics = EvaluationMetricsWriter(store, evaluation_metrics_key(prefix, EVALUATION_ID))

    def record(trial, rows):
        for row in rows:
            simtrace.add_row(row)
        simtrace.flush(0)
        metrics.add_episode(
            trial.start_time_s,
            trial.end_time_s,
            trial.completion_percentage,
            trial.episode_status,
            **trial.reset_counts(),
        )

    return evaluate(
        scripted_policy(OffTrackDriver(speed=1.0)),
        TRACK,
        None,
        EvaluationSettings(number_of_trials=2, number_of_resets=1, off_track_penalty=1.0),
        on_trial=record,
    )


@pytest.fixture
def single_worker_folder(tmp_path):
    store = open_store(tmp_path / "model")
    write_training(store, "", workers=1)
    write_evaluation(store, "")
    return tmp_path / "model"


def hand_made_rows():
    """Three episodes over two iterations with known totals, progress and times."""
    rows = []

    def episode(number, iteration, rewards, progress, final_status, start):
        for step, reward in enumerate(rewards):
            last = step == len(rewards) - 1
            status = "prepare" if step == 0 else (final_status if last else "in_progress")
            rows.append(
                {
                    "episode": number,
                    "steps": float(step + 1),
                    "reward": reward,
                    "progress": progress[step],
                    "episode_status": status,
                    "tstamp": start + step / 15,
                    "iteration": iteration,
                    "worker": 0,
                    "unique_episode": number,
                }
            )

    episode(0, 0, [0.0, 1.0, 1.0, 2.0], [1.0, 1.0, 40.0, 100.0], "lap_complete", 0.0)
    episode(1, 0, [0.0, 0.5, 0.5], [1.0, 1.0, 30.0], "off_track", 10.0)
    episode(2, 1, [0.0, 3.0, 3.0, 3.0, 3.0], [1.0, 1.0, 50.0, 90.0, 100.0], "lap_complete", 20.0)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- loading
def test_loads_a_drfc_single_worker_folder_written_by_the_engine(single_worker_folder):
    run = analysis.load_drfc_folder(single_worker_folder)

    training = run.training
    assert {"x", "y", "steering_angle", "speed", "on_track"} <= set(training.columns)
    assert sorted(training["iteration"].unique()) == [0, 1]
    assert set(training["worker"]) == {0}
    assert sorted(training["unique_episode"].unique()) == [0, 1, 2, 3]
    assert len(run.training_metrics) == 4
    assert sorted(run.training_metrics["iteration"]) == [0, 0, 1, 1]

    assert set(run.evaluation["stream"]) == {EVALUATION_ID}
    assert set(run.evaluation["episode"]) == {0, 1}
    metrics = run.evaluation_metrics  # the file has no "version" key, as the simapp writes it
    assert list(metrics["trial"]) == [1, 2]
    assert list(metrics["off_track_count"]) == [2, 2]
    assert list(metrics["lap_time_s"]) == list(metrics["elapsed_time_in_milliseconds"] / 1000)


def test_loads_a_multi_worker_run_from_a_store_prefix(tmp_path):
    store = open_store(tmp_path)
    write_training(store, "runs/exp", workers=2)

    run = analysis.load_run(store, "runs/exp")

    training = run.training
    assert set(training["worker"]) == {0, 1}
    assert training["unique_episode"].nunique() == 2 * 2 * 2
    order = training.groupby("unique_episode")[["iteration", "worker", "episode"]].first()
    assert order.equals(order.sort_values(["iteration", "worker", "episode"]))
    assert set(run.training_metrics["worker"]) == {0, 1}
    assert run.evaluation.empty


def test_reads_the_workshop_metrics_names_at_the_top_of_the_prefix(tmp_path):
    store = open_store(tmp_path)
    write_training(store, "exp", workers=1, iterations=1)
    store.put_json("exp/training_metrics.json", store.get_json("exp/metrics/TrainingMetrics.json"))
    store.delete("exp/metrics/TrainingMetrics.json")
    entry = {"completion_percentage": 100, "elapsed_time_in_milliseconds": 15579, "trial": 1}
    store.put_json("exp/evaluation_metrics.json", {"metrics": [entry]})

    run = analysis.load_run(store, "exp")

    assert len(run.training_metrics) == 2
    assert run.evaluation_metrics["lap_time_s"].tolist() == [15.579]
    assert run.evaluation_metrics["stream"].tolist() == ["evaluation_metrics"]


def test_deepracer_utils_reads_the_same_folder_the_same_way(single_worker_folder):
    deepracer_logs = pytest.importorskip("deepracer.logs")
    log = deepracer_logs.DeepRacerLog(str(single_worker_folder))
    log.load()
    theirs = log.dataframe()
    ours = analysis.load_drfc_folder(single_worker_folder).training

    assert len(theirs) == len(ours)
    assert theirs["unique_episode"].tolist() == ours["unique_episode"].tolist()
    np.testing.assert_array_equal(theirs["x"], ours["x"])
    log.load_evaluation_trace(force=True)
    assert set(log.dataframe()["stream"]) == {EVALUATION_ID}


def test_loads_an_old_console_download(single_worker_folder, tmp_path):
    console = tmp_path / "console"
    traces = console / "sim-trace/training/training-simtrace"
    traces.mkdir(parents=True)
    for csv in (single_worker_folder / "training-simtrace").iterdir():
        shutil.copy(csv, traces / csv.name)
    evaluation = console / "sim-trace/evaluation/20260102030405-abc/evaluation-simtrace"
    evaluation.mkdir(parents=True)
    shutil.copy(
        single_worker_folder / f"evaluation-{EVALUATION_ID}/evaluation-simtrace/0-iteration.csv",
        evaluation / "0-iteration.csv",
    )

    run = analysis.load_console_download(console)

    assert run.training["unique_episode"].nunique() == 4
    assert set(run.evaluation["stream"]) == {"20260102030405-abc"}


def test_a_cut_off_last_line_is_skipped_with_a_warning(tmp_path):
    row = {
        "episode": 0,
        "steps": 1.0,
        "X": 1.0,
        "Y": 2.0,
        "yaw": 0.0,
        "steer": 0.0,
        "throttle": 1.0,
        "action": 0,
        "reward": 0.0,
        "done": False,
        "all_wheels_on_track": True,
        "progress": 1.0,
        "closest_waypoint": 1,
        "track_len": 20.0,
        "tstamp": 0.0,
        "episode_status": "prepare",
        "pause_duration": 0.0,
        "obstacle_crash_counter": 0,
        "wall_clock": 0.0,
    }
    line = format_simtrace_row(row)
    folder = tmp_path / "training-simtrace"
    folder.mkdir()
    (folder / "0-iteration.csv").write_text(
        f"{SIMTRACE_HEADER}\n{line}\n{line}\n{line[: len(line) // 2]}"
    )

    with pytest.warns(UserWarning, match="0-iteration.csv: the last line"):
        run = analysis.load_drfc_folder(tmp_path)
    assert len(run.training) == 2


def test_a_broken_line_inside_a_file_is_an_error_naming_the_file(tmp_path):
    folder = tmp_path / "training-simtrace"
    folder.mkdir()
    fields = ",".join(["0"] * 19)
    (folder / "3-iteration.csv").write_text(f"{SIMTRACE_HEADER}\n1,2\n{fields}\n")

    with pytest.raises(SimtraceFormatError, match=r"training-simtrace/3-iteration\.csv"):
        analysis.load_drfc_folder(tmp_path)


def test_accepts_the_older_17_column_simtrace(tmp_path):
    folder = tmp_path / "training-simtrace"
    folder.mkdir()
    header = ",".join(SIMTRACE_HEADER.split(",")[:17])
    cells = "0,1.0,1.0,2.0,0.0,0.0,1.0,0,0.0,False,True,1.0,1,20.0,0.0,prepare,0.0"
    (folder / "0-iteration.csv").write_text(f"{header}\n{cells}\n")

    run = analysis.load_drfc_folder(tmp_path)

    assert run.training["wall_clock"].dtype == float
    assert run.training["wall_clock"].isna().all()
    assert run.training["pause_duration"].tolist() == [0.0]


# ----------------------------------------------------------------------------- summaries
def test_episode_summary_gives_known_totals_and_lap_times():
    summary = analysis.episode_summary(hand_made_rows())

    assert summary["steps"].tolist() == [4, 3, 5]
    assert summary["total_reward"].tolist() == [4.0, 1.0, 12.0]
    assert summary["progress"].tolist() == [100.0, 30.0, 100.0]
    assert summary["status"].tolist() == ["lap_complete", "off_track", "lap_complete"]
    assert summary["time_s"].tolist() == pytest.approx([4 / 15, 3 / 15, 5 / 15])
    assert summary["lap_time_s"].tolist()[0] == pytest.approx(4 / 15)
    assert np.isnan(summary["lap_time_s"].tolist()[1])


def test_iteration_summary_gives_known_means_and_completion_rates():
    summary = analysis.iteration_summary(hand_made_rows())

    assert summary["iteration"].tolist() == [0, 1]
    assert summary["episodes"].tolist() == [2, 1]
    assert summary["mean_reward"].tolist() == [2.5, 12.0]
    assert summary["mean_progress"].tolist() == [65.0, 100.0]
    assert summary["completion_rate"].tolist() == [0.5, 1.0]
    assert summary["best_lap_time_s"].tolist() == pytest.approx([4 / 15, 5 / 15])


# ----------------------------------------------------------------------------- plots
def test_plots_draw_the_runs_data(single_worker_folder):
    run = analysis.load_drfc_folder(single_worker_folder)
    training = run.training

    (paths,) = analysis.plot_episode_paths(training, TRACK, episodes=[0, 3])
    assert [line.get_label() for line in paths.get_lines()][-2:] == [
        "unique_episode 0",
        "unique_episode 3",
    ]

    (heatmap,) = analysis.plot_track_heatmap(training, TRACK, value="reward")
    cells = heatmap.get_images()[0].get_array()
    visited = ~np.ma.getmaskarray(cells) & np.isfinite(cells.filled(np.nan))
    assert 0 < visited.sum() < cells.size  # only the cells the car drove over have a value

    (breakdown,) = analysis.plot_action_breakdown(training, by="section", sections=4, track=TRACK)
    heights = np.zeros(4)
    for bar in breakdown.patches:
        heights[round(bar.get_x() + bar.get_width() / 2)] += bar.get_height()
    np.testing.assert_allclose(heights, 1.0)  # each section's action shares add up to 1

    rewards = analysis.plot_rewards_per_iteration(training)
    assert rewards.get_lines()[0].get_xdata().tolist() == [0, 1]
    analysis.plot_lap_times(training)


def test_action_breakdown_by_section_needs_the_track(single_worker_folder):
    training = analysis.load_drfc_folder(single_worker_folder).training
    with pytest.raises(ValueError, match="track="):
        analysis.plot_action_breakdown(training, by="section")


# ----------------------------------------------------------------------------- what if
def test_replay_with_the_runs_reward_function_reproduces_the_recorded_rewards(tmp_path):
    store = open_store(tmp_path)
    write_training(store, "", workers=1, iterations=1)
    write_evaluation(store, "")
    run = analysis.load_run(store)

    for frame in (run.training, run.evaluation):
        replayed = analysis.replay_reward(frame, default_reward, TRACK)
        assert replayed["new_reward"].tolist() == frame["reward"].tolist()
    assert (run.evaluation["episode_status"] == "pause").any()


def test_replay_with_a_new_reward_function_and_its_comparison_plot(single_worker_folder):
    training = analysis.load_drfc_folder(single_worker_folder).training

    def speed_reward(params):
        return params["speed"] if params["all_wheels_on_track"] else 1e-3

    replayed = analysis.replay_reward(training, speed_reward, TRACK)

    run_steps = ~training["episode_status"].isin(["prepare", "pause"])
    on_track = run_steps & training["on_track"]
    assert (replayed.loc[on_track, "new_reward"] == training.loc[on_track, "speed"]).all()
    assert (replayed.loc[~run_steps, "new_reward"] == 0.0).all()
    ax = analysis.plot_reward_comparison(replayed)
    assert len(ax.get_lines()[0].get_xdata()) == training["unique_episode"].nunique()
