"""Local runner: a trainer and N rollout workers as processes on this machine, store = a folder.

    python -m markov.runners.local --store runs/store --prefix my-experiment --workers 2

Writes default run inputs where the prefix has none (a notebook writes its own first), starts
``markov.workers.training`` and ``markov.workers.rollout`` processes with the simapp's environment
variables, prints one progress line per iteration, restarts a rollout worker that dies (but not
one that reported a failure a restart cannot fix), stops every child on Ctrl-C, SIGTERM or when
the trainer fails, and exits 0 only when at least one iteration was trained. The outcome
(Finished, Failed or Stopped, with the cause) goes to ``<prefix>/runner_result.json`` on every
exit path. Options that contradict the inputs already stored under the prefix are refused
unless ``--overwrite`` is given. Children's output goes to ``<store>/<prefix>/logs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from markov.environment.model_metadata import default_model_metadata
from markov.formats.checkpoints import CheckpointBook, CheckpointPublisher, CheckpointReader
from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.run_inputs import (
    dump_params,
    params_key_of_worker,
    read_params,
    write_run_inputs,
)
from markov.presets.preset import SYNC_TYPE_VARIABLE, Hyperparameters
from markov.runners.failure_report import failure_headline, failure_summary
from markov.runners.stop_rule import StopCause, WorkerView, workers_to_stop
from markov.store import ModelStore, open_store
from markov.store.folder import FolderStore
from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE

DEFAULT_TRACK = "Workshop_Oval"
MAX_WORKER_RESTARTS = 5
POLL_S = 0.5
STOP_GRACE_S = 10.0
WORKERLESS_GRACE_S = 60.0


EXIT_STOPPED = {130: "Ctrl-C", 143: "SIGTERM"}
"""Exit codes of a run that was stopped, and what stopped it."""


class RunnerError(RuntimeError):
    """The run could not start or did not finish cleanly."""


class RunStopped(Exception):
    """SIGTERM reached the runner; it stops every child and records the outcome."""


def outcome_label(exit_code: int) -> str:
    """The word the summary and the result file use: Finished, Stopped or Failed."""
    if exit_code == 0:
        return "Finished"
    return "Stopped" if exit_code in EXIT_STOPPED else "Failed"


@dataclass
class Child:
    """A worker process and where its output goes."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    log_file: TextIO | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_file = open(self.log_path, "a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def failure(self) -> tuple[str, str]:
        """Why this child failed: one line, then its failure block, last traceback or errors."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"its log {self.log_path} cannot be read: {error}", ""
        return failure_headline(text) or "its log is empty", failure_summary(text)


@dataclass
class RunSummary:
    """What a finished local run reports."""

    prefix: str
    run_folder: Path
    iterations: int
    wall_seconds: float
    best_eval_progress: float
    best_lap_time_s: float | None
    best_checkpoint: str | None
    exit_code: int
    outcome: str = "Finished"
    cause: str = ""


class LocalTrainingRun:
    """Starts, watches and stops the processes of one local training run."""

    def __init__(
        self,
        store_dir: str | os.PathLike[str],
        prefix: str,
        workers: int,
        *,
        extra_env: dict[str, str] | None = None,
        printer: Callable[[str], None] = print,
    ) -> None:
        if workers < 1:
            raise RunnerError(f"--workers is {workers}; start at least one rollout worker.")
        self.store = open_store(os.fspath(store_dir))
        if not isinstance(self.store, FolderStore):
            raise RunnerError("the local runner needs a folder store (a path or file:// URL)")
        self.prefix = prefix.strip("/")
        self.layout = RunLayout(self.prefix)
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.printer = printer
        self.run_folder = Path(self.store.local_path(self.prefix))
        self._children: list[Child] = []
        self._reported = 0
        self._cause = ""
        self._stopping = False
        self._started = time.monotonic()
        max_time = self.extra_env.get("MAX_TRAINING_TIME_S", "")
        self._max_time_s = float(max_time) if max_time else None

    # ------------------------------------------------------------------ lifecycle
    def run(self) -> RunSummary:
        """Run to the end; Ctrl-C (KeyboardInterrupt) and SIGTERM (RunStopped) stop every child,
        write the result file and are raised again."""
        ensure_writable(self.store, self.prefix)
        self._claim()
        started = time.monotonic()
        exit_code = 1
        installed, previous = self._handle_sigterm()
        try:
            exit_code = self._supervise()
        except KeyboardInterrupt:
            exit_code, self._cause = 130, "stopped by Ctrl-C"
            raise
        except RunStopped:
            exit_code, self._cause = 143, "stopped by SIGTERM"
            raise
        except Exception as error:
            self._cause = f"the runner failed: {error!r}"
            raise
        finally:
            self._stopping = True
            try:
                self._stop_all()
                if installed:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
                summary = self._summary(exit_code, time.monotonic() - started)
                self._write_result(summary)
            finally:
                self._release()
        return summary

    def _handle_sigterm(self) -> tuple[bool, Any]:
        """Turn the first SIGTERM into RunStopped (main thread only).

        Returns whether a handler was installed, and the one it replaced.
        """
        if threading.current_thread() is not threading.main_thread():
            return False, None

        def stop(_signum: int, _frame: object) -> None:
            if not self._stopping:
                self._stopping = True
                raise RunStopped()

        return True, signal.signal(signal.SIGTERM, stop)

    def _write_result(self, summary: RunSummary) -> None:
        """Leave the outcome in ``runner_result.json`` for notebooks that started us detached."""
        result = {**summary.__dict__, "run_folder": str(summary.run_folder), "time": time.time()}
        self.store.put_json(self.layout.runner_result, result)

    def _fail(self, what: str, child: Child) -> int:
        """Print what failed with the child's own account of why; returns the exit code 1."""
        headline, details = child.failure()
        self._cause = f"{what}: {headline}"
        self.printer(f"{what}:\n{details or headline}")
        return 1

    def _start_children(self) -> Child:
        """Start the trainer and the rollout workers, each logging to logs/; returns the trainer."""
        logs = Path(self.store.local_path(self.layout.logs_folder))
        logs.mkdir(parents=True, exist_ok=True)
        # flags of an earlier run on this prefix would make fresh workers exit at once
        CheckpointPublisher(self.store, self.prefix).clear_run_flags()
        base = self._base_env()
        jobs = worker_environments(self.store, self.prefix, self.workers, self.extra_env)
        self._children = [
            Child(
                name,
                self.trainer_command() if name == "trainer" else self.rollout_command(),
                {**base, **env},
                Path(self.store.local_path(self.layout.process_log(name))),
            )
            for name, env in jobs.items()
        ]
        for child in self._children:
            child.start()
        self.printer(
            f"Training {self.prefix}: 1 trainer + {self.workers} rollout worker(s); logs in {logs}"
        )
        return self._children[0]

    def _restart_exited_workers(self) -> int | None:
        """Restart rollout workers that exited with an error; a failure code once one has
        failed more than MAX_WORKER_RESTARTS times."""
        for child in self._children[1:]:
            code = child.poll()
            if code is None or code == 0:
                continue
            if child.restarts >= MAX_WORKER_RESTARTS:
                return self._fail(
                    f"{child.name} failed {child.restarts + 1} times (exit {code}; log "
                    f"{child.log_path})",
                    child,
                )
            child.restarts += 1
            child.close()
            self.printer(f"{child.name} exited with {code}; restarting it ({child.restarts})")
            child.start()
        return None

    def _supervise(self) -> int:
        """Watch the processes until the trainer ends; the stop rule decides on failures."""
        trainer = self._start_children()
        idle_since: float | None = None
        while True:
            time.sleep(POLL_S)
            self._report_progress()
            code = trainer.poll()
            if code == 0:
                self._report_progress()
                self._wait_for_workers()
                latest = CheckpointReader(self.store, self.prefix).latest()
                if latest is None or latest.number == 0:
                    return self._fail("No iteration was trained; the trainer's log", trainer)
                return 0
            # the trainer may finish after its workers: it has WORKERLESS_GRACE_S to exit
            decision = workers_to_stop(
                _view(trainer, restarted=False),
                [_view(child, restarted=True) for child in self._children[1:]],
                training_finished=False,
            )
            if decision is not None and decision.cause is StopCause.TRAINER_FAILED:
                self._report_progress()
                return self._fail(f"The trainer failed (exit {code})", trainer)
            if decision is not None and decision.cause is StopCause.LASTING_FAILURE:
                child = next(c for c in self._children if c.name == decision.culprit)
                return self._fail(
                    f"{child.name} failed, and a restart would fail the same way "
                    f"(exit {child.poll()}; log {child.log_path})",
                    child,
                )
            if decision is not None and decision.cause is StopCause.NO_ROLLOUT_WORKER_LEFT:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > WORKERLESS_GRACE_S:
                    return self._fail(
                        "Every rollout worker has exited but the trainer still waits for "
                        "episodes; the trainer's log",
                        trainer,
                    )
            else:
                idle_since = None
            failed = self._restart_exited_workers()
            if failed is not None:
                return failed

    def trainer_command(self) -> list[str]:
        """The trainer's command line."""
        return [sys.executable, "-m", "markov.workers.training"]

    def rollout_command(self) -> list[str]:
        """A rollout worker's command line (its index comes in ROLLOUT_IDX)."""
        return [sys.executable, "-m", "markov.workers.rollout"]

    def _wait_for_workers(self) -> None:
        """Let the workers finish the iteration they play, unless the time limit has passed.

        The trainer is done, so nothing they play now is trained on: past ``MAX_TRAINING_TIME_S``
        they are stopped at once instead.
        """
        if self._max_time_s is not None and self._elapsed() >= self._max_time_s:
            return
        deadline = time.monotonic() + STOP_GRACE_S * 3
        while time.monotonic() < deadline:
            if all(child.poll() is not None for child in self._children[1:]):
                return
            time.sleep(POLL_S)

    def _stop_all(self) -> None:
        for child in self._children:
            child.stop()
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(c.poll() is None for c in self._children):
            time.sleep(0.1)
        for child in self._children:
            child.kill()
            if child.process is not None:
                child.process.wait()
            child.close()

    # ------------------------------------------------------------------ one run per prefix
    def _claim(self) -> None:
        """Refuse to start when another local run is training on this prefix."""
        marker = self._marker()
        if marker.exists():
            try:
                pid = json.loads(marker.read_text())["pid"]
                os.kill(pid, 0)
            except (OSError, ValueError, KeyError):
                pass
            else:
                raise RunnerError(
                    f"Training {self.prefix} is already running (process {pid}). Stop it "
                    "first, or start a new experiment with another prefix."
                )
        self.run_folder.mkdir(parents=True, exist_ok=True)
        self.store.delete(self.layout.runner_result)
        marker.write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
        self._started = time.monotonic()  # the time limit counts from here

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _marker(self) -> Path:
        """The local file that says which process runs this prefix."""
        return Path(self.store.local_path(self.layout.runner_marker))

    def _release(self) -> None:
        self._marker().unlink(missing_ok=True)

    # ------------------------------------------------------------------ reporting
    def _base_env(self) -> dict[str, str]:
        """This process's environment and the plumbing of a child process (not the job's)."""
        env = dict(os.environ)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "DR_PARENT_PID": str(os.getpid()),
                "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
            }
        )
        return env

    def iteration_history(self) -> list[dict[str, Any]]:
        """The trainer's per-iteration records so far."""
        key = self.layout.trainer_log
        return self.store.get_json(key) if self.store.exists(key) else []

    def _report_progress(self) -> None:
        history = self.iteration_history()
        evaluations = self._evaluation_progress()
        for record in history[self._reported :]:
            k = record["iteration"]
            seconds = record["rollout_seconds"] + record["update_seconds"]
            rate = record["transitions"] / max(record["rollout_seconds"], 1e-9)
            evaluated = evaluations.get(k)
            shown = "   -  " if evaluated is None else f"{evaluated:5.1f}%"
            self.printer(
                f"iteration {k:3d} | episodes {record['episodes']:3d} | "
                f"mean reward {record['mean_reward']:8.2f} | "
                f"mean progress {record['mean_progress']:5.1f}% | eval progress {shown} | "
                f"{rate:6.0f} steps/s | {seconds:5.1f} s"
            )
        self._reported = len(history)

    def _evaluation_progress(self) -> dict[int, float]:
        """Mean in-training evaluation progress per iteration (worker 0's metrics)."""
        key = self.layout.training_metrics(0)
        if not self.store.exists(key):
            return {}
        entries = read_training_metrics(self.store, key).metrics
        per_iteration: dict[int, list[float]] = {}
        trials = max((m["trial"] for m in entries if m["phase"] == "training"), default=1)
        for entry in entries:
            if entry["phase"] == "evaluation":
                iteration = (entry["episode"] - 1) // max(trials, 1)
                per_iteration.setdefault(iteration, []).append(entry["completion_percentage"])
        return {k: sum(v) / len(v) for k, v in per_iteration.items()}

    def _summary(self, exit_code: int, wall: float) -> RunSummary:
        book = CheckpointBook(self.store, self.prefix).read()
        latest = CheckpointReader(self.store, self.prefix).latest()
        key = self.layout.training_metrics(0)
        entries = read_training_metrics(self.store, key).metrics if self.store.exists(key) else []
        evaluations = [m for m in entries if m["phase"] == "evaluation"]
        laps = [
            m["elapsed_time_in_milliseconds"] / 1000
            for m in evaluations
            if m["episode_status"] == "Lap complete"
        ]
        return RunSummary(
            prefix=self.prefix,
            run_folder=self.run_folder,
            # the pointer is unreadable while a publish holds .lock; the trainer's table is not
            iterations=len(self.iteration_history()) if latest is None else latest.number,
            wall_seconds=wall,
            best_eval_progress=max((m["completion_percentage"] for m in evaluations), default=0),
            best_lap_time_s=min(laps) if laps else None,
            best_checkpoint=None if book.best is None else book.best.name,
            exit_code=exit_code,
            outcome=outcome_label(exit_code),
            cause=self._cause,
        )


def ensure_writable(store: ModelStore, prefix: str) -> None:
    """Refuse a store the run cannot write to, before anything starts."""
    probe = RunLayout(prefix).write_probe
    try:
        store.put_text(probe, "")
        store.delete(probe)
    except OSError as error:
        where = store.local_path(prefix) or f"{store.url}/{prefix}"
        raise RunnerError(
            f"the model store folder {where} is not writable ({error.strerror or error}); "
            "training writes its checkpoints and logs there. Make the folder writable, or "
            "pass --store with a folder you may write to."
        ) from None


def _view(child: Child, restarted: bool) -> WorkerView:
    """The stop rule's view of a child process. A ``restarted`` child (a rollout worker) that
    crashed for a passing reason counts as running: the runner starts it again."""
    code = child.poll()
    crashed = code not in (None, 0)
    lasting = code == EXIT_DETERMINISTIC_FAILURE
    return WorkerView(
        child.name,
        running=code is None or (restarted and crashed and not lasting),
        failed=crashed,
        lasting_failure=lasting,
    )


def check_prefix_options(
    store: ModelStore,
    prefix: str,
    *,
    track: str | None,
    workers: int | None,
    overwrite: bool,
    printer: Callable[[str], None] = print,
) -> None:
    """Refuse options that contradict the inputs stored under an existing prefix.

    With ``overwrite`` the stored training_params.yaml takes the new values instead (the
    reward function, model metadata, hyperparameters and checkpoints stay).
    """
    key = RunLayout(prefix).training_params
    if not store.exists(key):
        return
    params = read_params(store, key)
    wanted = {"WORLD_NAME": track, "NUM_WORKERS": None if workers is None else str(workers)}
    options = {"WORLD_NAME": "--track", "NUM_WORKERS": "--workers"}
    conflicts = {
        name: value
        for name, value in wanted.items()
        if value is not None and params.get(name, "") != value
    }
    if not conflicts:
        return
    described = "; ".join(
        f"{options[name]} {value} but the stored {name} is {params.get(name, '')!r}"
        for name, value in conflicts.items()
    )
    if not overwrite:
        raise RunnerError(
            f"prefix {prefix!r} already holds a run's inputs ({key}): {described}. Start a new "
            "experiment with another --prefix, leave these options out to keep the stored "
            "values, or pass --overwrite to replace them."
        )
    store.put_text(key, dump_params({**params, **conflicts}))
    printer(f"--overwrite: {key} now has " + ", ".join(f"{k}={v}" for k, v in conflicts.items()))


def worker_environments(
    store: ModelStore, prefix: str, workers: int, extra_env: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """The simapp variables each process of a local run starts with: ``trainer``, then
    ``rollout-<ROLLOUT_IDX>`` for every rollout worker, each with its own YAML
    (``training_params_<i>.yaml`` where the run has one) and that YAML's track and model
    metadata. ``extra_env`` (limits, a SYNC override) goes to every process."""
    prefix = prefix.strip("/")
    shared = {
        "MODEL_STORE_URL": store.url,
        "SAGEMAKER_SHARED_S3_PREFIX": prefix,
        "NUM_WORKERS": str(workers),
    }
    main_yaml = RunLayout(prefix).training_params
    jobs = {"trainer": {**shared, **_yaml_variables(store, prefix, main_yaml)}}
    for index in range(workers):
        yaml_key = params_key_of_worker(store, prefix, index)
        jobs[f"rollout-{index}"] = {
            **shared,
            **_yaml_variables(store, prefix, yaml_key),
            "ROLLOUT_IDX": str(index),
        }
    return {name: {**env, **(extra_env or {})} for name, env in jobs.items()}


def _yaml_variables(store: ModelStore, prefix: str, yaml_key: str) -> dict[str, str]:
    """S3_YAML_NAME and the track and model metadata it names (as the AWS jobs get them)."""
    params = read_params(store, yaml_key) if store.exists(yaml_key) else {}
    variables = {"S3_YAML_NAME": yaml_key}
    if params.get("WORLD_NAME"):
        variables["WORLD_NAME"] = str(params["WORLD_NAME"])
    variables["MODEL_METADATA_FILE_S3_KEY"] = str(
        params.get("MODEL_METADATA_FILE_S3_KEY") or RunLayout(prefix).model_metadata
    )
    return variables


def prepare_default_inputs(store_dir: str, prefix: str, workers: int, track: str) -> None:
    """Write default inputs (workshop model, hyperparameters, centre-line reward) if missing."""
    write_run_inputs(
        open_store(store_dir),
        prefix,
        world_name=track,
        num_workers=workers,
        model_metadata=default_model_metadata(),
        hyperparameters=Hyperparameters(),
    )


def positive_workers(text: str) -> int:
    """``--workers``: a whole number >= 1, checked before anything is written."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number; pass e.g. --workers 2"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{value} rollout workers cannot play episodes; pass --workers 1 or more"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="folder of the model store")
    parser.add_argument("--prefix", required=True, help="experiment id (the run's prefix)")
    parser.add_argument(
        "--workers",
        type=positive_workers,
        help="rollout workers (default: the prefix's stored NUM_WORKERS, else 1)",
    )
    parser.add_argument(
        "--track", help=f"track (default: the prefix's stored WORLD_NAME, else {DEFAULT_TRACK})"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the stored track / worker count of an existing prefix with these options",
    )
    parser.add_argument("--max-time", type=float, help="wall-clock limit in seconds")
    parser.add_argument(
        "--stop-at-eval-progress",
        type=float,
        help="stop once an in-training evaluation episode reaches this progress (e.g. 100)",
    )
    parser.add_argument(
        "--sync-type",
        choices=["SYNC", "ASYNC"],
        help="override SYNC_TYPE of markov/presets/preset.py for this run",
    )
    parser.add_argument("--rollout-timeout", type=float, help="seconds to wait for late workers")
    return parser


def runner_env(args: argparse.Namespace) -> dict[str, str]:
    """Environment variables for the children from the command-line options."""
    env = {} if args.sync_type is None else {SYNC_TYPE_VARIABLE: args.sync_type}
    if args.max_time is not None:
        env["MAX_TRAINING_TIME_S"] = str(args.max_time)
    if args.stop_at_eval_progress is not None:
        env["STOP_ON_EVAL_PROGRESS"] = str(args.stop_at_eval_progress)
    if args.rollout_timeout is not None:
        env["ROLLOUT_TIMEOUT_S"] = str(args.rollout_timeout)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        store = open_store(args.store)
        if not isinstance(store, FolderStore):
            raise RunnerError("the local runner needs a folder store (a path or file:// URL)")
        prefix = args.prefix.strip("/")
        ensure_writable(store, prefix)
        check_prefix_options(
            store, prefix, track=args.track, workers=args.workers, overwrite=args.overwrite
        )
        key = RunLayout(prefix).training_params
        stored = read_params(store, key) if store.exists(key) else {}
        workers = args.workers or int(stored.get("NUM_WORKERS") or 1)
        prepare_default_inputs(args.store, prefix, workers, args.track or DEFAULT_TRACK)
        run = LocalTrainingRun(args.store, prefix, workers, extra_env=runner_env(args))
        summary = run.run()
    except KeyboardInterrupt:
        print("Stopped (Ctrl-C): every worker was terminated.")
        return 130
    except RunStopped:
        print("Stopped (SIGTERM): every worker was terminated.")
        return 143
    except (RunnerError, OSError, ValueError) as error:  # bad options, inputs or store
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{summary.outcome} {summary.prefix}: {summary.iterations} iterations in "
        f"{summary.wall_seconds:.0f} s; best evaluation progress "
        f"{summary.best_eval_progress:.0f}%; run folder {summary.run_folder}"
    )
    if summary.cause:
        print(f"cause: {summary.cause}")
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
