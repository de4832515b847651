"""The local backend: the engine's processes on this machine, the store a folder (free, offline).

Training runs ``python -m markov.runners.local`` detached from the notebook kernel, so a cell
returns at once and a kernel restart does not stop training. Evaluations run
``python -m markov.workers.evaluation`` processes in parallel. Process ids are kept in
``runs/<id>/local_jobs.json``; outcomes are read from the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from markov.formats.layout import RunLayout
from markov.runners import local as local_training
from workshop_helpers.backends.base import (
    BackendError,
    EvaluationRequest,
    JobState,
    TrainingRequest,
    evaluation_ids,
    evaluation_job_params,
    write_evaluation_params,
)
from workshop_helpers.experiment import Experiment

JOBS_FILE = "local_jobs.json"
STOP_WAIT_S = 30.0
_processes: dict[int, subprocess.Popen] = {}


class LocalBackend:
    """Runs training and evaluation as local processes."""

    name = "local"

    # ------------------------------------------------------------------ training
    def start_training(self, experiment: Experiment, request: TrainingRequest) -> list[JobState]:
        """Start the local runner (trainer + rollout workers) for the experiment."""
        current = self.training_jobs(experiment)
        if current and not current[0].done:
            raise BackendError(
                f"Training of {experiment.id} is already running. Wait for it, or stop it with "
                "stop_training(experiment) before starting again."
            )
        arguments = runner_arguments(experiment, request)
        command = [sys.executable, "-m", "markov.runners.local", *arguments]
        log = experiment.folder / "training.log"
        pid = _spawn(command, dict(request.extra_env), log)
        _update_jobs(experiment, {"training": {"pid": pid, "started": time.time()}})
        return [JobState("training", "starting", f"{request.num_workers} rollout worker(s)")]

    def training_jobs(self, experiment: Experiment) -> list[JobState]:
        """``training``'s state from the runner's process and its result file."""
        job = _read_jobs(experiment).get("training")
        if job is None:
            return []
        result_file = _run_file(experiment, RunLayout(experiment.prefix).runner_result)
        if _alive(job["pid"]):
            return [JobState("training", "running", _progress_detail(experiment))]
        if result_file.exists():
            result = json.loads(result_file.read_text())
            code = result["exit_code"]
            state = {0: "completed", 130: "stopped", 143: "stopped"}.get(code, "failed")
            detail = f"{result['iterations']} iterations in {result['wall_seconds']:.0f} s"
            if result.get("cause"):
                detail += f"; {result['cause']}"
            return [JobState("training", state, detail)]
        said = _last_line(experiment.folder / "training.log") or "see logs"
        return [JobState("training", "failed", f"the runner ended without a result: {said}")]

    def stop_training(self, experiment: Experiment) -> list[JobState]:
        """Interrupt the runner, which stops every worker, and wait for it."""
        job = _read_jobs(experiment).get("training")
        if job is not None and _alive(job["pid"]):
            os.killpg(job["pid"], signal.SIGINT)
            deadline = time.monotonic() + STOP_WAIT_S
            while _alive(job["pid"]) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(job["pid"]):
                os.killpg(job["pid"], signal.SIGKILL)
        return self.training_jobs(experiment)

    # ------------------------------------------------------------------ evaluation
    def start_evaluations(
        self, experiment: Experiment, requests: list[EvaluationRequest]
    ) -> list[JobState]:
        """One evaluation process per request, all at once, each with its own id and files."""
        jobs = _read_jobs(experiment).get("evaluations", {})
        ids = evaluation_ids([r.evaluation_id for r in requests], set(jobs))
        started = []
        for request, evaluation_id in zip(requests, ids, strict=True):
            env = {
                "MODEL_STORE_URL": experiment.store_url,
                "S3_YAML_NAME": write_evaluation_params(
                    experiment, evaluation_id, evaluation_job_params(request)
                ),
                "EVALUATION_ID": evaluation_id,
            }
            log = experiment.folder / f"evaluation-{evaluation_id}.log"
            pid = _spawn([sys.executable, "-m", "markov.workers.evaluation"], env, log)
            jobs[evaluation_id] = {
                "pid": pid,
                "world_name": request.world_name,
                "trials": request.number_of_trials,
                "started": time.time(),
            }
            started.append(JobState(f"evaluation-{evaluation_id}", "starting", request.world_name))
        _update_jobs(experiment, {"evaluations": jobs})
        return started

    def evaluation_jobs(self, experiment: Experiment) -> list[JobState]:
        """Each evaluation's state: running, or completed when all its trials are recorded."""
        states = []
        store = experiment.open_store()
        for evaluation_id, job in _read_jobs(experiment).get("evaluations", {}).items():
            name = f"evaluation-{evaluation_id}"
            key = RunLayout(experiment.prefix).evaluation_metrics(evaluation_id)
            trials = len(store.get_json(key)["metrics"]) if store.exists(key) else 0
            detail = f"{job['world_name']}: {trials}/{job['trials']} trials"
            if _alive(job["pid"]):
                states.append(JobState(name, "running", detail))
            else:
                code = _exit_code(job["pid"])
                ok = trials >= job["trials"] and code in (0, None)
                states.append(JobState(name, "completed" if ok else "failed", detail))
        return states

    def stop_evaluations(self, experiment: Experiment) -> list[JobState]:
        """Stop every evaluation process of the experiment that still runs."""
        for job in _read_jobs(experiment).get("evaluations", {}).values():
            if _alive(job["pid"]):
                os.killpg(job["pid"], signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        jobs = _read_jobs(experiment).get("evaluations", {}).values()
        while any(_alive(job["pid"]) for job in jobs) and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.evaluation_jobs(experiment)

    # ------------------------------------------------------------------ logs
    def logs(self, experiment: Experiment, job: str, lines: int = 40) -> str:
        """Last lines of ``training`` (runner and trainer), ``rollout-<i>`` or an evaluation."""
        if job == "training":
            paths = [
                experiment.folder / "training.log",
                _run_file(experiment, RunLayout(experiment.prefix).process_log("trainer")),
            ]
        elif job.startswith("rollout-"):
            paths = [_run_file(experiment, RunLayout(experiment.prefix).process_log(job))]
        else:
            paths = [experiment.folder / f"{job}.log"]
        parts = []
        for path in paths:
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        if not parts:
            raise BackendError(f"No log for job {job!r} of {experiment.id} yet.")
        return "\n".join(parts)


def runner_arguments(experiment: Experiment, request: TrainingRequest) -> list[str]:
    """The command-line arguments of ``markov.runners.local`` for this training."""
    arguments = [
        "--store",
        str(_store_folder(experiment)),
        "--prefix",
        experiment.prefix,
        "--workers",
        str(request.num_workers),
    ]
    if request.max_time_s is not None:
        arguments += ["--max-time", str(request.max_time_s)]
    if request.stop_at_eval_progress is not None:
        arguments += ["--stop-at-eval-progress", str(request.stop_at_eval_progress)]
    return arguments


def worker_environments(
    experiment: Experiment, request: TrainingRequest
) -> dict[str, dict[str, str]]:
    """The simapp variables each process of this training would start with (``trainer``,
    ``rollout-<i>``), from the runner's own code: its arguments, then ``worker_environments``."""
    args = local_training.build_parser().parse_args(runner_arguments(experiment, request))
    extra = {**request.extra_env, **local_training.runner_env(args)}
    return local_training.worker_environments(
        experiment.open_store(), experiment.prefix, request.num_workers, extra
    )


def _spawn(command: list[str], env: dict[str, str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as stream:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _processes[process.pid] = process
    return process.pid


def _last_line(path: Path) -> str:
    """The last non-empty line of a log (e.g. the runner's refusal), or ''."""
    if not path.exists():
        return ""
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def _alive(pid: int) -> bool:
    """Whether our job process still runs (a reused process id of another program is not)."""
    process = _processes.get(pid)
    if process is not None:
        return process.poll() is None
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    command_line = Path(f"/proc/{pid}/cmdline")
    if command_line.exists():
        return b"markov." in command_line.read_bytes()
    return True


def _exit_code(pid: int) -> int | None:
    process = _processes.get(pid)
    return None if process is None else process.poll()


def _store_folder(experiment: Experiment) -> Path:
    path = experiment.open_store().local_path(experiment.prefix)
    if path is None:
        raise BackendError(
            f"The local backend needs a folder store; {experiment.store_url} is not."
        )
    return Path(path).parent


def _run_file(experiment: Experiment, key: str) -> Path:
    """The local path of a store key of the experiment's folder store."""
    return _store_folder(experiment).joinpath(*key.split("/"))


def _progress_detail(experiment: Experiment) -> str:
    history = _run_file(experiment, RunLayout(experiment.prefix).trainer_log)
    if not history.exists():
        return "starting workers"
    try:
        iterations = len(json.loads(history.read_text()))
    except json.JSONDecodeError:
        return "training"
    return f"{iterations} iteration(s) done"


def _read_jobs(experiment: Experiment) -> dict[str, Any]:
    path = experiment.folder / JOBS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _update_jobs(experiment: Experiment, changes: dict[str, Any]) -> None:
    path = experiment.folder / JOBS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**_read_jobs(experiment), **changes}, indent=2))
    os.replace(temporary, path)
