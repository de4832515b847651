"""Start, watch and stop a training run from a notebook, on whichever backend it uses."""

from __future__ import annotations

import time
from typing import Any

from IPython.display import display
from tqdm.auto import tqdm

from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.run_inputs import read_hyperparameters
from workshop_helpers.backends import JobState, get_backend
from workshop_helpers.budget import Budget, workshop_budget
from workshop_helpers.experiment import Experiment
from workshop_helpers.job_environment import training_request
from workshop_helpers.plotting import plot_training_progress
from workshop_helpers.viewer import LiveGrid
from workshop_helpers.waiting import (
    budget_note,
    iteration_limit,
    timeout_message,
    training_started_at,
)


def start_training(
    experiment: Experiment, workers: int = 1, budget: Budget | None = None, **extra_env: str
) -> list[JobState]:
    """Start the trainer and ``workers`` rollout workers; refused while a training runs."""
    request = training_request(workers, budget, **extra_env)
    return get_backend(experiment).start_training(experiment, request)


def training_state(experiment: Experiment) -> JobState | None:
    """The training job's current state (None before it was started)."""
    jobs = get_backend(experiment).training_jobs(experiment)
    return jobs[0] if jobs else None


def stop_training(experiment: Experiment) -> JobState | None:
    """Stop every training process of the experiment."""
    jobs = get_backend(experiment).stop_training(experiment)
    return jobs[0] if jobs else None


def training_metrics(experiment: Experiment, worker: int = 0) -> list[dict[str, Any]]:
    """Rows of a worker's training metrics JSON (empty before the first episode)."""
    store = experiment.open_store()
    key = RunLayout(experiment.prefix).training_metrics(worker)
    return list(read_training_metrics(store, key).metrics) if store.exists(key) else []


def trainer_iterations(experiment: Experiment) -> list[dict[str, Any]]:
    """The trainer's per-iteration records (episodes, transitions, mean reward, losses)."""
    store = experiment.open_store()
    key = RunLayout(experiment.prefix).trainer_log
    return store.get_json(key) if store.exists(key) else []


def watch_training(
    experiment: Experiment,
    refresh_s: float = 5.0,
    timeout_s: float | None = None,
    live_graph: bool = True,
) -> JobState | None:
    """Show a progress bar (iterations done of the run's limit, elapsed time, time left against
    the budget) and redraw the reward graph below it until training ends; returns the final
    state. Reaching ``timeout_s`` first prints which jobs still run (they go on).

    The graph is redrawn in its own display, so the bar stays visible. With
    ``live_graph=False`` only the bar is shown.
    """
    started = time.monotonic()
    waiting_since = time.time()
    hyperparameters = read_hyperparameters(experiment.open_store(), experiment.prefix)
    total = iteration_limit(hyperparameters.to_json_dict())
    budget_s = workshop_budget().max_training_time_s
    bar = tqdm(total=total, desc="iterations", unit="it")
    graph = None
    state = training_state(experiment)
    while state is not None and not state.done:
        iterations = trainer_iterations(experiment)
        _show_iterations(bar, iterations, total, budget_s, waiting_since, state.detail)
        rows = training_metrics(experiment)
        if live_graph and rows:
            figure = plot_training_progress(rows)
            if graph is None:
                graph = display(figure, display_id=True)
            else:
                graph.update(figure)
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            bar.close()
            print(timeout_message("the training", timeout_s, [state]))
            return state
        time.sleep(refresh_s)
        state = training_state(experiment)
    iterations = trainer_iterations(experiment)
    _show_iterations(bar, iterations, total, budget_s, waiting_since, state.detail if state else "")
    bar.close()
    return state


def _show_iterations(
    bar: tqdm,
    iterations: list[dict[str, Any]],
    total: int | None,
    budget_s: float | None,
    waiting_since: float,
    detail: str,
) -> None:
    elapsed = time.time() - training_started_at(iterations, waiting_since)
    bar.n = len(iterations)
    note = budget_note(elapsed, len(iterations), total, budget_s)
    bar.set_postfix_str(" · ".join(part for part in (detail, note) if part), refresh=False)
    bar.refresh()


def latest_frames(experiment: Experiment, workers: int = 1):
    """A figure with each rollout worker's latest camera and top-down frames."""
    return LiveGrid(experiment.open_store(), experiment.prefix, workers).render()


def watch_workers(
    experiment: Experiment, workers: int, refresh_s: float = 1.0, duration_s: float | None = None
) -> int:
    """Every worker's live stream in a grid until training ends; returns frames shown."""
    grid = LiveGrid(experiment.open_store(), experiment.prefix, workers)
    return grid.run(refresh_s=refresh_s, duration_s=duration_s)
