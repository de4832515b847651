"""The engine image's entry point: hyperparameters, the run's bundle first, failures reported."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from markov.runners.job import apply_hyperparameters, hyperparameter_environment
from markov.store import open_store

PREFIX = "exp-1"


def bundle_bytes(files: dict[str, str]) -> bytes:
    """A gzipped tar holding ``files`` (archive name -> text)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def job_env(store: Path, output: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")}
    env.update(
        {
            "MODEL_STORE_URL": store.as_uri(),
            "SAGEMAKER_SHARED_S3_PREFIX": PREFIX,
            "SM_INPUT_CONFIG_DIR": str(output.parent / "config"),
            "SM_OUTPUT_DIR": str(output),
        }
    )
    return env


def run_job(worker: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "markov.runners.job", worker],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_droa_hyperparameters_become_the_workers_variables() -> None:
    env = hyperparameter_environment(
        {
            "s3_bucket": "bucket",
            "s3_prefix": "exp",
            "s3_yaml_name": "training_params.yaml",
            "world_name": "reInvent2019_track",
            "aws_region": "eu-west-1",
            "rollout_idx": "1",
            "MAX_TRAINING_TIME_S": "600",
        }
    )
    assert env == {
        "SAGEMAKER_SHARED_S3_BUCKET": "bucket",
        "SAGEMAKER_SHARED_S3_PREFIX": "exp",
        "S3_YAML_NAME": "exp/training_params.yaml",
        "WORLD_NAME": "reInvent2019_track",
        "APP_REGION": "eu-west-1",
        "ROLLOUT_IDX": "1",
        "MAX_TRAINING_TIME_S": "600",
    }


def test_environment_wins_over_hyperparameters_and_the_region_follows(tmp_path) -> None:
    (tmp_path / "hyperparameters.json").write_text(
        json.dumps({"world_name": "from-hyperparameters", "aws_region": "eu-west-1"})
    )
    env = {"WORLD_NAME": "from-environment"}
    apply_hyperparameters(env, tmp_path)
    assert env["WORLD_NAME"] == "from-environment"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_the_runs_bundle_runs_instead_of_the_installed_engine(tmp_path) -> None:
    store = tmp_path / "store"
    worker = "import sys\nprint('edited engine from the bundle')\nsys.exit(3)\n"
    open_store(store).put_bytes(
        f"{PREFIX}/build/output.tar.gz",
        bundle_bytes({"markov/__init__.py": "", "markov/workers/training.py": worker}),
    )
    result = run_job("training_worker", job_env(store, tmp_path / "output"))
    assert "edited engine from the bundle" in result.stdout
    assert result.returncode == 3
    failure = (tmp_path / "output" / "failure").read_text()
    assert "exited with status 3" in failure and "edited engine from the bundle" in failure


def test_without_a_bundle_the_installed_engine_runs_and_its_error_is_the_failure_reason(
    tmp_path,
) -> None:
    store = tmp_path / "store"
    open_store(store).put_text(f"{PREFIX}/placeholder.txt", "")
    result = run_job("training_worker", job_env(store, tmp_path / "output"))
    assert result.returncode != 0
    assert "no bundle" in result.stderr
    assert "training_params" in (tmp_path / "output" / "failure").read_text()


def test_an_unknown_worker_is_refused_with_the_choices(tmp_path) -> None:
    result = run_job("train", job_env(tmp_path / "store", tmp_path / "output"))
    assert result.returncode == 2
    reason = (tmp_path / "output" / "failure").read_text()
    assert "training_worker, rollout_worker, evaluation_worker" in reason


def test_a_stop_reaches_the_worker(tmp_path) -> None:
    """SageMaker stops a job with SIGTERM to the entry point; the worker must get it."""
    store = tmp_path / "store"
    worker = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    print('worker stopped cleanly', flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('worker ready', flush=True)\n"
        "while True:\n"
        "    time.sleep(0.1)\n"
    )
    open_store(store).put_bytes(
        f"{PREFIX}/build/output.tar.gz",
        bundle_bytes({"markov/__init__.py": "", "markov/workers/rollout.py": worker}),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "markov.runners.job", "rollout_worker"],
        env=job_env(store, tmp_path / "output"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "worker ready"
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        assert process.wait(timeout=600) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "worker stopped cleanly" in rest


@pytest.mark.parametrize("missing", ["MODEL_STORE_URL", "SAGEMAKER_SHARED_S3_PREFIX"])
def test_a_job_that_does_not_name_its_run_says_which_variables_to_set(tmp_path, missing) -> None:
    env = job_env(tmp_path / "store", tmp_path / "output")
    del env[missing]
    result = run_job("rollout_worker", env)
    assert result.returncode == 2
    assert missing in (tmp_path / "output" / "failure").read_text()
