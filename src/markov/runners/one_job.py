"""One-job mode: the trainer and N rollout workers as processes inside one SageMaker job.

This is how DeepRacer on AWS runs a training (one instance, simulator and trainer together).
The processes talk through the same store protocol as separate jobs do (the experiment's S3
prefix), so nothing in the workers changes; only where they run does. Run by
``markov.runners.job`` when the job's worker is ``one_job``; configured by the job's
environment (``NUM_WORKERS``, ``S3_YAML_NAME``, ...).

Every line a child prints goes to this process's stdout (CloudWatch) prefixed with its name.
The job ends with the trainer: when it exits, the rollout workers are stopped and the job's
status is the trainer's. A rollout worker that fails is restarted (at most
``MAX_WORKER_RESTARTS`` times); when no rollout worker is left the trainer is stopped and the
job fails, as the local runner does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from markov.formats.layout import RunLayout
from markov.formats.run_inputs import read_params
from markov.store import ModelStore, open_store

MAX_WORKER_RESTARTS = 3
STOP_GRACE_S = 20.0


@dataclass
class Worker:
    """One child process of the job."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    restarts: int = 0

    def start(self, lock: threading.Lock) -> None:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        threading.Thread(target=self._copy, args=(lock,), daemon=True).start()

    def _copy(self, lock: threading.Lock) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            with lock:
                sys.stdout.write(f"[{self.name}] {line}")
                sys.stdout.flush()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def worker_envs(
    env: Mapping[str, str], own_params: Mapping[int, Mapping[str, str]]
) -> list[tuple[str, dict[str, str]]]:
    """(name, environment) of the trainer and of every rollout worker.

    ``own_params``: the training_params_<i>.yaml of the workers that have one; such a worker
    reads that file and gets its track and model metadata, not the job's.
    """
    workers = int(env.get("NUM_WORKERS", "1"))
    prefix = env.get("SAGEMAKER_SHARED_S3_PREFIX", "").strip("/")
    base = {key: value for key, value in env.items() if key != "ROLLOUT_IDX"}
    children = [("trainer", dict(base))]
    for index in range(workers):
        child = {**base, "ROLLOUT_IDX": str(index)}
        if index in own_params:
            child["S3_YAML_NAME"] = RunLayout(prefix).worker_training_params(index)
            for key in ("WORLD_NAME", "MODEL_METADATA_FILE_S3_KEY"):
                if own_params[index].get(key):
                    child[key] = str(own_params[index][key])
        children.append((f"rollout-{index}", child))
    return children


def own_worker_params(store: ModelStore, prefix: str, workers: int) -> dict[int, dict[str, str]]:
    """The training_params_<i>.yaml of every rollout worker (index > 0) that has one."""
    layout = RunLayout(prefix)
    return {
        index: read_params(store, layout.worker_training_params(index))
        for index in range(1, workers)
        if store.exists(layout.worker_training_params(index))
    }


def _own_params_of_job(env: Mapping[str, str]) -> dict[int, dict[str, str]]:
    bucket = env.get("SAGEMAKER_SHARED_S3_BUCKET", "")
    url = env.get("MODEL_STORE_URL") or f"s3://{bucket}"
    prefix = env.get("SAGEMAKER_SHARED_S3_PREFIX", "").strip("/")
    return own_worker_params(open_store(url), prefix, int(env.get("NUM_WORKERS", "1")))


def run(env: Mapping[str, str]) -> int:
    """Run the training's processes to the end; returns the trainer's exit status."""
    lock = threading.Lock()
    children = [
        Worker(name, [sys.executable, "-m", module], child_env)
        for (name, child_env), module in zip(
            worker_envs(env, _own_params_of_job(env)),
            ["markov.workers.training"] + ["markov.workers.rollout"] * int(env["NUM_WORKERS"]),
            strict=True,
        )
    ]
    trainer, rollouts = children[0], children[1:]
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()
        for child in children:
            if child.running():
                assert child.process is not None
                child.process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    for child in children:
        child.start(lock)
    print(f"one job: 1 trainer + {len(rollouts)} rollout worker(s) on this instance", flush=True)
    assert trainer.process is not None
    while trainer.process.poll() is None:
        try:
            trainer.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        if stopping.is_set():
            continue
        for child in rollouts:
            code = None if child.process is None else child.process.poll()
            if code not in (None, 0) and child.restarts < MAX_WORKER_RESTARTS:
                child.restarts += 1
                print(f"one job: {child.name} exited with {code}; restarting it", flush=True)
                child.start(lock)
        if not any(child.running() for child in rollouts) and trainer.running():
            if all(child.process is not None and child.process.poll() for child in rollouts):
                print("one job: no rollout worker is left; stopping the trainer", flush=True)
                trainer.process.terminate()
    _stop_all(rollouts)
    return trainer.process.returncode


def _stop_all(children: list[Worker]) -> None:
    for child in children:
        if child.running():
            assert child.process is not None
            child.process.terminate()
    for child in children:
        if child.process is not None:
            try:
                child.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def main() -> int:
    """Entry point: ``python -m markov.runners.one_job`` inside a job."""
    return run(dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
