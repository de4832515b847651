"""End of the workshop: stop what still runs, then remove what the workshop created.

``stop_all_jobs()`` stops the training and evaluation jobs of every experiment on this machine
through their backends. ``cleanup_plan()`` lists what would be deleted: each experiment's
folder ``runs/<id>/`` (the learner's inputs and job records), its prefix in the model store
(checkpoints, metrics, simtrace, videos; a folder for the local backend, S3 objects for AWS) and
the engine bundle ``build/output.tar.gz``. ``delete_workshop_data()`` deletes those only after
an explicit yes, and stops the experiments' jobs first.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from markov.store import open_store
from workshop_helpers.backends import JobState, get_backend
from workshop_helpers.bundle import BUNDLE_NAME
from workshop_helpers.experiment import Experiment, list_experiments, load_experiment
from workshop_helpers.paths import build_dir, runs_dir, shown_path

YES = ("y", "yes")
CONFIRM_PROMPT = "Delete everything listed above? Type yes to delete, anything else keeps it: "

ExperimentsArg = Iterable[Experiment | str] | None


# ---------------------------------------------------------------------------------- stopping
@dataclass(frozen=True)
class ExperimentJobs:
    """One experiment's jobs after ``stop_all_jobs``: what was stopped and the final states."""

    experiment_id: str
    backend: str
    stopped: tuple[str, ...] = ()
    states: tuple[JobState, ...] = ()
    error: str = ""

    @property
    def quiet(self) -> bool:
        """True when the backend answered and none of the experiment's jobs still runs."""
        return not self.error and all(state.done for state in self.states)

    def __str__(self) -> str:
        if self.error:
            return f"{self.experiment_id}: could not check its jobs ({self.error})"
        stopped = f"stopped {', '.join(self.stopped)}; " if self.stopped else ""
        return f"{self.experiment_id}: {stopped}{_describe_states(self.states)}"


@dataclass(frozen=True)
class StopReport:
    """The jobs of every experiment that ``stop_all_jobs`` looked at."""

    experiments: tuple[ExperimentJobs, ...]

    @property
    def quiet(self) -> bool:
        """True when nothing runs any more in any of the experiments."""
        return all(item.quiet for item in self.experiments)

    def __repr__(self) -> str:
        if not self.experiments:
            return "No experiments on this machine: nothing to stop."
        lines = [str(item) for item in self.experiments]
        if self.quiet:
            lines.append("Nothing is running any more.")
        else:
            lines.append("Some jobs may still run: see the lines above and stop them by hand.")
        return "\n".join(lines)


def stop_all_jobs(experiments: ExperimentsArg = None) -> StopReport:
    """Stop the running training and evaluation jobs of ``experiments`` (default: every
    experiment in the runs folder) through their backends; report each one's final states."""
    return StopReport(tuple(_stop_jobs(experiment) for experiment in _resolve(experiments)))


def _stop_jobs(experiment: Experiment) -> ExperimentJobs:
    try:
        backend = get_backend(experiment)
        stopped: list[str] = []
        training = backend.training_jobs(experiment)
        if any(not job.done for job in training):
            backend.stop_training(experiment)
            stopped += [job.name for job in training if not job.done]
        evaluations = backend.evaluation_jobs(experiment)
        if any(not job.done for job in evaluations):
            backend.stop_evaluations(experiment)
            stopped += [job.name for job in evaluations if not job.done]
        states = backend.training_jobs(experiment) + backend.evaluation_jobs(experiment)
    except Exception as error:  # a cleanup reports every failure and goes on with the others
        return ExperimentJobs(
            experiment.id, experiment.backend, error=f"{type(error).__name__}: {error}"
        )
    return ExperimentJobs(experiment.id, experiment.backend, tuple(stopped), tuple(states))


def _describe_states(states: Iterable[JobState]) -> str:
    states = list(states)
    if not states:
        return "no jobs started"
    parts = []
    training = [state for state in states if state.name == "training"]
    evaluations = [state for state in states if state.name != "training"]
    if training:
        parts.append(f"training {training[0].state}")
    if evaluations:
        counts: dict[str, int] = {}
        for state in evaluations:
            counts[state.state] = counts.get(state.state, 0) + 1
        summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        parts.append(f"evaluations: {summary}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------- deleting
@dataclass(frozen=True)
class Target:
    """One thing ``delete_workshop_data`` deletes: a folder, a file or a store prefix."""

    label: str
    what: str
    experiment_id: str = ""
    path: Path | None = None
    store_url: str = ""
    prefix: str = ""
    size_bytes: int | None = None


@dataclass(frozen=True)
class CleanupPlan:
    """What ``delete_workshop_data`` would delete, experiment by experiment."""

    experiments: tuple[Experiment, ...]
    targets: tuple[Target, ...]

    @property
    def total_bytes(self) -> int:
        return sum(target.size_bytes or 0 for target in self.targets)

    def __repr__(self) -> str:
        if not self.targets:
            return "Nothing to clean up: no experiments and no engine bundle."
        width = max(len(target.label) for target in self.targets) + 2
        lines = [f"Cleanup would delete ({len(self.experiments)} experiment(s)):"]
        for target in self.targets:
            lines.append(f"  {target.label:<{width}}{_size(target.size_bytes):>9}  {target.what}")
        lines.append(f"  {'total':<{width}}{_size(self.total_bytes):>9}")
        return "\n".join(lines)


@dataclass(frozen=True)
class CleanupResult:
    """What ``delete_workshop_data`` deleted and what it kept (with the reason)."""

    plan: CleanupPlan
    deleted: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    message: str = ""

    def __repr__(self) -> str:
        lines = [self.message] if self.message else []
        lines += [f"  deleted {label}" for label in self.deleted]
        lines += [f"  kept {label}" for label in self.kept]
        return "\n".join(lines)


def cleanup_plan(experiments: ExperimentsArg = None) -> CleanupPlan:
    """List what ``delete_workshop_data`` would delete for ``experiments`` (default: every
    experiment in the runs folder, plus the engine bundle ``build/output.tar.gz``); deletes
    nothing."""
    chosen = _resolve(experiments)
    targets: list[Target] = []
    for experiment in chosen:
        if experiment.folder.exists():
            targets.append(
                Target(
                    f"{shown_path(runs_dir() / experiment.id)}/",
                    "your inputs and job records",
                    experiment.id,
                    path=experiment.folder,
                    size_bytes=_folder_bytes(experiment.folder),
                )
            )
        store_target = _store_target(experiment)
        if store_target is not None:
            targets.append(store_target)
    bundle = build_dir() / BUNDLE_NAME
    if experiments is None and bundle.is_file():
        targets.append(
            Target(
                shown_path(bundle),
                "the engine bundle (rebuilt by the next upload)",
                path=bundle,
                size_bytes=bundle.stat().st_size,
            )
        )
    return CleanupPlan(tuple(chosen), tuple(targets))


def delete_workshop_data(
    experiments: ExperimentsArg = None,
    delete_run_data: bool | None = None,
    confirm: Callable[[str], str] = input,
) -> CleanupResult:
    """List what the workshop created and delete it only after an explicit yes.

    ``delete_run_data``: False lists and deletes nothing (a dry run); True is your yes, given in
    code; None asks with ``confirm(prompt)`` and deletes only on "yes". Before deleting, the
    experiments' running jobs are stopped; an experiment whose jobs cannot be checked or
    stopped is kept. ``experiments`` defaults to every experiment in the runs folder (and then
    the engine bundle goes too).
    """
    plan = cleanup_plan(experiments)
    print(repr(plan))
    if not plan.targets:
        return CleanupResult(plan, message="Nothing deleted: there is nothing to delete.")
    if delete_run_data is False:
        return CleanupResult(
            plan,
            message=(
                "Nothing deleted (delete_run_data=False). Set it to True to delete what is "
                "listed above."
            ),
        )
    if delete_run_data is None:
        answer = confirm(CONFIRM_PROMPT)
        if str(answer).strip().lower() not in YES:
            return CleanupResult(
                plan, message=f"Nothing deleted: you answered {answer!r}; only yes deletes."
            )
    jobs = stop_all_jobs(plan.experiments)
    unsafe = {item.experiment_id: str(item) for item in jobs.experiments if not item.quiet}
    deleted, kept = [], []
    failed: set[str] = set()
    # store prefixes first: an experiment's folder goes only once its run data is gone, so a
    # failed deletion leaves the record that lets the next cleanup find the data again
    for target in sorted(plan.targets, key=lambda target: target.path is not None):
        if target.experiment_id in unsafe:
            kept.append(f"{target.label} (its jobs may still run: {unsafe[target.experiment_id]})")
            continue
        if target.experiment_id in failed:
            kept.append(f"{target.label} (kept because its run data could not be deleted)")
            continue
        try:
            _delete(target)
        except Exception as error:  # keep going: report what could not be deleted
            kept.append(f"{target.label} (could not delete it: {type(error).__name__}: {error})")
            failed.add(target.experiment_id)
            continue
        deleted.append(target.label)
    _remove_empty_local_stores(plan.experiments)
    message = f"Deleted {len(deleted)} of {len(plan.targets)} item(s)."
    return CleanupResult(plan, tuple(deleted), tuple(kept), message)


def _delete(target: Target) -> None:
    """Delete one target: a file, a folder or every object below a store prefix."""
    if target.path is not None:
        if target.path.is_dir():
            shutil.rmtree(target.path)
        else:
            target.path.unlink(missing_ok=True)
        return
    open_store(target.store_url).delete_prefix(target.prefix)


def _store_target(experiment: Experiment) -> Target | None:
    try:
        store = experiment.open_store()
    except Exception as error:  # e.g. no credentials for an S3 store: list it anyway
        return Target(
            f"{experiment.store_url.rstrip('/')}/{experiment.prefix}/",
            f"the run (the store could not be opened: {type(error).__name__}: {error})",
            experiment.id,
            store_url=experiment.store_url,
            prefix=experiment.prefix,
        )
    folder = store.local_path(experiment.prefix)
    if folder is not None:
        if not Path(folder).exists():
            return None
        size = _folder_bytes(Path(folder))
        label = shown_path(Path(folder)) + "/"
    else:
        try:
            if not store.list(experiment.prefix):
                return None
        except Exception:  # listed as "size unknown"; deleting it will report the error
            pass
        size = None
        label = f"{store.url.rstrip('/')}/{experiment.prefix}/"
    return Target(
        label,
        "the run: checkpoints, metrics, simtrace, videos",
        experiment.id,
        store_url=experiment.store_url,
        prefix=experiment.prefix,
        size_bytes=size,
    )


def _remove_empty_local_stores(experiments: Iterable[Experiment]) -> None:
    """Remove a local store folder inside the runs folder once it holds nothing."""
    for experiment in experiments:
        try:
            folder = experiment.open_store().local_path(experiment.prefix)
        except Exception:  # not a store this machine can open: nothing local to tidy
            continue
        if folder is None:
            continue
        root = Path(folder).parent
        if root.is_dir() and root.parent == runs_dir() and not any(root.iterdir()):
            root.rmdir()


def _resolve(experiments: ExperimentsArg) -> list[Experiment]:
    if experiments is None:
        return list_experiments()
    if isinstance(experiments, Experiment | str):
        experiments = [experiments]
    return [item if isinstance(item, Experiment) else load_experiment(item) for item in experiments]


def _folder_bytes(folder: Path) -> int:
    if folder.is_file():
        return folder.stat().st_size
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "?"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} kB"
    return f"{size_bytes / 1024 / 1024:.1f} MB"


__all__ = [
    "CleanupPlan",
    "CleanupResult",
    "ExperimentJobs",
    "StopReport",
    "cleanup_plan",
    "delete_workshop_data",
    "stop_all_jobs",
]
