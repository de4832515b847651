"""Waits that inform: bars over iterations and trials, time left, and timeouts that say so."""

from __future__ import annotations

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from markov.formats.metrics import evaluation_metrics_key
from markov.presets.preset import Hyperparameters
from workshop_helpers import evaluations, training
from workshop_helpers.backends import JobState
from workshop_helpers.experiment import new_experiment
from workshop_helpers.waiting import (
    budget_note,
    clock,
    iteration_limit,
    time_left_s,
    timeout_message,
    training_started_at,
)

RUNNING = JobState("training", "running", "iteration 1")


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    yield
    plt.close("all")


@pytest.fixture
def experiment():
    made = new_experiment("waits")
    hyperparameters = Hyperparameters(term_cond_max_episodes=3).to_json_dict()
    made.open_store().put_json(f"{made.prefix}/hyperparameters.json", hyperparameters)
    return made


# ----------------------------------------------------------------------------- the logic
def test_the_iteration_limit_is_the_runs_own_not_the_engines_no_limit_default():
    assert iteration_limit(Hyperparameters(term_cond_max_episodes=40).to_json_dict()) == 40
    assert iteration_limit(Hyperparameters().to_json_dict()) is None
    assert iteration_limit({}) is None


def test_time_left_is_the_sooner_of_the_pace_and_the_budget():
    assert time_left_s(60.0, 2, 10, 1800.0) == pytest.approx(240.0)  # 30 s an iteration, 8 to go
    assert time_left_s(600.0, 2, 100, 1800.0) == pytest.approx(1200.0)  # the budget ends first
    assert time_left_s(60.0, 0, 10, 1800.0) == pytest.approx(1740.0)  # no pace yet: the budget
    assert time_left_s(60.0, 2, None, None) is None
    assert time_left_s(2000.0, 2, None, 1800.0) == 0.0


def test_the_budget_note_reads_like_a_clock():
    assert clock(59.2) == "1:00" and clock(3725) == "1:02:05"
    assert budget_note(60.0, 2, 10, 1800.0) == "ends in ≤ 4:00 (budget 30:00)"
    assert budget_note(60.0, 2, None, None) == ""


def test_training_start_comes_from_the_first_iteration_record():
    first = {"time": 1000.0, "rollout_seconds": 30.0, "update_seconds": 5.0}
    assert training_started_at([first], waiting_since=2000.0) == pytest.approx(965.0)
    assert training_started_at([], waiting_since=2000.0) == 2000.0
    assert training_started_at([first], waiting_since=900.0) == 900.0


def test_the_timeout_message_names_what_still_runs():
    message = timeout_message("the training", 30, [RUNNING])
    assert "after timeout_s=30 s" in message
    assert "still running: training (running: iteration 1)" in message


# ----------------------------------------------------------------------------- training
class FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, figure):
        self.log.append(("update", figure))


def fake_training(monkeypatch, states, iterations):
    """training_state returns ``states`` one by one; ``iterations[i]`` records at poll i."""
    polls = {"count": 0}
    shown: list[tuple[str, object]] = []

    def state(_experiment):
        polls["count"] += 1
        return states[min(polls["count"] - 1, len(states) - 1)]

    def records(_experiment):
        return iterations[min(polls["count"] - 1, len(iterations) - 1)]

    def show(figure, display_id=False):
        assert display_id is True, "the graph needs its own display so the bar stays visible"
        shown.append(("display", figure))
        return FakeHandle(shown)

    monkeypatch.setattr(training, "training_state", state)
    monkeypatch.setattr(training, "trainer_iterations", records)
    monkeypatch.setattr(training, "training_metrics", lambda _e: [{"episode": 1}])
    monkeypatch.setattr(training, "plot_training_progress", lambda rows: object())
    monkeypatch.setattr(training, "display", show)
    return shown


def iteration_record(number):
    return {"iteration": number, "time": 1e9, "rollout_seconds": 1.0, "update_seconds": 0.5}


def test_watch_training_counts_iterations_of_the_limit_and_keeps_one_graph(
    experiment, monkeypatch, capsys
):
    done = JobState("training", "completed", "3 iterations in 9 s")
    records = [[], [iteration_record(0)], [iteration_record(i) for i in range(3)]]
    shown = fake_training(monkeypatch, [RUNNING, RUNNING, done], records)
    bars = []
    real_tqdm = training.tqdm

    def recording_tqdm(*args, **kwargs):
        bars.append(real_tqdm(*args, **kwargs))
        return bars[-1]

    monkeypatch.setattr(training, "tqdm", recording_tqdm)

    final = training.watch_training(experiment, refresh_s=0)

    assert final == done
    assert bars[0].total == 3 and bars[0].n == 3
    assert "3 iterations in 9 s" in bars[0].postfix
    assert [kind for kind, _ in shown] == ["display", "update"]  # redrawn in place, bar kept
    assert "Stopped waiting" not in capsys.readouterr().out


def test_watch_training_says_when_its_timeout_ends_the_wait(experiment, monkeypatch, capsys):
    fake_training(monkeypatch, [RUNNING], [[iteration_record(0)]])

    final = training.watch_training(experiment, refresh_s=0, timeout_s=0, live_graph=False)

    assert final == RUNNING
    out = capsys.readouterr().out
    assert "Stopped waiting for the training after timeout_s=0 s" in out
    assert "still running: training (running: iteration 1)" in out


# ----------------------------------------------------------------------------- evaluations
class FakeBackend:
    def __init__(self, polls):
        self.polls = polls
        self.calls = 0

    def evaluation_jobs(self, _experiment):
        self.calls += 1
        return self.polls[min(self.calls - 1, len(self.polls) - 1)]


def record_evaluations(experiment, trials):
    requests = {eid: {"world_name": "Workshop_Oval", "trials": n} for eid, n in trials.items()}
    (experiment.folder / evaluations.REQUESTS_FILE).write_text(json.dumps(requests))


def write_trials(experiment, evaluation_id, count):
    key = evaluation_metrics_key(experiment.prefix, evaluation_id)
    experiment.open_store().put_json(key, {"metrics": [{"trial": i + 1} for i in range(count)]})


def test_evaluation_trials_are_counted_against_those_requested(experiment):
    record_evaluations(experiment, {"20260101120000": 3, "20260101120001": 2})
    jobs = [JobState("evaluation-20260101120000", "running"),
            JobState("evaluation-20260101120001", "running")]
    write_trials(experiment, "20260101120000", 2)

    assert evaluations.requested_trials(experiment, jobs) == 5
    assert evaluations.driven_trials(experiment, jobs) == 2


def test_wait_for_evaluations_ends_with_the_jobs(experiment, monkeypatch, capsys):
    record_evaluations(experiment, {"20260101120000": 2})
    running = [JobState("evaluation-20260101120000", "running", "Workshop_Oval: 1/2 trials")]
    finished = [JobState("evaluation-20260101120000", "completed", "Workshop_Oval: 2/2 trials")]
    write_trials(experiment, "20260101120000", 2)
    monkeypatch.setattr(evaluations, "get_backend", lambda _e: FakeBackend([running, finished]))

    assert evaluations.wait_for_evaluations(experiment, refresh_s=0) == finished
    assert "Stopped waiting" not in capsys.readouterr().out


def test_wait_for_evaluations_says_when_its_timeout_ends_the_wait(experiment, monkeypatch, capsys):
    record_evaluations(experiment, {"20260101120000": 2, "20260101120001": 1})
    jobs = [JobState("evaluation-20260101120000", "running", "Workshop_Oval: 1/2 trials"),
            JobState("evaluation-20260101120001", "completed", "Workshop_Kidney: 1/1 trials")]
    monkeypatch.setattr(evaluations, "get_backend", lambda _e: FakeBackend([jobs]))

    assert evaluations.wait_for_evaluations(experiment, timeout_s=0, refresh_s=0) == jobs
    out = capsys.readouterr().out
    assert "Stopped waiting for the evaluations after timeout_s=0 s" in out
    assert "evaluation-20260101120000 (running: Workshop_Oval: 1/2 trials)" in out
    assert "evaluation-20260101120001" not in out
