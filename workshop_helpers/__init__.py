"""Thin helpers that the workshop notebooks call; the engine in `markov` does the work.

Notebooks import everything they call from here (``from workshop_helpers import start_training``),
never from ``markov``'s modules, so that the engine's layout can change without touching them.
A name is imported from its home module on first use: ``import workshop_helpers`` stays fast,
and a notebook loads only what it calls.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES: dict[str, tuple[str, ...]] = {
    "markov.environment.model_metadata": ("ModelMetadataError",),
    "markov.environment.reward_function": ("reward_function_from_source",),
    "markov.formats.run_inputs": (
        "read_hyperparameters",
        "read_model_metadata",
        "read_params",
        "worker_params_key",
    ),
    "markov.presets.preset": (
        "HyperparameterError",
        "Hyperparameters",
        "SYNC_TYPE",
        "SYNC_TYPE_VARIABLE",
    ),
    "workshop_helpers.analysis": (
        "action_usage",
        "describe_reward_progress",
        "describe_what_if",
        "episode_summary",
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
        "rarely_used",
        "replay_agrees",
        "replay_reward",
        "reward_by_action",
        "run_counts",
        "run_settings",
        "training_trend",
    ),
    "workshop_helpers.backends": ("BackendError", "get_backend"),
    "workshop_helpers.budget": ("workshop_budget",),
    "workshop_helpers.bundle": ("build_bundle", "bundle_manifest", "upload_run_inputs"),
    "workshop_helpers.cleanup": ("cleanup_plan", "delete_workshop_data", "stop_all_jobs"),
    "workshop_helpers.evaluations": (
        "evaluation_table",
        "evaluation_yaml",
        "lap_video",
        "plot_evaluation_paths",
        "race_table",
        "start_evaluations",
        "start_head_to_head",
        "wait_for_evaluations",
    ),
    "workshop_helpers.experiment": ("latest_experiment", "new_experiment"),
    "workshop_helpers.job_environment": ("worker_environments",),
    "workshop_helpers.lesson": (
        "check_environment",
        "choose_backend",
        "default_backend",
        "show_table",
    ),
    "workshop_helpers.lesson_runs": (
        "latest_trained",
        "new_experiment_from",
        "record_track",
        "run_layout",
        "speed_comparison",
        "training_params_of",
    ),
    "workshop_helpers.model_config": (
        "continuous_action_space",
        "discrete_action_space",
        "hyperparameter_table",
        "list_action_presets",
        "load_action_preset",
        "make_model_metadata",
        "write_hyperparameters",
        "write_model_metadata",
    ),
    "workshop_helpers.paths": ("shown_path",),
    "workshop_helpers.plotting": (
        "plot_action_space",
        "plot_reward_heatmap",
        "plot_rewards_per_step",
        "plot_track",
        "plot_training_progress",
        "show_tracks",
    ),
    "workshop_helpers.reward": (
        "check_reward_function",
        "list_reward_examples",
        "load_reward_example",
        "write_reward_function",
    ),
    "workshop_helpers.reward_params": ("remove_params_extension", "write_params_extension"),
    "workshop_helpers.reward_testing": (
        "drive_scripted_cars",
        "params_table",
        "reward_heatmap",
        "summary_table",
    ),
    "workshop_helpers.round_robin": ("check_round_robin", "episodes_per_worker"),
    "workshop_helpers.trainer_cap": ("step_cap",),
    "workshop_helpers.training": (
        "latest_frames",
        "start_training",
        "stop_training",
        "trainer_iterations",
        "training_metrics",
        "training_state",
        "watch_training",
        "watch_workers",
    ),
    "workshop_helpers.widgets": (
        "backend_picker",
        "network_picker",
        "race_type_picker",
        "sensor_picker",
        "track_picker",
    ),
    "workshop_helpers.yaml_params": (
        "ParamsError",
        "evaluation_params_for",
        "training_params_for",
        "validate_params",
        "write_params",
    ),
}
"""The module each exported name comes from."""

_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)


def __getattr__(name: str) -> Any:
    """Import an exported name from its home module the first time it is asked for."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'workshop_helpers' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
