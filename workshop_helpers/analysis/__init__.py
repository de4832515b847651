"""Log analysis of a run, for the log-analysis notebook (06) and for learners' own logs.

One module per job: ``logs`` loads simtraces and metrics, ``summaries`` makes tables of them,
``readings`` puts the tables into words, ``tracks`` matches rows to the track their worker drove,
``plots`` draws, ``replay`` recomputes rewards with another reward function ("what if"), and
``settings`` reads what the run's workers were told. The names below are the package's surface.
"""

from markov.environment.episode_status import NON_RUN_STATUSES
from workshop_helpers.analysis.logs import (
    CONSOLE_LAYOUT,
    DRFC_LAYOUT,
    LogLayout,
    RunLogs,
    load_console_download,
    load_drfc_folder,
    load_run,
    read_simtrace_file,
    simtrace_frame,
)
from workshop_helpers.analysis.plots import (
    plot_action_breakdown,
    plot_episode_paths,
    plot_lap_times,
    plot_off_track,
    plot_progress_per_iteration,
    plot_reward_vs_progress,
    plot_rewards_per_iteration,
    plot_track_heatmap,
)
from workshop_helpers.analysis.readings import (
    describe_reward_progress,
    reward_progress_correlation,
    training_trend,
)
from workshop_helpers.analysis.replay import (
    describe_what_if,
    episode_totals,
    plot_reward_comparison,
    ranking_agreement,
    replay_agrees,
    replay_reward,
    reward_by_action,
)
from workshop_helpers.analysis.settings import RunSettings, WorkerSettings, run_settings
from workshop_helpers.analysis.summaries import (
    action_labels,
    action_usage,
    episode_keys,
    episode_summary,
    evaluation_progress,
    iteration_summary,
    learning_table,
    off_track_ends,
    pick_episodes,
    rarely_used,
    run_counts,
    run_steps,
)
from workshop_helpers.analysis.tracks import TrackPart, Tracks, split_by_track, track_sections

__all__ = [
    "CONSOLE_LAYOUT",
    "DRFC_LAYOUT",
    "NON_RUN_STATUSES",
    "LogLayout",
    "RunLogs",
    "RunSettings",
    "TrackPart",
    "Tracks",
    "WorkerSettings",
    "action_labels",
    "action_usage",
    "describe_reward_progress",
    "describe_what_if",
    "episode_keys",
    "episode_summary",
    "episode_totals",
    "evaluation_progress",
    "iteration_summary",
    "learning_table",
    "load_console_download",
    "load_drfc_folder",
    "load_run",
    "off_track_ends",
    "pick_episodes",
    "plot_action_breakdown",
    "plot_episode_paths",
    "plot_lap_times",
    "plot_off_track",
    "plot_progress_per_iteration",
    "plot_reward_comparison",
    "plot_reward_vs_progress",
    "plot_rewards_per_iteration",
    "plot_track_heatmap",
    "ranking_agreement",
    "rarely_used",
    "read_simtrace_file",
    "replay_agrees",
    "replay_reward",
    "reward_by_action",
    "reward_progress_correlation",
    "run_counts",
    "run_settings",
    "run_steps",
    "simtrace_frame",
    "split_by_track",
    "track_sections",
    "training_trend",
]
