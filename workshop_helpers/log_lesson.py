"""Small helpers for the log-analysis notebook (06): the run's settings, plain-language readings
of the summaries, the off-track picture, action usage and the reward "what if" comparison.

Everything that loads, summarises, plots or replays a run lives in ``workshop_helpers.analysis``;
this module only adds what the lesson needs on top of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from markov.environment.episode_status import EpisodeStatus
from markov.formats.layout import RunLayout
from markov.formats.run_inputs import (
    params_key_of_worker,
    read_hyperparameters,
    read_params,
    read_reward_source,
)
from markov.tracks import Track, load_track
from workshop_helpers import plotting
from workshop_helpers.analysis import (
    NON_RUN_STATUSES,
    RunLogs,
    TrackPart,
    Tracks,
    action_labels,
    episode_keys,
    split_by_track,
)
from workshop_helpers.analysis import track_sections as analysis_track_sections
from workshop_helpers.experiment import Experiment

TREND_MIN_ITERATIONS = 4
"""Fewer iterations than this are too few to call a learning curve rising or flat."""
TREND_THRESHOLD = 0.10
"""A relative change smaller than 10 % between the first and last third counts as flat."""
RELIABLE_COMPLETION = 0.8
"""A completion rate from which the lesson says: the car gets round, now make it faster."""
RARELY_USED_PERCENT = 2.0
"""An action taken in fewer than 2 % of the steps counts as (nearly) never used."""


# --------------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class WorkerSettings:
    """The track and direction one rollout worker drove (its own YAML in multi-config runs)."""

    world_name: str
    reverse_dir: bool
    alternate_direction: bool


@dataclass(frozen=True)
class RunSettings:
    """What the workers of a run were told: track, direction, reward function and the
    hyperparameters (defaults filled in for the keys the learner did not set).

    ``world_name``, ``reverse_dir`` and ``alternate_direction`` are the run's main settings
    (worker 0's); ``workers`` holds every worker's own, which differ in a multi-config run.
    """

    world_name: str
    reverse_dir: bool
    alternate_direction: bool
    reward_source: str | None
    hyperparameters: dict[str, Any]
    workers: dict[int, WorkerSettings] = field(default_factory=dict)

    @property
    def tracks(self) -> dict[int, Track]:
        """``{worker: Track}`` in each worker's direction, for the analysis functions."""
        loaded = {name: load_track(name) for name in {w.world_name for w in self._all().values()}}
        return {
            worker: loaded[own.world_name].reversed() if own.reverse_dir else loaded[own.world_name]
            for worker, own in self._all().items()
        }

    @property
    def multi_track(self) -> bool:
        """Whether the workers drove more than one track or direction."""
        return len({(w.world_name, w.reverse_dir) for w in self._all().values()}) > 1

    def describe_tracks(self) -> str:
        """E.g. ``Workshop_Oval (worker 0), Workshop_Kidney (worker 1)``."""
        groups: dict[str, list[int]] = {}
        for worker, own in sorted(self._all().items()):
            name = own.world_name + (", reversed" if own.reverse_dir else "")
            groups.setdefault(name, []).append(worker)
        return ", ".join(
            f"{name} ({'worker' if len(ws) == 1 else 'workers'} {', '.join(map(str, ws))})"
            for name, ws in groups.items()
        )

    def _all(self) -> dict[int, WorkerSettings]:
        main = WorkerSettings(self.world_name, self.reverse_dir, self.alternate_direction)
        return dict(self.workers) or {0: main}


def run_settings(experiment: Experiment) -> RunSettings:
    """The track, direction, reward function and hyperparameters a run trained with, read
    from its store, and each worker's own track and direction (the YAML it read).

    Falls back to the experiment's track (and no reward source) when the run's
    ``training_params.yaml`` or ``reward_function.py`` is not in the store.
    """
    store, prefix = experiment.open_store(), experiment.prefix
    params_key = RunLayout(prefix).training_params
    params = read_params(store, params_key) if store.exists(params_key) else {}
    main = _worker_settings(params, experiment.world_name)
    workers = {
        worker: _worker_settings(read_params(store, key), main.world_name)
        if (key := params_key_of_worker(store, prefix, worker)) != params_key
        else main
        for worker in range(_worker_count(params))
    }
    reward_key = RunLayout(prefix).reward_function
    return RunSettings(
        world_name=main.world_name,
        reverse_dir=main.reverse_dir,
        alternate_direction=main.alternate_direction,
        reward_source=read_reward_source(store, reward_key) if store.exists(reward_key) else None,
        hyperparameters=read_hyperparameters(store, prefix).to_json_dict(),
        workers=workers,
    )


def _worker_settings(params: Mapping[str, str], default_world: str) -> WorkerSettings:
    return WorkerSettings(
        world_name=params.get("WORLD_NAME") or default_world,
        reverse_dir=_yaml_true(params.get("REVERSE_DIR", "false")),
        alternate_direction=_yaml_true(params.get("ALTERNATE_DRIVING_DIRECTION", "false")),
    )


def _worker_count(params: Mapping[str, str]) -> int:
    try:
        return max(1, int(params.get("NUM_WORKERS", "1")))
    except ValueError:
        return 1


def _yaml_true(value: str) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def run_counts(run: RunLogs) -> dict[str, int]:
    """How much a run recorded: workers, iterations, episodes and steps of training, and the
    evaluation trials."""
    training = run.training
    episodes = training[episode_keys(training)].drop_duplicates()
    evaluation = run.evaluation
    trials = (
        len(evaluation[episode_keys(evaluation)].drop_duplicates()) if not evaluation.empty else 0
    )
    return {
        "workers": int(training["worker"].nunique()),
        "iterations": int(training["iteration"].nunique()),
        "episodes": len(episodes),
        "steps": len(training),
        "evaluation_trials": trials,
    }


# --------------------------------------------------------------------------------- learning
def evaluation_progress(training_metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean progress (%) of the evaluation laps that worker 0 drives after each iteration.

    These laps use the policy's most likely action (no exploration), so they show what the model
    can do at that iteration. Empty when the metrics hold no evaluation phase.
    """
    columns = ["iteration", "evaluation_progress"]
    needed = {"phase", "iteration", "completion_percentage"}
    if training_metrics.empty or not needed <= set(training_metrics.columns):
        return pd.DataFrame(columns=columns)
    laps = training_metrics[training_metrics["phase"] == "evaluation"]
    progress = laps.groupby("iteration")["completion_percentage"].mean()
    return progress.rename("evaluation_progress").reset_index()[columns]


def learning_table(iterations: pd.DataFrame, training_metrics: pd.DataFrame) -> pd.DataFrame:
    """``iteration_summary`` with the evaluation progress per iteration added (NaN if none)."""
    table = iterations.merge(evaluation_progress(training_metrics), on="iteration", how="left")
    table["evaluation_progress"] = table["evaluation_progress"].astype(float)
    return table


def plot_progress_per_iteration(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean training progress and evaluation progress per iteration (a ``learning_table``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(table["iteration"], table["mean_progress"], marker="o", label="training episodes")
    evaluated = table.dropna(subset=["evaluation_progress"])
    if not evaluated.empty:
        ax.plot(
            evaluated["iteration"],
            evaluated["evaluation_progress"],
            marker="s",
            color="tab:orange",
            label="evaluation laps",
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean progress (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize="small")
    return ax


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


# --------------------------------------------------------------------------------- episodes
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


def plot_reward_vs_progress(episodes: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Total reward against final progress, one dot per episode coloured by iteration;
    completed laps get a black ring."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    iterations = episodes["iteration"] if "iteration" in episodes else pd.Series(0, episodes.index)
    dots = ax.scatter(
        episodes["progress"],
        episodes["total_reward"],
        c=iterations,
        cmap="viridis",
        s=24,
        vmin=float(iterations.min()) if len(iterations) else 0.0,
        vmax=float(iterations.max()) if len(iterations) else 1.0,
    )
    laps = episodes[episodes["complete"]]
    ax.scatter(laps["progress"], laps["total_reward"], s=70, facecolors="none", edgecolors="black")
    bar = ax.figure.colorbar(dots, ax=ax, label="iteration")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("progress at the end of the episode (%)")
    ax.set_ylabel("total reward of the episode")
    ax.set_xlim(0, 105)
    return ax


def pick_episodes(episodes: pd.DataFrame, count: int = 1) -> tuple[list[int], list[int]]:
    """The ``count`` best and worst training episodes (values of ``unique_episode``).

    Best: completed laps first, then the highest progress, then the shortest time. Worst: the
    lowest progress, then the fewest steps. An episode is never both best and worst.
    """
    if "unique_episode" not in episodes.columns:
        raise ValueError("pass episode_summary(run.training): it has a 'unique_episode' column")
    ranked = episodes.sort_values(
        ["complete", "progress", "time_s"], ascending=[False, False, True], kind="stable"
    )
    best = ranked["unique_episode"].head(count).tolist()
    rest = episodes[~episodes["unique_episode"].isin(best)]
    worst = rest.sort_values(["progress", "steps"], kind="stable")["unique_episode"]
    return [int(e) for e in best], [int(e) for e in worst.head(count)]


# --------------------------------------------------------------------------------- sections
def track_sections(steps: pd.DataFrame, track: Tracks, sections: int = 4) -> pd.Series:
    """Each step's track section on its worker's track, numbered as
    ``analysis.plot_action_breakdown`` numbers them (the waypoints split into ``sections`` runs
    along the driving direction)."""
    numbers = [
        analysis_track_sections(part.rows["closest_waypoint"], part.track, sections)
        for part in split_by_track(steps, track)
    ]
    if not numbers:
        return pd.Series(dtype=np.int64, name="section")
    return pd.concat(numbers).reindex(steps.index)


def _section_starts(track: Track, sections: int) -> list[int]:
    """The first waypoint of every section, with the numbering of ``track_sections``."""
    waypoints = len(track.waypoints) - (1 if track.closed else 0)
    return [math.ceil(s * waypoints / sections) for s in range(sections)]


def _draw_sections(ax: Axes, track: Track, sections: int) -> None:
    rows = track.route[::-1] if track.reverse else track.route
    starts = _section_starts(track, sections)
    ends = [*starts[1:], len(track.waypoints) - 1]
    for number, (start, end) in enumerate(zip(starts, ends, strict=True)):
        inner, outer = rows[start, 2:4], rows[start, 4:6]
        ax.plot([inner[0], outer[0]], [inner[1], outer[1]], color="tab:purple", linewidth=2)
        middle = track.waypoints[(start + end) // 2]
        ax.text(
            *middle,
            f"S{number}",
            color="tab:purple",
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


def off_track_ends(df: pd.DataFrame) -> pd.DataFrame:
    """The last step of every episode that ended off the track (where the car left it)."""
    keys = episode_keys(df)
    last = df.sort_values([*keys, "steps"], kind="stable").groupby(keys, sort=True).tail(1)
    return last[last["episode_status"] == EpisodeStatus.OFF_TRACK].reset_index(drop=True)


def plot_off_track(
    df: pd.DataFrame,
    track: Tracks,
    sections: int = 4,
    axes: Sequence[Axes] | None = None,
) -> list[Axes]:
    """Where episodes ended off the track (crosses coloured by iteration, sections S0.. marked)
    and how many ended off track in each section: a map and a count per track (one row of two
    axes each, titled with the track and its workers), also with no such episode.

    Returns the axes row by row: map, counts, map, counts, ...; ``axes`` (a map and a count
    axes) may be given for the rows of one track.
    """
    parts = split_by_track(df, track)
    if axes is None:
        _, grid = plt.subplots(
            len(parts),
            2,
            figsize=(12, 4.8 * len(parts)),
            gridspec_kw={"width_ratios": [1.6, 1]},
            layout="constrained",
            squeeze=False,
        )
        axes = [panel for row in grid for panel in row]
    elif len(parts) > 1:
        raise ValueError(
            f"these rows lie on {len(parts)} tracks and get a row of axes each; leave axes out"
        )
    for number, part in enumerate(parts):
        _draw_off_track(part, sections, axes[2 * number], axes[2 * number + 1])
    return list(axes)


def _draw_off_track(part: TrackPart, sections: int, on_map: Axes, counts_ax: Axes) -> None:
    track = part.track
    plotting.draw_track(on_map, track)
    _draw_sections(on_map, track, sections)
    ends = off_track_ends(part.rows)
    if ends.empty:
        on_map.set_title(f"{part.title}: no episode ended off the track")
    else:
        colour = ends["iteration"] if "iteration" in ends else "tab:red"
        on_map.scatter(ends["x"], ends["y"], c=colour, cmap="plasma", marker="x", s=40, zorder=5)
        on_map.set_title(f"{part.title}: where episodes left the track (dark = early iteration)")
    on_map.set_xlabel("x (m)")
    on_map.set_ylabel("y (m)")
    per_section = (
        analysis_track_sections(ends["closest_waypoint"], track, sections)
        .value_counts()
        .reindex(range(sections), fill_value=0)
        if not ends.empty
        else pd.Series(0, index=range(sections))
    )
    counts_ax.bar([f"S{s}" for s in range(sections)], per_section.to_numpy(), color="tab:red")
    counts_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts_ax.set_xlabel("track section")
    counts_ax.set_ylabel("episodes that ended off track")


# --------------------------------------------------------------------------------- actions
def run_steps(df: pd.DataFrame) -> pd.DataFrame:
    """The steps on which the car drove (no prepare, pause or park steps)."""
    return df[~df["episode_status"].isin(NON_RUN_STATUSES)]


def action_usage(df: pd.DataFrame, model_metadata: Mapping[str, Any] | None) -> pd.DataFrame:
    """How often each action was taken (``steps``, ``percent`` of the driving steps): one row
    per action of the action space.

    Discrete spaces list every action (index, steering, speed), also those never taken (0 steps).
    Continuous spaces (or no metadata) list the binned commands of ``analysis.action_labels``.
    """
    steps = run_steps(df)
    total = max(len(steps), 1)
    space = (model_metadata or {}).get("action_space")
    if isinstance(space, list) and space:
        counts = steps["action"].value_counts()
        rows = [
            {
                "action": int(item.get("index", number)),
                "steering_angle": float(item["steering_angle"]),
                "speed": float(item["speed"]),
            }
            for number, item in enumerate(space)
        ]
        usage = pd.DataFrame(rows)
        usage["steps"] = usage["action"].map(counts).fillna(0).astype(np.int64)
    else:
        labels = action_labels(steps)
        usage = labels.value_counts().rename_axis("action").rename("steps").reset_index()
        usage = usage.sort_values("action", kind="stable").reset_index(drop=True)
    usage["percent"] = (100.0 * usage["steps"] / total).round(1)
    return usage


def rarely_used(usage: pd.DataFrame, below_percent: float = RARELY_USED_PERCENT) -> pd.DataFrame:
    """The rows of ``action_usage`` taken in fewer than ``below_percent`` % of the steps."""
    return usage[usage["percent"] < below_percent].reset_index(drop=True)


# --------------------------------------------------------------------------------- what if
def replay_agrees(replayed: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """Whether ``new_reward`` equals the recorded ``reward`` on every step (within tolerance)."""
    difference = (replayed["new_reward"].astype(float) - replayed["reward"].astype(float)).abs()
    return bool((difference <= tolerance).all())


def episode_totals(replayed: pd.DataFrame) -> pd.DataFrame:
    """Per episode: recorded and new total reward, and each one's rank (1 = most reward)."""
    keys = episode_keys(replayed)
    totals = replayed.groupby(keys, sort=True)[["reward", "new_reward"]].sum().reset_index()
    totals["recorded_rank"] = totals["reward"].rank(ascending=False, method="min").astype(int)
    totals["new_rank"] = totals["new_reward"].rank(ascending=False, method="min").astype(int)
    return totals


def ranking_agreement(replayed: pd.DataFrame) -> float:
    """Rank correlation of recorded and new episode totals (NaN with fewer than 3 episodes)."""
    totals = episode_totals(replayed)
    if len(totals) < 3:
        return math.nan
    if totals["reward"].nunique() < 2 or totals["new_reward"].nunique() < 2:
        return math.nan
    return float(totals["recorded_rank"].corr(totals["new_rank"]))


def reward_by_action(replayed: pd.DataFrame) -> pd.DataFrame:
    """Mean reward of each action under both functions, relative to that function's own mean
    over all driving steps (1.0 = an average step), and the change from recorded to new.

    The two functions may pay on different scales; the relative pay is what the training
    compares, so ``change`` shows which actions the new function favours (> 0) or punishes.
    """
    steps = run_steps(replayed)
    if steps.empty:
        return pd.DataFrame(columns=["action", "steps", "recorded", "new", "change"])
    grouped = steps.groupby(action_labels(steps).rename("action"))
    table = grouped.agg(
        steps=("reward", "size"), recorded=("reward", "mean"), new=("new_reward", "mean")
    )
    table["recorded"] /= _nonzero(steps["reward"].mean())
    table["new"] /= _nonzero(steps["new_reward"].mean())
    table["change"] = table["new"] - table["recorded"]
    return table.reset_index()


def describe_what_if(replayed: pd.DataFrame) -> str:
    """A sentence on how the new reward function would rank the recorded episodes."""
    rho = ranking_agreement(replayed)
    if math.isnan(rho):
        return "Too few (or too similar) episodes to compare the two rankings."
    if rho >= 0.9:
        verdict = (
            "both functions prefer the same episodes: switching would change little for the "
            "driving the car already does."
        )
    elif rho >= 0.5:
        verdict = (
            "the new function mostly agrees, but reorders some episodes: see which actions it "
            "pays more or less for below."
        )
    else:
        verdict = (
            "the new function prefers quite different episodes: it would push the training in "
            "a different direction."
        )
    return f"Rank correlation of the episode totals (recorded vs new): {rho:+.2f}; {verdict}"


def _nonzero(value: float) -> float:
    return value if value and math.isfinite(value) else 1.0
