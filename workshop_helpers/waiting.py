"""What a notebook shows while it waits for jobs: progress, time left, and why the wait ended.

Training and evaluation waits show a tqdm bar (a widget in Jupyter) counting iterations or
trials, with the elapsed time and an estimate of the time left: the sooner of what the pace so
far predicts and what the time budget still allows. A wait that reaches its ``timeout_s`` says
so and names the jobs that are still running, which keep going.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markov.presets.preset import Hyperparameters
from workshop_helpers.backends import JobState

NO_ITERATION_LIMIT = Hyperparameters().term_cond_max_episodes
"""The engine's default ``term_cond_max_episodes``: in effect no limit, so no total to show."""


def iteration_limit(hyperparameters: Mapping[str, Any]) -> int | None:
    """The run's iteration limit (``term_cond_max_episodes``), or None when it sets none."""
    value = hyperparameters.get("term_cond_max_episodes")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return None if value >= NO_ITERATION_LIMIT else value


def training_started_at(iterations: Sequence[Mapping[str, Any]], waiting_since: float) -> float:
    """When the training began (wall-clock seconds), from the trainer's first iteration record
    (its end time less its rollout and update time), or ``waiting_since`` if that is earlier or
    there is no record yet."""
    if not iterations:
        return waiting_since
    first = iterations[0]
    try:
        begun = float(first["time"]) - float(first.get("rollout_seconds", 0.0)) - float(
            first.get("update_seconds", 0.0)
        )
    except (KeyError, TypeError, ValueError):
        return waiting_since
    return min(begun, waiting_since)


def time_left_s(
    elapsed_s: float, done: int, total: int | None, budget_s: float | None
) -> float | None:
    """Seconds until the run ends at the latest: the pace so far applied to the iterations still
    to do, capped by the budget left; None when neither is known."""
    estimates = []
    if total is not None and done > 0:
        estimates.append(elapsed_s / done * max(total - done, 0))
    if budget_s is not None:
        estimates.append(max(budget_s - elapsed_s, 0.0))
    return min(estimates) if estimates else None


def clock(seconds: float) -> str:
    """Seconds as ``m:ss`` (or ``h:mm:ss`` from an hour on)."""
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def budget_note(elapsed_s: float, done: int, total: int | None, budget_s: float | None) -> str:
    """The bar's note on time: e.g. ``ends in ≤ 12:30 (budget 30:00)``."""
    left = time_left_s(elapsed_s, done, total, budget_s)
    parts = [f"ends in ≤ {clock(left)}"] if left is not None else []
    if budget_s is not None:
        parts.append(f"(budget {clock(budget_s)})")
    return " ".join(parts)


def timeout_message(what: str, timeout_s: float, running: Sequence[JobState]) -> str:
    """The line a wait prints when it reaches ``timeout_s`` while jobs still run."""
    names = ", ".join(
        f"{job.name} ({job.state}{': ' + job.detail if job.detail else ''})" for job in running
    )
    return (
        f"Stopped waiting for {what} after timeout_s={timeout_s:g} s; still running: {names}. "
        "The jobs go on: run the wait again to keep watching."
    )
