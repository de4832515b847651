"""A moto server whose SageMaker training jobs really run, as local processes.

moto accepts ``create_training_job`` but never runs the job: it is born ``Completed``, keeps no
``Environment`` and has no ``stop_training_job`` (docs/aws.md §4). ``ThreadedMotoServer``
runs inside this process, so the harness patches moto's SageMaker responses (§4.1):

* ``create_training_job`` refuses a name in use (as SageMaker does) and a role that does not
  exist, keeps the job's Environment, marks it ``InProgress`` and starts the container as a
  process with the job's own Environment, its HyperParameters in
  ``input/config/hyperparameters.json``, the moto endpoint and fake credentials:

  * the engine image (an image in moto's ECR): ``python -m markov.runners.job
    <ContainerArguments or train>``; an image missing from moto's ECR fails the job at start;
  * AWS's prebuilt PyTorch image (``pytorch-training``): as its training toolkit does, the
    ``sagemaker_submit_directory`` archive is downloaded from S3 and unpacked into ``code/``,
    and ``python <sagemaker_program> --<name> <value> ...`` runs there;
* the process's output goes to CloudWatch Logs (``/aws/sagemaker/TrainingJobs``,
  ``<job>/algo-1-<time>``);
* when the process exits the job becomes ``Completed``, or ``Failed`` with the FailureReason the
  entry point left in ``output/failure``; after MaxRuntimeInSeconds it is stopped
  (``Stopped`` / ``MaxRuntimeExceeded``);
* ``stop_training_job`` sends SIGTERM (SIGKILL after a grace period) and the job ends
  ``Stopped``;
* ``interrupt`` plays a Managed Spot interruption: the container is killed, the job goes
  ``Interrupted`` then ``Restarting`` and its container starts again with the same job
  definition, as SageMaker does once Spot capacity is back.

So a test proves the container contract end to end: what the notebook uploads is what the
workers read from S3, and what the workers write is what the notebook reads back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.core.responses import EmptyResult
from moto.core.utils import utcnow
from moto.ecr.exceptions import ImageNotFoundException, RepositoryNotFoundException
from moto.ecr.models import ecr_backends
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.server import ThreadedMotoServer
from moto.utilities.utils import get_partition

from workshop_helpers.backends.aws.image import parse_ecr_uri
from workshop_helpers.backends.aws.images import is_prebuilt

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "DR_TRACKS_DIR")
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
STOP_GRACE_S = 10.0


@dataclass
class RunningJob:
    """One training job's process and what the harness knows about it."""

    name: str
    account: str
    region: str
    folder: Path
    process: subprocess.Popen | None = None
    stop_requested: bool = False
    interrupted: bool = False
    output: list[str] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)


class MotoHarness:
    """Starts the server, patches SageMaker and runs every job it is asked to create."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.endpoint = ""
        self.jobs: dict[str, RunningJob] = {}
        self._server: ThreadedMotoServer | None = None
        self._originals: dict[str, Any] = {}
        self._scratch = Path(tempfile.mkdtemp(prefix="dr-aws-harness-"))
        self._lock = threading.Lock()
        self.idle = False
        self.interruptions: list[str] = []
        """When True, jobs run ``sleep`` instead of the container: InProgress until stopped."""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> MotoHarness:
        """Start moto on a free local port and patch its SageMaker responses."""
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._patch()
        return self

    def environment(self) -> dict[str, str]:
        """What a client (or a notebook kernel) needs to talk to this moto server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            **FAKE_CREDENTIALS,
        }

    def reset(self) -> None:
        """End every job's process and clear all of moto's state."""
        self.terminate_all()
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def terminate_all(self) -> None:
        """Kill every job process that still runs and wait for the jobs to settle."""
        for job in list(self.jobs.values()):
            self.kill(job.name)
        for job in list(self.jobs.values()):
            job.finished.wait(STOP_GRACE_S * 3)
        self.jobs.clear()

    def stop(self) -> None:
        """End every job, stop the server and undo the patches."""
        self.terminate_all()
        for name, original in self._originals.items():
            setattr(SageMakerResponse, name, original)
        self._originals.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None
        shutil.rmtree(self._scratch, ignore_errors=True)

    # ------------------------------------------------------------------ test controls
    def kill(self, name: str) -> None:
        """Kill a job's container at once, as if its instance died (the job will fail)."""
        job = self.jobs.get(name)
        if job is not None and job.process is not None and job.process.poll() is None:
            os.killpg(job.process.pid, signal.SIGKILL)

    def interrupt(self, name: str) -> None:
        """A Spot interruption: kill the job's container; it restarts with the same job."""
        job = self.jobs.get(name)
        if job is None or job.process is None or job.process.poll() is not None:
            raise AssertionError(f"job {name} is not running, so it cannot be interrupted")
        job.interrupted = True
        os.killpg(job.process.pid, signal.SIGKILL)

    def wait_until_done(self, name: str, timeout_s: float) -> bool:
        """Block until the job has ended and its final state is recorded."""
        job = self.jobs.get(name)
        return job is None or job.finished.wait(timeout_s)

    def push_image(
        self,
        repository: str = "sagemaker-deepracer-workshop",
        tag: str = "test",
        region: str = REGION,
    ) -> str:
        """Stand-in for ``docker push``: an image manifest in moto's ECR; returns its URI."""
        ecr = boto3.client("ecr", region_name=region, endpoint_url=self.endpoint)
        try:
            ecr.create_repository(repositoryName=repository)
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "x"},
            "layers": [],
        }
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
        uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
        return f"{uri['repositoryUri']}:{tag}"

    # ------------------------------------------------------------------ moto patches
    def _patch(self) -> None:
        harness = self
        original_create = SageMakerResponse.create_training_job
        self._originals = {
            "create_training_job": original_create,
            "stop_training_job": getattr(SageMakerResponse, "stop_training_job", None),
        }

        def create_training_job(response: SageMakerResponse):
            name = response._get_param("TrainingJobName")
            backend = response.sagemaker_backend
            if name in backend.training_jobs:
                raise ResourceInUseException(
                    "Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({name})"
                )
            role_arn = response._get_param("RoleArn")
            iam = iam_backends[response.current_account][get_partition(response.region)]
            try:
                iam.get_role_by_arn(role_arn)
            except NotFoundException:
                raise ValidationError(f"Could not assume role {role_arn}.") from None
            result = original_create(response)
            job = backend.training_jobs[name]
            job.environment = response._get_param("Environment") or {}
            job.training_job_status = "InProgress"
            job.secondary_status = "Starting"
            job.training_end_time = None
            harness._launch(response.current_account, response.region, job)
            return result

        def stop_training_job(response: SageMakerResponse):
            name = response._get_param("TrainingJobName")
            job = response.sagemaker_backend.training_jobs.get(name)
            if job is None:
                raise ValidationError(f"Requested resource not found: training job {name}.")
            if job.training_job_status != "InProgress":
                raise ValidationError(
                    f"The request was rejected because the training job is in status "
                    f"{job.training_job_status}."
                )
            job.training_job_status = "Stopping"
            job.secondary_status = "Stopping"
            harness._request_stop(name)
            return EmptyResult()

        SageMakerResponse.create_training_job = create_training_job
        SageMakerResponse.stop_training_job = stop_training_job

    # ------------------------------------------------------------------ running jobs
    def _launch(self, account: str, region: str, job: Any) -> None:
        running = RunningJob(job.training_job_name, account, region, self._folder(job))
        with self._lock:
            self.jobs[running.name] = running
        hyperparameters = job.hyper_parameters or {}
        if self.idle:
            command, failure = ["sleep", "86400"], ""
        elif "sagemaker_program" in hyperparameters:
            command, failure = self._toolkit_command(region, job, running.folder)
        else:
            arguments = job.algorithm_specification.get("ContainerArguments") or ["train"]
            command = [sys.executable, "-m", "markov.runners.job", *arguments]
            failure = self._missing_image(account, region, job.algorithm_specification)
        if failure:
            self._finish(running, "Failed", "Failed", failure)
            return
        config = running.folder / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(job.hyper_parameters or {}))
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.update(job.environment)
        env.update(self.environment())
        env.update(
            {
                "AWS_DEFAULT_REGION": region,
                "SM_INPUT_CONFIG_DIR": str(config),
                "SM_OUTPUT_DIR": str(running.folder / "output"),
                "PYTHONUNBUFFERED": "1",
                "OMP_NUM_THREADS": "1",
            }
        )
        running.process = subprocess.Popen(
            command,
            env=env,
            cwd=self._workdir(running.folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        job.secondary_status = "Training"
        max_runtime = float(job.stopping_condition.get("MaxRuntimeInSeconds", 86400))
        threading.Thread(
            target=self._watch, args=(running, max_runtime), name=f"job-{running.name}", daemon=True
        ).start()

    def _toolkit_command(self, region: str, job: Any, folder: Path) -> tuple[list[str], str]:
        """What the prebuilt image's training toolkit runs, and a start-up failure ('' if none)."""
        uri = job.algorithm_specification.get("TrainingImage", "")
        if not is_prebuilt(uri):
            return [], f"ClientError: {uri} is not an AWS PyTorch training image."
        hyperparameters = job.hyper_parameters
        source = hyperparameters.get("sagemaker_submit_directory", "")
        bucket, _, key = source.removeprefix("s3://").partition("/")
        s3 = boto3.client("s3", region_name=region, endpoint_url=self.endpoint)
        code = folder / "code"
        code.mkdir(parents=True)
        archive = folder / "sourcedir.tar.gz"
        try:
            s3.download_file(bucket, key, str(archive))
        except ClientError as error:
            return [], f"ClientError: cannot download the submitted code {source}: {error}"
        with tarfile.open(archive) as tar:
            tar.extractall(code, filter="data")
        program = hyperparameters["sagemaker_program"]
        arguments = [
            item
            for name, value in hyperparameters.items()
            if not name.startswith("sagemaker_")
            for item in (f"--{name}", str(value))
        ]
        return [sys.executable, program, *arguments], ""

    @staticmethod
    def _workdir(folder: Path) -> Path:
        """The container's working folder: the toolkit's code folder where there is one."""
        code = folder / "code"
        return code if code.is_dir() else folder

    def _folder(self, job: Any) -> Path:
        folder = self._scratch / f"{job.training_job_name}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        return folder

    def _missing_image(self, account: str, region: str, spec: dict[str, Any]) -> str:
        """SageMaker's start-up failure for an image that is not in ECR ('' when it is)."""
        uri = spec.get("TrainingImage", "")
        image = parse_ecr_uri(uri)
        if image is None:
            return f"ClientError: {uri} is not an image in Amazon ECR."
        try:
            ecr_backends[image.account][image.region].describe_images(
                image.repository, image.account, [image.image_id]
            )
        except (RepositoryNotFoundException, ImageNotFoundException):
            return f"ClientError: Cannot pull the image {uri}: it does not exist in ECR."
        return ""

    def _watch(self, running: RunningJob, max_runtime_s: float) -> None:
        process = running.process
        assert process is not None
        reader = threading.Thread(target=self._copy_output, args=(running,), daemon=True)
        reader.start()
        exceeded = False
        try:
            process.wait(timeout=max_runtime_s)
        except subprocess.TimeoutExpired:
            exceeded = True
            running.stop_requested = True
            self._terminate(running)
        reader.join(timeout=STOP_GRACE_S)
        if running.interrupted and not running.stop_requested and not exceeded:
            self._restart(running)
            return
        code = process.returncode
        if exceeded:
            self._finish(running, "Stopped", "MaxRuntimeExceeded", "")
        elif running.stop_requested:
            self._finish(running, "Stopped", "Stopped", "")
        elif code == 0:
            self._finish(running, "Completed", "Completed", "")
        else:
            failure = running.folder / "output" / "failure"
            reason = failure.read_text() if failure.is_file() else ""
            self._finish(running, "Failed", "Failed", reason or f"AlgorithmError: exit code {code}")

    def _restart(self, running: RunningJob) -> None:
        """Start an interrupted job's container again, as SageMaker does for Spot jobs."""
        job = sagemaker_backends[running.account][running.region].training_jobs[running.name]
        job.secondary_status = "Interrupted"
        self.interruptions.append(running.name)
        job.secondary_status = "Restarting"
        self._launch(running.account, running.region, job)
        running.finished.set()

    def _request_stop(self, name: str) -> None:
        running = self.jobs.get(name)
        if running is None:
            return
        running.stop_requested = True
        threading.Thread(target=self._terminate, args=(running,), daemon=True).start()

    @staticmethod
    def _terminate(running: RunningJob) -> None:
        """SIGTERM to the entry point (SageMaker's stop), SIGKILL to all after a grace period."""
        process = running.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)

    def _copy_output(self, running: RunningJob) -> None:
        """Every output line to CloudWatch Logs, as SageMaker's log agent does."""
        process = running.process
        assert process is not None and process.stdout is not None
        logs = boto3.client("logs", region_name=running.region, endpoint_url=self.endpoint)
        stream = f"{running.name}/algo-1-{int(time.time())}"
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        for line in process.stdout:
            running.output.append(line)
            event = {"timestamp": int(time.time() * 1000), "message": line.rstrip("\n") or " "}
            try:
                logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[event])
            except ClientError:  # moto was reset under a running job; keep draining its output
                continue

    def _finish(self, running: RunningJob, status: str, secondary: str, reason: str) -> None:
        backend = sagemaker_backends[running.account][running.region]
        job = backend.training_jobs.get(running.name)
        if job is not None:
            if reason:
                job.failure_reason = reason
            job.secondary_status = secondary
            job.training_job_status = status
            job.training_end_time = job.last_modified_time = utcnow()
        running.finished.set()


def start_for_notebooks() -> MotoHarness:
    """The harness for ``DR_TEST_AWS=1 pytest --nbval ... notebooks``: server, environment, set-up.

    Sets what the notebook kernels inherit (endpoint, fake credentials, region, the pushed engine
    image when ``DR_IMAGE_MODE=engine``, ``DR_WORKSHOP_BACKEND=aws``) and runs the AWS set-up
    once, so ``runs/aws.json`` exists in ``DR_RUNS_DIR`` before the first notebook starts.
    """
    from workshop_helpers.backends.aws.setup import setup_workshop

    harness = MotoHarness().start()
    os.environ.update(harness.environment())
    if os.environ.get("DR_IMAGE_MODE") == "engine":  # else AWS's prebuilt image, the default
        os.environ["DR_IMAGE_URI"] = harness.push_image()
    os.environ.setdefault("DR_WORKSHOP_BACKEND", "aws")
    setup_workshop()
    return harness
