"""Entry point of every job: ``python -m markov.runners.job train`` (or ``<worker>``).

The worker is ``training_worker``, ``rollout_worker``, ``evaluation_worker`` or ``one_job``
(trainer and rollout workers in one job, ``markov.runners.one_job``). SageMaker starts a container
with
the argument ``train``; the worker then comes from the job's ``DR_WORKER`` variable. A worker name
given as the argument is used as it is. In AWS's prebuilt image the bundle's launcher
(``markov.runners.sagemaker``) starts this entry point with ``DR_CODE_DIR`` set to the
unpacked bundle, and step 2 is skipped. Like the simapp's bundle, the job first fetches the run's
engine bundle from the store, so edits to ``src/markov`` reach the jobs without rebuilding the
image:

1. SageMaker's ``hyperparameters.json`` (in ``$SM_INPUT_CONFIG_DIR``, default
   ``/opt/ml/input/config``) is mapped to environment variables; a variable that is already set
   wins. The mapping (DeepRacer-on-AWS hyperparameter names):

   ========================  ===============================================================
   ``s3_bucket``             ``SAGEMAKER_SHARED_S3_BUCKET``
   ``s3_prefix``             ``SAGEMAKER_SHARED_S3_PREFIX``
   ``s3_yaml_name``          ``S3_YAML_NAME`` (a bare file name is taken below ``s3_prefix``)
   ``world_name``            ``WORLD_NAME``
   ``aws_region``            ``APP_REGION``
   ``model_metadata_s3_key`` ``MODEL_METADATA_FILE_S3_KEY``
   ``rollout_idx``           ``ROLLOUT_IDX``
   ``num_workers``           ``NUM_WORKERS``
   ``UPPER_CASE`` names      the variable of the same name (e.g. ``MAX_TRAINING_TIME_S``)
   ========================  ===============================================================

   ``APP_REGION`` becomes ``AWS_DEFAULT_REGION`` when that is unset. A shared deadline
   (``DR_DEADLINE_EPOCH``, ``markov.runners.deadline``) caps ``MAX_TRAINING_TIME_S`` and
   ``READY_TIMEOUT_S`` to the time left when the job starts.
2. The bundle ``BUNDLE_S3_KEY`` (default ``<prefix>/build/output.tar.gz``, the prefix being
   ``SAGEMAKER_SHARED_S3_PREFIX`` or ``MODEL_S3_PREFIX``) is read from the store
   (``MODEL_STORE_URL``, else ``s3://$SAGEMAKER_SHARED_S3_BUCKET`` or ``s3://$MODEL_S3_BUCKET``)
   and unpacked into a temporary folder that goes first on ``PYTHONPATH``. Without a bundle the
   installed ``markov`` runs (logged).
3. ``python -m markov.<worker>`` runs as a child; SIGTERM and SIGINT (SageMaker's stop) are
   passed on, its output is copied to this process's stdout (CloudWatch), and on failure the
   cause (the worker's failure block, else its last traceback or error lines; see
   ``markov.runners.failure_report``) goes to ``$SM_OUTPUT_DIR/failure`` (default
   ``/opt/ml/output``),
   which SageMaker shows as the job's FailureReason. The exit status is the worker's.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from markov.formats.layout import RunLayout
from markov.runners.deadline import DeadlineError, apply_deadline
from markov.runners.failure_report import job_failure_reason
from markov.store import StoreConfigError, StoreKeyError, open_store

WORKER_MODULES = {
    "training_worker": "markov.workers.training",
    "rollout_worker": "markov.workers.rollout",
    "evaluation_worker": "markov.workers.evaluation",
    "one_job": "markov.runners.one_job",
}
"""The workers a job can run (its ``DR_WORKER``), and the module that runs each."""
WORKERS = tuple(WORKER_MODULES)
SAGEMAKER_ARGUMENT = "train"
"""What SageMaker passes to a container that has no ContainerArguments."""
CONFIG_DIR = "/opt/ml/input/config"
OUTPUT_DIR = "/opt/ml/output"
FAILURE_REASON_CHARS = 1000
"""SageMaker keeps at most 1024 characters of FailureReason."""
TAIL_LINES = 400
"""Lines of output kept to find the cause of a failure in."""

HYPERPARAMETER_VARIABLES = {
    "s3_bucket": "SAGEMAKER_SHARED_S3_BUCKET",
    "s3_prefix": "SAGEMAKER_SHARED_S3_PREFIX",
    "s3_yaml_name": "S3_YAML_NAME",
    "world_name": "WORLD_NAME",
    "aws_region": "APP_REGION",
    "model_metadata_s3_key": "MODEL_METADATA_FILE_S3_KEY",
    "rollout_idx": "ROLLOUT_IDX",
    "num_workers": "NUM_WORKERS",
}

log = logging.getLogger("job_entrypoint")


class JobSetupError(RuntimeError):
    """The job cannot start its worker; the message says what to fix."""


def hyperparameter_environment(hyperparameters: Mapping[str, str]) -> dict[str, str]:
    """Environment variables for SageMaker hyperparameters (see the module docstring)."""
    env: dict[str, str] = {}
    for name, value in hyperparameters.items():
        if name in HYPERPARAMETER_VARIABLES:
            env[HYPERPARAMETER_VARIABLES[name]] = str(value)
        elif name.isupper():
            env[name] = str(value)
        else:
            log.info("hyperparameter %s has no environment variable; ignored", name)
    yaml_name = env.get("S3_YAML_NAME", "")
    prefix = env.get("SAGEMAKER_SHARED_S3_PREFIX", "").strip("/")
    if yaml_name and "/" not in yaml_name and prefix:
        env["S3_YAML_NAME"] = RunLayout(prefix).key(yaml_name)
    return env


def apply_hyperparameters(env: MutableMapping[str, str], config_dir: Path) -> None:
    """Add the variables from ``config_dir/hyperparameters.json`` that ``env`` lacks."""
    path = config_dir / "hyperparameters.json"
    if path.is_file():
        try:
            hyperparameters = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise JobSetupError(f"{path} is not valid JSON: {error}") from None
        for name, value in hyperparameter_environment(hyperparameters).items():
            env.setdefault(name, value)
    if env.get("APP_REGION"):
        env.setdefault("AWS_DEFAULT_REGION", env["APP_REGION"])


def bundle_location(env: Mapping[str, str]) -> tuple[str, str]:
    """The store URL and the key of the run's engine bundle."""
    bucket = env.get("SAGEMAKER_SHARED_S3_BUCKET") or env.get("MODEL_S3_BUCKET")
    url = env.get("MODEL_STORE_URL") or (f"s3://{bucket}" if bucket else "")
    prefix = (env.get("SAGEMAKER_SHARED_S3_PREFIX") or env.get("MODEL_S3_PREFIX", "")).strip("/")
    key = env.get("BUNDLE_S3_KEY") or (RunLayout(prefix).code_bundle if prefix else "")
    if not url or not key:
        raise JobSetupError(
            "The job does not say where its run is: set MODEL_STORE_URL or "
            "SAGEMAKER_SHARED_S3_BUCKET, and SAGEMAKER_SHARED_S3_PREFIX (training) or "
            "MODEL_S3_PREFIX (evaluation)."
        )
    return url, key


def fetch_bundle(url: str, key: str, into: Path) -> Path | None:
    """Unpack the bundle into ``into`` and return it, or None when the store has no bundle."""
    try:
        data = open_store(url).get_bytes(key)
    except StoreKeyError:
        return None
    except (StoreConfigError, ClientError, BotoCoreError) as error:
        raise JobSetupError(
            f"cannot read the engine bundle {url}/{key}: {error}. Check that the bucket exists "
            "in the job's region and that the job's role may read it."
        ) from None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise JobSetupError(
            f"{url}/{key} is not a readable engine bundle ({error}); upload it again with "
            "workshop_helpers.bundle.upload_run_inputs."
        ) from None
    return into


def chosen_worker(argument: str, env: Mapping[str, str]) -> str:
    """The worker to run: the argument, or DR_WORKER when SageMaker passed ``train``."""
    if argument in ("", SAGEMAKER_ARGUMENT):
        return env.get("DR_WORKER", "")
    return argument


def worker_command(worker: str) -> list[str]:
    """The command that runs one of the engine's workers in this interpreter."""
    if worker not in WORKERS:
        raise JobSetupError(
            f"unknown worker {worker!r}; set the job's DR_WORKER variable (or pass the container "
            f"argument) to one of {', '.join(WORKERS)}."
        )
    return [sys.executable, "-m", WORKER_MODULES[worker]]


def worker_name(command: list[str]) -> str:
    """The ``DR_WORKER`` name of a worker command (its module name if it runs no known worker)."""
    module = command[-1]
    return next((name for name, known in WORKER_MODULES.items() if known == module), module)


def run_worker(command: list[str], env: Mapping[str, str], failure_file: Path) -> int:
    """Run the worker, pass on stop signals, copy its output and record why it failed."""
    received: list[int] = []
    children: list[subprocess.Popen] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    child = subprocess.Popen(
        command,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
    )
    children.append(child)
    if received:  # a stop that came while the worker was being started
        child.send_signal(received[-1])
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    assert child.stdout is not None
    for line in child.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        tail.append(line.rstrip("\n"))
    code = child.wait()
    if code != 0:
        reason = job_failure_reason(worker_name(command), code, "\n".join(tail))
        write_failure(failure_file, reason.replace("\n", " | "))
    return code


def write_failure(path: Path, reason: str) -> None:
    """Leave ``reason`` where SageMaker reads a job's FailureReason."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(reason) > FAILURE_REASON_CHARS:  # keep who failed and how it ended
            head = reason[: FAILURE_REASON_CHARS // 4]
            reason = f"{head} ... {reason[-(FAILURE_REASON_CHARS - len(head) - 5) :]}"
        path.write_text(reason, encoding="utf-8")
    except OSError as error:
        log.warning("could not write %s: %s", path, error)


def main(argv: list[str] | None = None) -> int:
    """Prepare the environment, fetch the bundle and run the worker; returns its status."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    failure_file = Path(env.get("SM_OUTPUT_DIR", OUTPUT_DIR)) / "failure"
    workdir = Path(tempfile.mkdtemp(prefix="dr-bundle-"))
    try:
        apply_hyperparameters(env, Path(env.get("SM_INPUT_CONFIG_DIR", CONFIG_DIR)))
        command = worker_command(chosen_worker(args[0] if args else "", env))
        left = apply_deadline(env, time.time())
        if left is not None:
            log.info("%.0f s left before the training's deadline", left)
        url, key = bundle_location(env)
        code_dir = env.get("DR_CODE_DIR")
        bundle = Path(code_dir) if code_dir else fetch_bundle(url, key, workdir)
        if bundle is None:
            log.info("no bundle at %s/%s; running the markov installed in the image", url, key)
        else:
            log.info("running markov from the bundle %s/%s", url, key)
            paths = [str(bundle), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
        env["PYTHONUNBUFFERED"] = "1"
        return run_worker(command, env, failure_file)
    except (JobSetupError, DeadlineError) as error:
        log.error("%s", error)
        write_failure(failure_file, str(error))
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
