"""The AWS backend: the trainer and every rollout worker as SageMaker training jobs, store = S3.

All jobs run one engine image and talk only through the experiment's prefix in the workshop
bucket, as the local processes do through a folder. SageMaker itself is the record of what was
started: job names are derived from the experiment id (``workshop_helpers.backends.aws.naming``),
so a re-run finds its jobs instead of duplicating them, from any machine.

* ``start_training`` prints the cost estimate first, then creates the trainer's job and one job
  per rollout worker. It refuses while a training of the experiment runs; after a completed
  training it starts nothing and says so; after a failed or stopped one it starts a new attempt
  (new job names) whose trainer resumes from the last checkpoint in S3.
* ``training_jobs`` applies the local runner's rules (``workshop_helpers.backends.aws.supervise``).
* ``logs`` reads CloudWatch (``/aws/sagemaker/TrainingJobs``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from botocore.exceptions import ClientError

from markov.formats.checkpoints import CheckpointPublisher, CheckpointReader
from markov.formats.layout import RunLayout
from markov.store import ModelStore
from markov.workers.polling import plan_for_url
from workshop_helpers.backends.aws.config import ONE_JOB, PREBUILT, AwsSettings, load_settings
from workshop_helpers.backends.aws.cost import UnknownInstanceType, estimate, training_requests
from workshop_helpers.backends.aws.image import check_image
from workshop_helpers.backends.aws.jobs import (
    JobSpec,
    create_job,
    evaluation_spec,
    request_body,
    training_specs,
)
from workshop_helpers.backends.aws.naming import EVALUATION, ROLLOUT, TRAINER, JobName, console_link
from workshop_helpers.backends.aws.quotas import QuotaExceeded, require_quotas
from workshop_helpers.backends.aws.session import (
    AwsContext,
    AwsSetupError,
    connect,
    error_code,
    explain,
)
from workshop_helpers.backends.aws.status import (
    JobInfo,
    describe,
    experiment_jobs,
    recent_log_lines,
)
from workshop_helpers.backends.aws.supervise import decide
from workshop_helpers.backends.base import (
    BackendError,
    EvaluationRequest,
    JobState,
    TrainingRequest,
    evaluation_ids,
)
from workshop_helpers.experiment import Experiment

STOP = "sagemaker:StopTrainingJob"
STOP_WAIT_S = 30.0
ONE_JOB_LOG_FACTOR = 20
"""In one-job mode a rollout worker's lines are read from this many times more job lines."""
POLL_S = 1.0


class AwsBackend:
    """Runs training and evaluation as SageMaker training jobs."""

    name = "aws"

    def __init__(
        self,
        settings: AwsSettings,
        context: AwsContext | None = None,
        printer: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.context = context or connect(settings.region, verify=False)
        self.printer = printer

    @classmethod
    def from_environment(cls) -> AwsBackend:
        """The backend described by DR_* / AWS_* variables or ``runs/aws.json``."""
        try:
            settings = load_settings()
            return cls(settings, connect(settings.region, verify=False))
        except AwsSetupError as error:
            raise BackendError(str(error)) from None

    @property
    def _sagemaker(self):
        return self.context.client("sagemaker")

    # ------------------------------------------------------------------ training
    def start_training(self, experiment: Experiment, request: TrainingRequest) -> list[JobState]:
        """Cost estimate, then the trainer's job and one job per rollout worker."""
        if request.num_workers < 1:
            raise BackendError(
                f"num_workers is {request.num_workers}; start at least one rollout worker."
            )
        store = self._store(experiment)
        attempt, current = self._current_attempt(experiment)
        if any(info.active for info in current):
            raise BackendError(
                f"Training of {experiment.id} is already running. Wait for it, or "
                "stop it with stop_training(experiment) before starting again."
            )
        trainer = next((info for info in current if info.job.kind == TRAINER), None)
        if trainer is not None and trainer.status == "Completed":
            self.printer(
                f"Training of {experiment.id} has already completed ({trainer.job.name}); no job "
                "was started. Its model is in S3. To train with other settings, create a new "
                "experiment with new_experiment()."
            )
            return self._states(experiment, current)
        layout = RunLayout(experiment.prefix)
        if not store.exists(layout.training_params):
            raise BackendError(
                f"{self.settings.store_url}/{layout.training_params} is missing: "
                "upload the run's inputs first (workshop_helpers.bundle.upload_run_inputs)."
            )
        self._check_image()
        next_attempt = attempt + 1 if current else 1
        try:
            specs = training_specs(experiment, self.settings, request, store, next_attempt)
        except ValueError as error:
            raise BackendError(str(error)) from None
        self._print_cost(specs)
        self._check_quotas(specs)
        if current:
            self.printer(
                f"The last training of {experiment.id} ended ({current[0].status}); starting "
                f"attempt {next_attempt}, whose trainer resumes from the last checkpoint in S3."
            )
        if not store.exists(layout.code_bundle):
            if self.settings.image_mode == PREBUILT:
                raise BackendError(
                    f"{self.settings.store_url}/{layout.code_bundle} is missing: the "
                    "prebuilt image runs the engine from it. Upload it with "
                    "workshop_helpers.bundle.upload_run_inputs."
                )
            self.printer(
                "No engine bundle in S3: the jobs run the engine built into the image, not your "
                "src/markov (upload_run_inputs uploads the bundle)."
            )
        CheckpointPublisher(store, experiment.prefix).clear_run_flags()
        self._create_all(experiment, specs)
        return [JobState(spec.job.label, "starting", spec.job.name) for spec in specs]

    def training_jobs(self, experiment: Experiment) -> list[JobState]:
        """The trainer first, then rollout-0, rollout-1, ... of the latest training attempt."""
        _, current = self._current_attempt(experiment)
        if not current:
            return []
        trainer, rollouts = current[0], current[1:]
        if trainer.job.kind != TRAINER:
            return self._states(experiment, current)
        finished = CheckpointReader(self._store(experiment), experiment.prefix).is_finished()
        decision = decide(trainer, rollouts, finished)
        if decision is not None:
            self.printer(
                f"Stopping {', '.join(job.job.label for job in decision.stop)}: {decision.reason}."
            )
            for info in decision.stop:
                self._stop(info.job)
            current = self._describe_all([info.job for info in current])
        return self._states(experiment, current)

    def stop_training(self, experiment: Experiment) -> list[JobState]:
        """Stop every running job of the latest training attempt and wait a little for it."""
        _, current = self._current_attempt(experiment)
        for info in current:
            if info.status == "InProgress":
                self._stop(info.job)
        deadline = time.monotonic() + STOP_WAIT_S
        while current and time.monotonic() < deadline:
            current = self._describe_all([info.job for info in current])
            if not any(info.active for info in current):
                break
            time.sleep(POLL_S)
        return self._states(experiment, current)

    # ------------------------------------------------------------------ evaluation
    def start_evaluations(
        self, experiment: Experiment, requests: list[EvaluationRequest]
    ) -> list[JobState]:
        """One SageMaker job per request, all started at once."""
        self._store(experiment)
        self._check_image()
        taken = {job.evaluation_id for job in self._jobs(experiment) if job.kind == EVALUATION}
        ids = evaluation_ids([request.evaluation_id for request in requests], taken)
        try:
            specs = [
                evaluation_spec(experiment, self.settings, request, evaluation_id)
                for request, evaluation_id in zip(requests, ids, strict=True)
            ]
        except ValueError as error:
            raise BackendError(str(error)) from None
        self._print_cost(specs)
        self._check_quotas(specs)
        self._create_all(experiment, specs)
        return [
            JobState(spec.job.label, "starting", spec.environment["WORLD_NAME"]) for spec in specs
        ]

    def evaluation_jobs(self, experiment: Experiment) -> list[JobState]:
        """Each evaluation's state, with its recorded trials."""
        store = self._store(experiment)
        jobs = [job for job in self._jobs(experiment) if job.kind == EVALUATION]
        states = []
        for info in self._describe_all(jobs):
            key = RunLayout(experiment.prefix).evaluation_metrics(info.job.evaluation_id)
            trials = len(store.get_json(key)["metrics"]) if store.exists(key) else 0
            wanted = info.environment.get("NUMBER_OF_TRIALS", "?")
            detail = f"{info.environment.get('WORLD_NAME', '?')}: {trials}/{wanted} trials"
            if info.failure_reason:
                detail += f"; {info.failure_reason}"
            states.append(JobState(info.job.label, info.state, detail))
        return states

    # ------------------------------------------------------------------ logs
    def logs(self, experiment: Experiment, job: str, lines: int = 40) -> str:
        """Recent CloudWatch lines of ``trainer`` (or ``training``), ``rollout-<i>`` or
        ``evaluation-<id>``."""
        label = "trainer" if job == "training" else job
        process = ""
        if label.startswith("rollout-") and self.settings.job_mode == ONE_JOB:
            label, process = "trainer", f"[{label}] "  # one job: the worker's prefixed lines
        target = self._find(experiment, label)
        wanted = lines * ONE_JOB_LOG_FACTOR if process else lines
        found = recent_log_lines(self.context.client("logs"), target.name, wanted)
        if found is not None and process:
            found = [line for line in found if line.startswith(process)][-lines:]
        if found is None:
            raise BackendError(
                f"No log for {job} ({target.name}) yet: SageMaker writes it once the job's "
                f"instance has started, a few minutes after the start. Console: "
                f"{console_link(self.settings.region, target.name)}"
            )
        return f"--- {target.name}\n" + "\n".join(found)

    # ------------------------------------------------------------------ helpers
    def _store(self, experiment: Experiment) -> ModelStore:
        if experiment.bucket != self.settings.bucket or not experiment.store_url.startswith(
            "s3://"
        ):
            raise BackendError(
                f"Experiment {experiment.id} keeps its files in {experiment.store_url}, but the "
                f"AWS set-up uses s3://{self.settings.bucket} (the only bucket the jobs may "
                "use). Create the experiment with the set-up's bucket, or set DR_AWS_BUCKET."
            )
        return experiment.open_store()

    def _jobs(self, experiment: Experiment) -> list[JobName]:
        try:
            return experiment_jobs(self._sagemaker, experiment.id)
        except AwsSetupError as error:
            raise BackendError(str(error)) from None

    def _describe_all(self, jobs: list[JobName]) -> list[JobInfo]:
        try:
            infos = [describe(self._sagemaker, job) for job in jobs]
        except AwsSetupError as error:
            raise BackendError(str(error)) from None
        return [info for info in infos if info is not None]

    def _current_attempt(self, experiment: Experiment) -> tuple[int, list[JobInfo]]:
        """The latest training attempt and its jobs (trainer first, rollouts by index)."""
        training = [job for job in self._jobs(experiment) if job.kind in (TRAINER, ROLLOUT)]
        if not training:
            return 0, []
        attempt = max(job.attempt for job in training)
        chosen = [job for job in training if job.attempt == attempt]
        chosen.sort(key=lambda job: (job.kind != TRAINER, job.index))
        return attempt, self._describe_all(chosen)

    def _find(self, experiment: Experiment, label: str) -> JobName:
        _, current = self._current_attempt(experiment)
        evaluations = [job for job in self._jobs(experiment) if job.kind == EVALUATION]
        for job in [info.job for info in current] + evaluations:
            if job.label == label:
                return job
        known = [info.job.label for info in current] + [job.label for job in evaluations]
        raise BackendError(
            f"{experiment.id} has no job {label!r}; its jobs are: {', '.join(known) or 'none'}."
        )

    def _states(self, experiment: Experiment, infos: list[JobInfo]) -> list[JobState]:
        """JobStates with the local backend's details: iterations done, then their duration."""
        states = []
        for info in infos:
            detail = info.detail
            if info.job.kind == TRAINER and info.state != "starting":
                detail = self._progress(experiment, info)
            if info.failure_reason:
                detail = f"{info.failure_reason} (logs: logs(experiment, '{info.job.label}'))"
            states.append(JobState(info.job.label, info.state, detail))
        return states

    @staticmethod
    def _progress(experiment: Experiment, trainer: JobInfo) -> str:
        store = experiment.open_store()
        key = RunLayout(experiment.prefix).trainer_log
        iterations = len(store.get_json(key)) if store.exists(key) else 0
        if trainer.active:
            return f"{iterations} iteration(s) done" if store.exists(key) else "starting workers"
        return f"{iterations} iterations in {trainer.seconds or 0:.0f} s"

    def _check_image(self) -> None:
        if self.settings.image_mode == PREBUILT:
            return  # AWS's own image, in another account's registry: nothing to check here
        try:
            check_image(self.context, self.settings.image_uri)
        except AwsSetupError as error:
            raise BackendError(str(error)) from None

    def _print_cost(self, specs: list[JobSpec]) -> None:
        longest = max(spec.max_runtime_s for spec in specs)
        requests = None
        if specs[0].job.kind == TRAINER:
            environment = specs[0].environment
            requests = training_requests(
                int(environment.get("NUM_WORKERS", "1")),
                longest,
                plan_for_url(self.settings.store_url, environment),
                environment.get("LIVE_FRAMES", "true").lower() != "false",
            )
        try:
            cost = estimate(
                self.settings.instance_type,
                len(specs),
                longest,
                requests=requests,
                spot=self.settings.use_spot,
            )
            self.printer(str(cost))
        except UnknownInstanceType as error:
            self.printer(f"Cost estimate unavailable: {error}")

    def _check_quotas(self, specs: list[JobSpec]) -> None:
        """Refuse before anything starts when the account's quota cannot run every job."""
        needed = Counter(spec.instance_type or self.settings.instance_type for spec in specs)
        try:
            checks = require_quotas(self.context, needed, self.settings.use_spot)
        except QuotaExceeded as error:
            raise BackendError(str(error)) from None
        for check in checks:
            if check.limit is None:
                self.printer(f"Quota check for {check.instance_type} skipped: {check.note}.")

    def _create_all(self, experiment: Experiment, specs: list[JobSpec]) -> None:
        """Create every job; if one cannot be created, stop those this call started."""
        started: list[JobName] = []
        for spec in specs:
            try:
                created = create_job(self._sagemaker, request_body(spec, self.settings, experiment))
            except AwsSetupError as error:
                for job in started:
                    self._stop(job)
                stopped = f" (stopped {', '.join(j.name for j in started)})" if started else ""
                raise BackendError(f"{error}{stopped}") from None
            if created:
                started.append(spec.job)
            else:
                self.printer(f"{spec.job.name} exists already; it was not started again.")
        for spec in specs:
            link = console_link(self.settings.region, spec.job.name)
            self.printer(f"  {spec.job.label:<22} {spec.job.name}  {link}")

    def _stop(self, job: JobName) -> None:
        try:
            self._sagemaker.stop_training_job(TrainingJobName=job.name)
        except ClientError as error:
            if error_code(error) != "ValidationException":  # it ended in the meantime
                self.printer(f"Could not stop {job.name}: {explain(error, STOP, 'stop it')}")
