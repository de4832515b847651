"""Plain-language readings of a run's summaries for the log-analysis lesson: the learning curve
and how reward follows progress, each with what to change next."""

from __future__ import annotations

import math

import pandas as pd

TREND_MIN_ITERATIONS = 4
"""Fewer iterations than this are too few to call a learning curve rising or flat."""
TREND_THRESHOLD = 0.10
"""A relative change smaller than 10 % between the first and last third counts as flat."""
RELIABLE_COMPLETION = 0.8
"""A completion rate from which the lesson says: the car gets round, now make it faster."""


def training_trend(iterations: pd.DataFrame) -> str:
    """A plain reading of the learning curve (``iteration_summary``) and what to change."""
    count = len(iterations)
    if count < TREND_MIN_ITERATIONS:
        return (
            f"Only {count} iteration(s) recorded: too few to read a trend. Train for longer "
            "(the full workshop budget) before you change the reward function or the settings."
        )
    third = max(1, count // 3)
    early, late = iterations.iloc[:third], iterations.iloc[-third:]
    reward_change = _relative_change(early["mean_reward"].mean(), late["mean_reward"].mean())
    progress_change = _relative_change(early["mean_progress"].mean(), late["mean_progress"].mean())
    completion = float(late["completion_rate"].mean())
    numbers = (
        f"From the first to the last third of the {count} iterations the mean reward changed by "
        f"{reward_change:+.0%} and the mean progress by {progress_change:+.0%}; "
        f"{completion:.0%} of the late episodes completed a lap. "
    )
    if completion >= RELIABLE_COMPLETION:
        advice = (
            "The car gets round reliably: work on speed now. Add faster actions, or reward "
            "progress per step so that a quicker lap pays more."
        )
    elif reward_change > TREND_THRESHOLD and progress_change > TREND_THRESHOLD:
        advice = (
            "Reward and progress are still rising: the model is still learning. Train longer "
            "(continue from this model) before you change anything else."
        )
    elif reward_change > TREND_THRESHOLD:
        advice = (
            "Reward rises but progress does not: the car found a way to earn reward without "
            "getting further round the track. Make the reward function pay for progress."
        )
    elif reward_change < -TREND_THRESHOLD:
        advice = (
            "Reward is falling: training is unstable. Try a lower learning rate, a larger batch "
            "or more episodes between training updates."
        )
    else:
        advice = (
            "The curve is flat: more of the same training will not help. Change the reward "
            "function or the action space, or lower the learning rate to fine-tune."
        )
    return numbers + advice


def _relative_change(before: float, after: float) -> float:
    if not (math.isfinite(before) and math.isfinite(after)):
        return 0.0
    return (after - before) / max(abs(before), 1e-9)


def reward_progress_correlation(episodes: pd.DataFrame) -> float:
    """Rank correlation of total reward and final progress over episodes (NaN if undefined)."""
    if len(episodes) < 3:
        return math.nan
    ranks = episodes[["total_reward", "progress"]].rank()
    if ranks["total_reward"].nunique() < 2 or ranks["progress"].nunique() < 2:
        return math.nan
    return float(ranks["total_reward"].corr(ranks["progress"]))


def describe_reward_progress(episodes: pd.DataFrame) -> str:
    """One sentence on whether episodes that get further also earn more reward."""
    rho = reward_progress_correlation(episodes)
    if math.isnan(rho):
        return "Too few (or too similar) episodes to relate reward and progress."
    if rho >= 0.7:
        verdict = "episodes that get further earn more reward, as they should."
    elif rho >= 0.3:
        verdict = (
            "further usually pays more, but not always: look at the episodes far from the trend."
        )
    else:
        verdict = (
            "reward hardly follows progress: the reward function pays for something other than "
            "getting round the track."
        )
    return f"Rank correlation of total reward and progress: {rho:+.2f}; {verdict}"
