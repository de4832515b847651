"""Create an experiment's SageMaker training jobs with plain boto3 ``create_training_job``.

Every job runs ``markov.runners.job`` with SageMaker's ``train`` argument, the worker in
``DR_WORKER`` and the simapp's environment variables; the DeepRacer-on-AWS hyperparameter names
carry the same run description for the console (``markov.runners.job`` maps them; the
environment wins). In prebuilt-image mode the hyperparameters also name the submitted code
(``workshop_helpers.backends.aws.images``).

One-job mode (default) starts one job (``<stem>-trainer``) running the trainer and every rollout
worker; multi-job mode starts the trainer's job and one job per rollout worker. Every job of a
training gets the same wall-clock deadline (``markov.runners.deadline``) and MaxRuntimeInSeconds =
the time to that deadline plus a margin; every job carries the experiment's tags.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from markov.formats.layout import RunLayout
from markov.formats.run_inputs import (
    params_key_of_worker,
    read_params,
)
from markov.runners.deadline import DEADLINE_VARIABLE, EXPORT_MARGIN_S
from markov.runners.one_job import own_worker_params, worker_envs
from markov.store import ModelStore
from workshop_helpers.backends.aws.config import ONE_JOB, AwsSettings
from workshop_helpers.backends.aws.images import submitted_code
from workshop_helpers.backends.aws.naming import (
    JobName,
    evaluation_job,
    rollout_job,
    tags,
    trainer_job,
)
from workshop_helpers.backends.aws.session import AwsSetupError, error_code, explain
from workshop_helpers.backends.base import (
    EvaluationRequest,
    TrainingRequest,
    evaluation_job_params,
    write_evaluation_params,
)
from workshop_helpers.experiment import Experiment

VOLUME_GB = 30
STARTUP_ALLOWANCE_S = 420
"""Time allowed for the jobs' instances to start and fetch the code, before training."""
RUNTIME_BACKSTOP_S = 120
"""MaxRuntimeInSeconds reaches this far past the shared deadline (a backstop only)."""
DEFAULT_TRAINING_S = 3600
EVALUATION_RUNTIME_S = 1800
ROLLOUT_READY_TIMEOUT_S = 1800
"""How long a rollout job waits for the trainer's first checkpoint (jobs start minutes apart)."""
SPOT_WAIT_FACTOR = 2
"""Managed Spot: MaxWaitTimeInSeconds = this x MaxRuntimeInSeconds (room for interruptions)."""


@dataclass(frozen=True)
class JobSpec:
    """One job to create: its name, worker, instance type, environment and limits."""

    job: JobName
    worker: str
    environment: dict[str, str]
    hyperparameters: dict[str, str]
    max_runtime_s: int
    instance_type: str = ""


@dataclass(frozen=True)
class TimeLimits:
    """A training's time budget, its shared deadline and its jobs' MaxRuntimeInSeconds."""

    training_s: int
    deadline: float
    max_runtime_s: int
    max_wait_s: int | None


def time_limits(request: TrainingRequest, settings: AwsSettings, now: float) -> TimeLimits:
    """The limits of a training attempt submitted at ``now`` (Unix seconds)."""
    training = int(request.max_time_s or DEFAULT_TRAINING_S)
    overhead = STARTUP_ALLOWANCE_S + int(EXPORT_MARGIN_S)
    if settings.max_runtime_s is None:
        runtime = training + overhead + RUNTIME_BACKSTOP_S
    else:
        runtime = settings.max_runtime_s
        training = min(training, max(runtime - overhead - RUNTIME_BACKSTOP_S, runtime // 2))
    max_wait = SPOT_WAIT_FACTOR * runtime if settings.use_spot else None
    window = max_wait if max_wait is not None else runtime
    return TimeLimits(training, now + window - RUNTIME_BACKSTOP_S, runtime, max_wait)


def training_specs(
    experiment: Experiment,
    settings: AwsSettings,
    request: TrainingRequest,
    store: ModelStore,
    attempt: int,
    now: float | None = None,
) -> list[JobSpec]:
    """The training's jobs: one (one-job mode) or the trainer's plus one per rollout worker."""
    prefix = experiment.prefix
    main_yaml = RunLayout(prefix).training_params
    limits = time_limits(request, settings, time.time() if now is None else now)
    runtime_s = limits.max_runtime_s
    shared = {DEADLINE_VARIABLE: f"{limits.deadline:.0f}"}
    trainer_env = {**shared, "MAX_TRAINING_TIME_S": str(limits.training_s)}
    if request.stop_at_eval_progress is not None:
        trainer_env["STOP_ON_EVAL_PROGRESS"] = str(request.stop_at_eval_progress)
    one_job = settings.job_mode == ONE_JOB
    if one_job:
        trainer_env["READY_TIMEOUT_S"] = str(ROLLOUT_READY_TIMEOUT_S)
    specs = [
        _training_spec(
            trainer_job(experiment.id, attempt),
            "one_job" if one_job else "training_worker",
            experiment,
            settings,
            request,
            store,
            main_yaml,
            trainer_env,
            runtime_s,
        )
    ]
    for index in range(0 if one_job else request.num_workers):
        yaml_key = params_key_of_worker(store, prefix, index)
        extra = {
            **shared,
            "ROLLOUT_IDX": str(index),
            "READY_TIMEOUT_S": str(ROLLOUT_READY_TIMEOUT_S),
        }
        specs.append(
            _training_spec(
                rollout_job(experiment.id, index, attempt),
                "rollout_worker",
                experiment,
                settings,
                request,
                store,
                yaml_key,
                extra,
                runtime_s,
            )
        )
    return specs


def worker_environments(
    experiment: Experiment,
    settings: AwsSettings,
    request: TrainingRequest,
    store: ModelStore,
    now: float | None = None,
) -> dict[str, dict[str, str]]:
    """What each process of the training starts with (``trainer``, ``rollout-<ROLLOUT_IDX>``):
    in multi-job mode each job's Environment, in one-job mode the one job's Environment as
    ``markov.runners.one_job`` hands it to each of its processes. Built by ``training_specs``, the
    code that creates the jobs."""
    specs = training_specs(experiment, settings, request, store, attempt=1, now=now)
    if settings.job_mode == ONE_JOB:
        own = own_worker_params(store, experiment.prefix, request.num_workers)
        return dict(worker_envs(specs[0].environment, own))
    return {spec.job.label: dict(spec.environment) for spec in specs}


def _training_spec(
    job: JobName,
    worker: str,
    experiment: Experiment,
    settings: AwsSettings,
    request: TrainingRequest,
    store: ModelStore,
    yaml_key: str,
    extra: Mapping[str, str],
    runtime_s: int,
) -> JobSpec:
    prefix = experiment.prefix
    params = read_params(store, yaml_key)
    world = params.get("WORLD_NAME") or experiment.world_name
    layout = RunLayout(prefix)
    metadata_key = params.get("MODEL_METADATA_FILE_S3_KEY") or layout.model_metadata
    environment = {
        "SAGEMAKER_SHARED_S3_BUCKET": settings.bucket,
        "SAGEMAKER_SHARED_S3_PREFIX": prefix,
        "S3_YAML_NAME": yaml_key,
        "NUM_WORKERS": str(request.num_workers),
        "WORLD_NAME": world,
        "MODEL_METADATA_FILE_S3_KEY": metadata_key,
        "APP_REGION": settings.region,
        "BUNDLE_S3_KEY": layout.code_bundle,
        "DR_WORKER": worker,
        **extra,
        **{key: str(value) for key, value in request.extra_env.items()},
    }
    hyperparameters = {
        "s3_bucket": settings.bucket,
        "s3_prefix": prefix,
        "s3_yaml_name": yaml_key.rsplit("/", 1)[-1],
        "world_name": world,
        "aws_region": settings.region,
        "model_metadata_s3_key": metadata_key,
        "num_workers": str(request.num_workers),
    }
    if "ROLLOUT_IDX" in extra:
        hyperparameters["rollout_idx"] = extra["ROLLOUT_IDX"]
    hyperparameters.update(submitted_code(settings, layout.code_bundle))
    instance = settings.rollout_instance if worker == "rollout_worker" else settings.instance_type
    return JobSpec(job, worker, environment, hyperparameters, runtime_s, instance)


def evaluation_spec(
    experiment: Experiment,
    settings: AwsSettings,
    request: EvaluationRequest,
    evaluation_id: str,
) -> JobSpec:
    """The job of one evaluation (``markov.workers.evaluation``'s environment variables)."""
    environment = {
        "MODEL_STORE_URL": settings.store_url,
        # every evaluation setting travels in the job's own YAML, as on the local backend
        "S3_YAML_NAME": write_evaluation_params(
            experiment, evaluation_id, evaluation_job_params(request)
        ),
        "EVALUATION_ID": evaluation_id,
        "WORLD_NAME": request.world_name,  # the same values as the YAML's, for the console
        "NUMBER_OF_TRIALS": str(request.number_of_trials),
        "APP_REGION": settings.region,
        "BUNDLE_S3_KEY": RunLayout(experiment.prefix).code_bundle,
        "DR_WORKER": "evaluation_worker",
    }
    hyperparameters = {
        "s3_bucket": settings.bucket,
        "s3_prefix": experiment.prefix,
        "world_name": request.world_name,
        "aws_region": settings.region,
        **submitted_code(settings, RunLayout(experiment.prefix).code_bundle),
    }
    runtime = settings.max_runtime_s or EVALUATION_RUNTIME_S
    job = evaluation_job(experiment.id, evaluation_id)
    return JobSpec(
        job, "evaluation_worker", environment, hyperparameters, runtime, settings.instance_type
    )


def request_body(spec: JobSpec, settings: AwsSettings, experiment: Experiment) -> dict[str, Any]:
    """The ``create_training_job`` arguments of one job."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": spec.max_runtime_s}
    spot: dict[str, Any] = {}
    if settings.use_spot:
        stopping["MaxWaitTimeInSeconds"] = SPOT_WAIT_FACTOR * spec.max_runtime_s
        spot = {"EnableManagedSpotTraining": True}
    return {
        "TrainingJobName": spec.job.name,
        "RoleArn": settings.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": settings.image_uri,
            "TrainingInputMode": "File",
        },
        "HyperParameters": spec.hyperparameters,
        "Environment": spec.environment,
        "OutputDataConfig": {
            "S3OutputPath": f"{settings.store_url}/{RunLayout(experiment.prefix).sagemaker_output}"
        },
        "ResourceConfig": {
            "InstanceType": spec.instance_type or settings.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": VOLUME_GB,
        },
        "StoppingCondition": stopping,
        "Tags": tags(experiment.id, spec.job),
        **spot,
    }


def create_job(sagemaker: Any, body: dict[str, Any]) -> bool:
    """Create the job; False when a job of that name exists already (nothing is duplicated)."""
    name = body["TrainingJobName"]
    try:
        sagemaker.create_training_job(**body)
    except ClientError as error:
        code = error_code(error)
        text = error.response.get("Error", {}).get("Message", "")
        if code == "ResourceInUse":
            return False
        if code == "ResourceLimitExceeded":
            raise AwsSetupError(
                f"SageMaker refused {name}: your account's quota for "
                f"{body['ResourceConfig']['InstanceType']} training instances is used up ({text}). "
                "Use fewer rollout workers, stop other jobs, or ask for more in Service Quotas "
                "(SageMaker, '<instance type> for training job usage')."
            ) from None
        if code == "ValidationException" and "assume" in text.lower():
            raise AwsSetupError(
                f"SageMaker could not assume the role {body['RoleArn']} for {name}. A role created "
                "a few seconds ago may need a minute to become usable: run the cell again. "
                "Otherwise check DR_AWS_ROLE_ARN and that the role trusts sagemaker.amazonaws.com."
            ) from None
        raise AwsSetupError(
            explain(
                error,
                "sagemaker:CreateTrainingJob and iam:PassRole",
                f"start the SageMaker job {name}",
            )
        ) from None
    return True
