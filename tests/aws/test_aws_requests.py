"""Every request the AWS backend makes fits botocore's service model, constraints included.

botocore and moto skip the ``pattern``/``max``/enum constraints that AWS enforces
(tests/aws/strict_requests.py); these tests run the backend with worst-case names (the longest
experiment name, 12 rollout workers, later attempts, the longest evaluation id, Spot and
multi-job mode) and check every request it made, and build the requests of names at their
limits directly. The AWS test modules check their own requests the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from aws_experiments import Aws, fresh_account, prepared_experiment
from strict_requests import client_violations

from workshop_helpers.backends import BackendError, EvaluationRequest, TrainingRequest
from workshop_helpers.backends.aws.backend import AwsBackend
from workshop_helpers.backends.aws.cleanup import stop_jobs_and_delete
from workshop_helpers.backends.aws.config import MULTI_JOB, AwsSettings
from workshop_helpers.backends.aws.jobs import evaluation_spec, request_body
from workshop_helpers.backends.aws.naming import evaluation_job, job_stem, rollout_job, trainer_job
from workshop_helpers.backends.aws.permissions import job_policy, trust_policy
from workshop_helpers.backends.aws.session import connect, known_regions
from workshop_helpers.backends.aws.setup import default_bucket_name, role_name, setup_workshop
from workshop_helpers.experiment import MAX_NAME_LENGTH, Experiment

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("requests_fit_the_model")]

LONGEST_NAME = ("Worst-case-" * 4)[:MAX_NAME_LENGTH]
LONGEST_ID = f"{LONGEST_NAME}-20261231-235959-ffff"
# evaluations are named by their start time (YYYYmmddHHMMSS), as the metrics keys require
LONGEST_EVALUATION_ID = "99991231235959"
"""The longest id a job name allows (evaluation files need the 14-digit stamp form)."""
STAMP_EVALUATION_ID = "99991231235959"
WORKERS = 12
ACCOUNT = "123456789012"
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
EXPECTED = {
    ("sagemaker", "CreateTrainingJob"),
    ("sagemaker", "DescribeTrainingJob"),
    ("sagemaker", "StopTrainingJob"),
    ("sagemaker", "ListTrainingJobs"),
    ("service-quotas", "ListServiceQuotas"),
    ("logs", "DescribeLogStreams"),
    ("s3", "PutObject"),
    ("s3", "ListObjectsV2"),
    ("s3", "DeleteObjects"),
    ("iam", "DeleteRolePolicy"),
    ("iam", "DeleteRole"),
}


@pytest.fixture(scope="module")
def worst(aws_harness, tmp_path_factory) -> Iterator[Aws]:
    """The default set-up in a fresh moto account; jobs stay InProgress until stopped."""
    with fresh_account(aws_harness, str(tmp_path_factory.mktemp("runs"))) as patch:
        report = setup_workshop(printer=lambda _line: None)
        patch.setattr(aws_harness, "idle", True)
        yield Aws(aws_harness, report.settings, [])


@pytest.mark.parametrize(
    ("job_mode", "removal"),
    [
        ("one-job", {"delete_data": "experiments"}),
        (MULTI_JOB, {"delete_data": "all", "delete_role": True}),  # last: removes the set-up
    ],
)
def test_a_worst_case_training_makes_only_requests_aws_accepts(
    worst, strict_requests, job_mode, removal
) -> None:
    settings = replace(
        worst.settings, job_mode=job_mode, use_spot=True, rollout_instance_type="ml.c5.xlarge"
    )
    experiment = prepared_experiment(worst, LONGEST_NAME, workers=WORKERS)
    assert len(experiment.id) == len(LONGEST_ID)
    backend = AwsBackend(settings, printer=worst.printed.append)
    request = TrainingRequest(num_workers=WORKERS, max_time_s=3600, stop_at_eval_progress=100.0)
    for attempt in (1, 2):
        started = backend.start_training(experiment, request)
        assert len(started) == (1 if job_mode == "one-job" else 1 + WORKERS)
        assert started[0].detail.endswith("-trainer" if attempt == 1 else "-trainer-a2")
        backend.training_jobs(experiment)
        last = "trainer" if job_mode == "one-job" else f"rollout-{WORKERS - 1}"
        try:
            backend.logs(experiment, last)
        except BackendError as error:  # no log line yet: the idle job printed nothing
            assert "No log" in str(error)
        assert {state.state for state in backend.stop_training(experiment)} == {"stopped"}
    assert any("starting attempt 2" in line for line in worst.printed)
    backend.start_evaluations(
        experiment, [EvaluationRequest("Workshop_Oval", 3, evaluation_id=STAMP_EVALUATION_ID)]
    )
    backend.evaluation_jobs(experiment)
    context = connect(settings.region)
    report = stop_jobs_and_delete(context, settings, [experiment], **removal)
    assert report.failed == [], str(report)
    seen = strict_requests.operations()
    expected = EXPECTED if removal.get("delete_role") else {e for e in EXPECTED if e[0] != "iam"}
    assert expected <= seen, f"not exercised: {sorted(expected - seen)}"
    assert strict_requests.take_problems() == []


def _experiment() -> Experiment:
    bucket = default_bucket_name(ACCOUNT, "us-east-1")
    return Experiment(LONGEST_ID, "aws", f"s3://{bucket}", LONGEST_ID, "Workshop_Oval")


def _with_bucket(experiment: Experiment) -> Experiment:
    """An evaluation's spec writes the job's YAML to the store: its bucket must exist."""
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = experiment.store_url.removeprefix("s3://").split("/")[0]
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    return experiment


def test_job_names_at_their_limits_fit_the_model(worst) -> None:
    sagemaker = boto3.client("sagemaker")
    experiment = _with_bucket(
        Experiment(LONGEST_ID, "aws", worst.settings.store_url, LONGEST_ID, "Workshop_Oval")
    )
    names = [
        trainer_job(LONGEST_ID, 10_000).name,
        rollout_job(LONGEST_ID, WORKERS - 1, 10_000).name,
        evaluation_job(LONGEST_ID, LONGEST_EVALUATION_ID).name,
    ]
    for name in names:
        assert not client_violations(sagemaker, "DescribeTrainingJob", {"TrainingJobName": name})
        assert not client_violations(sagemaker, "StopTrainingJob", {"TrainingJobName": name})
    listing = {"NameContains": job_stem(LONGEST_ID)}
    assert not client_violations(sagemaker, "ListTrainingJobs", listing)
    settings = replace(worst.settings, use_spot=True, job_mode=MULTI_JOB)
    spec = evaluation_spec(
        experiment,
        settings,
        EvaluationRequest("Workshop_Oval", 3),
        LONGEST_EVALUATION_ID,
    )
    body = request_body(spec, settings, experiment)
    assert not client_violations(sagemaker, "CreateTrainingJob", body)


def test_the_set_up_names_fit_the_model_in_every_sagemaker_region() -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    for region in known_regions(boto3.Session()):
        bucket = default_bucket_name(ACCOUNT, region)
        assert BUCKET_NAME.fullmatch(bucket) and ".." not in bucket, bucket
        assert not client_violations(s3, "CreateBucket", {"Bucket": bucket})
        create = {
            "RoleName": role_name(region),
            "AssumeRolePolicyDocument": json.dumps(trust_policy()),
            "Description": "Runs the DeepRacer workshop's SageMaker training jobs",
        }
        assert not client_violations(iam, "CreateRole", create), region
        policy = job_policy(bucket, region, ACCOUNT, None)
        put = {
            "RoleName": role_name(region),
            "PolicyName": "deepracer-workshop-jobs",
            "PolicyDocument": json.dumps(policy),
        }
        assert not client_violations(iam, "PutRolePolicy", put), region


def test_the_validator_refuses_what_botocore_lets_through() -> None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    settings = AwsSettings("us-east-1", "b", f"arn:aws:iam::{ACCOUNT}:role/r", "i")
    experiment = _with_bucket(_experiment())
    body = request_body(
        replace(
            evaluation_spec(
                experiment, settings, EvaluationRequest("Workshop_Oval", 1), "20261206000000"
            ),
            job=replace(trainer_job(LONGEST_ID), name="x" * 70 + "_y"),
        ),
        settings,
        experiment,
    )
    problems = client_violations(sagemaker, "CreateTrainingJob", body)
    assert any("TrainingJobName: length 72 is above the maximum 63" in p for p in problems)
    assert any("does not match the pattern" in p for p in problems)
