"""The AWS backend against a moto server whose SageMaker jobs run as local processes.

Each job runs the engine image's entry point (``markov.runners.job``) with the job's own
environment, so these tests cover the whole contract: set-up, upload, trainer and rollout jobs
synchronising through S3, states, logs, stops, evaluations and clean-up (tests/aws/aws_harness.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import boto3
import pytest
from aws_experiments import JOB_TIMEOUT_S, TRACK, prepared_experiment, wait_until_done
from moto import settings as moto_settings

from workshop_helpers.backends import (
    BackendError,
    EvaluationRequest,
    JobState,
    TrainingRequest,
    get_backend,
)
from workshop_helpers.backends.aws.backend import AwsBackend
from workshop_helpers.backends.aws.cleanup import stop_jobs_and_delete
from workshop_helpers.backends.aws.config import load_settings
from workshop_helpers.backends.aws.cost import HOURLY_USD, UnknownInstanceType, estimate
from workshop_helpers.backends.aws.image import image_tag
from workshop_helpers.backends.aws.naming import EXPERIMENT_TAG, job_stem
from workshop_helpers.backends.aws.session import AwsSetupError, connect
from workshop_helpers.backends.aws.setup import setup_workshop
from workshop_helpers.bundle import upload_run_inputs
from workshop_helpers.evaluations import evaluation_table, start_evaluations, wait_for_evaluations
from workshop_helpers.experiment import Experiment, new_experiment
from workshop_helpers.model_config import load_action_preset, write_model_metadata
from workshop_helpers.reward import load_reward_example, write_reward_function
from workshop_helpers.training import training_metrics

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("requests_fit_the_model")]

RUNTIME_S = JOB_TIMEOUT_S + 420 + 180 + 120
"""MaxRuntimeInSeconds of such a training: start-up allowance, export margin and backstop."""


def job_names(experiment: Experiment) -> list[str]:
    """The experiment's training job names in SageMaker (evaluations left out)."""
    summaries = boto3.client("sagemaker").list_training_jobs(NameContains=job_stem(experiment.id))
    names = [job["TrainingJobName"] for job in summaries["TrainingJobSummaries"]]
    return sorted(name for name in names if "-eval-" not in name)


@dataclass
class Trained:
    experiment: Experiment
    history: list[list[JobState]]
    refusal: str
    started: list[JobState]
    printed: list[str]


@pytest.fixture(scope="module")
def trained(aws) -> Trained:
    """A complete tiny training on AWS: trainer + 2 rollout jobs, 2 iterations."""
    experiment = prepared_experiment(aws, "tiny")
    backend = aws.backend()
    request = TrainingRequest(num_workers=2, max_time_s=JOB_TIMEOUT_S)
    started = backend.start_training(experiment, request)
    with pytest.raises(BackendError) as refused:
        backend.start_training(experiment, request)
    history = wait_until_done(backend, experiment)
    return Trained(experiment, history, str(refused.value), started, list(aws.printed))


# ------------------------------------------------------------------ set-up
def test_setup_is_idempotent(aws) -> None:
    iam, s3 = boto3.client("iam"), boto3.client("s3")
    roles = len(iam.list_roles()["Roles"])
    buckets = len(s3.list_buckets()["Buckets"])
    again = setup_workshop(image_uri=aws.settings.image_uri)
    assert again.created == []
    assert again.settings == aws.settings == load_settings()
    assert len(iam.list_roles()["Roles"]) == roles
    assert len(s3.list_buckets()["Buckets"]) == buckets


def test_the_jobs_role_trusts_sagemaker_and_reaches_only_the_workshop_bucket(aws) -> None:
    iam = boto3.client("iam")
    name = aws.settings.role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    policy = iam.get_role_policy(RoleName=name, PolicyName="deepracer-workshop-jobs")
    s3_resources = {
        resource
        for statement in policy["PolicyDocument"]["Statement"]
        for resource in [statement["Resource"]]
        if any(action.startswith("s3:") for action in [statement["Action"]][0])
    }
    bucket = aws.settings.bucket
    assert s3_resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


def test_a_bucket_name_taken_by_another_account_is_explained(aws, aws_harness) -> None:
    credentials = boto3.client("sts").assume_role(
        RoleArn="arn:aws:iam::111122223333:role/someone-else", RoleSessionName="other-account"
    )["Credentials"]
    boto3.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).create_bucket(Bucket="deepracer-taken-name")
    with pytest.raises(AwsSetupError, match=r"(?s)taken by another AWS account.*DR_AWS_BUCKET"):
        setup_workshop(bucket="deepracer-taken-name", image_uri=aws.settings.image_uri)


def test_missing_credentials_are_explained(aws, monkeypatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AwsSetupError, match=r"(?s)No AWS credentials found.*aws configure"):
        setup_workshop(image_uri=aws.settings.image_uri)


def test_a_region_without_sagemaker_is_explained(aws, monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-9")
    with pytest.raises(AwsSetupError, match=r"(?s)'us-east-9' is not a region.*AWS_DEFAULT_REGION"):
        connect()


def test_an_image_that_does_not_exist_is_explained(aws) -> None:
    missing_tag = aws.settings.image_uri.rsplit(":", 1)[0] + ":nope"
    with pytest.raises(
        AwsSetupError, match=r"(?s)does not exist.*has no image 'nope'.*it has: test"
    ):
        setup_workshop(image_uri=missing_tag)
    account = aws.settings.image_uri.split(".", 1)[0]
    other_repository = f"{account}.dkr.ecr.us-east-1.amazonaws.com/not-pushed:v1"
    with pytest.raises(AwsSetupError, match="no ECR repository 'not-pushed'"):
        setup_workshop(image_uri=other_repository)
    with pytest.raises(AwsSetupError, match=r"not (an Amazon ECR image|in Amazon ECR)"):
        setup_workshop(image_uri="docker.io/library/python:3.11")


def test_engine_mode_without_docker_says_how_to_pass_a_pushed_image(aws) -> None:
    class NoDocker:
        def available(self) -> bool:
            return False

        def build_and_push(self, *args: object) -> None:
            raise AssertionError("must not build without Docker")

    with pytest.raises(AwsSetupError, match=r"(?s)Docker is not.*docker push.*DR_IMAGE_URI="):
        setup_workshop(image_mode="engine", builder=NoDocker())


def test_where_docker_runs_setup_builds_and_pushes_the_image_once(aws) -> None:
    pushed: list[tuple[str, str]] = []

    class FakeDocker:
        def available(self) -> bool:
            return True

        def build_and_push(self, uri: str, context_dir, username: str, password: str) -> None:
            pushed.append((uri, username))
            repository, tag = uri.rsplit("/", 1)[1].split(":")
            aws.harness.push_image(repository, tag)

    first = setup_workshop(image_mode="engine", builder=FakeDocker())
    again = setup_workshop(image_mode="engine", builder=FakeDocker())
    assert pushed == [(first.settings.image_uri, "AWS")]
    assert again.settings.image_uri == first.settings.image_uri
    assert first.settings.image_uri.endswith(f"/sagemaker-deepracer-workshop:{image_tag()}")
    setup_workshop(image_uri=aws.settings.image_uri)  # back to the module's image


def test_a_missing_iam_permission_is_named(aws, monkeypatch) -> None:
    iam = boto3.client("iam")
    iam.create_user(UserName="learner")
    iam.put_user_policy(
        UserName="learner",
        PolicyName="no-iam",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:*", "ecr:*", "sts:*"], "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="learner")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    with pytest.raises(AwsSetupError) as error:
        setup_workshop(bucket="learner-bucket", image_uri=aws.settings.image_uri)
    message = str(error.value)
    assert "lacks iam:GetRole" in message and "On AWS" in message
    assert key["SecretAccessKey"] not in message


def test_a_notebook_role_with_the_needed_permissions_is_reused(aws, monkeypatch) -> None:
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    bucket = aws.settings.bucket
    grants = {
        "able": [
            {
                "Effect": "Allow",
                "Action": ["s3:*", "ecr:*", "logs:*", "cloudwatch:*"],
                "Resource": "*",
            }
        ],
        "unable": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ],
    }
    chosen = {}
    for name, statements in grants.items():
        role = iam.create_role(
            RoleName=f"notebook-{name}", AssumeRolePolicyDocument=json.dumps(trust)
        )
        iam.put_role_policy(
            RoleName=f"notebook-{name}",
            PolicyName="notebook",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        credentials = boto3.client("sts").assume_role(
            RoleArn=role["Role"]["Arn"], RoleSessionName="notebook-session"
        )["Credentials"]
        with monkeypatch.context() as patch:
            patch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
            patch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
            patch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
            report = setup_workshop(image_uri=aws.settings.image_uri)
        chosen[name] = (report.settings.role_arn, "\n".join(report.found + report.created))
    assert chosen["able"][0] == "arn:aws:iam::123456789012:role/notebook-able"
    assert chosen["unable"][0] == aws.settings.role_arn
    assert "notebook-unable lacks" in chosen["unable"][1] and "s3:PutObject" in chosen["unable"][1]
    assert load_settings() == aws.settings  # the last set-up chose the workshop's own role


def test_backend_settings_come_from_the_saved_setup_and_env_overrides(aws, monkeypatch) -> None:
    assert load_settings() == aws.settings
    monkeypatch.setenv("DR_INSTANCE_TYPE", "ml.c5.4xlarge")
    monkeypatch.setenv("DR_MAX_RUNTIME_S", "1200")
    assert AwsBackend.from_environment().settings.instance_type == "ml.c5.4xlarge"
    assert load_settings().max_runtime_s == 1200
    monkeypatch.setenv("DR_MAX_RUNTIME_S", "soon")
    with pytest.raises(BackendError, match="DR_MAX_RUNTIME_S is 'soon'"):
        AwsBackend.from_environment()


# ------------------------------------------------------------------ cost
def test_cost_estimate_is_count_times_hours_times_price() -> None:
    cost = estimate("ml.c5.2xlarge", 3, 5400)
    assert cost.total_usd == pytest.approx(3 * 1.5 * HOURLY_USD["ml.c5.2xlarge"])
    assert "at most $1.84" in str(cost) and "prices as of" in str(cost)
    with pytest.raises(UnknownInstanceType, match=r"(?s)ml.p5.48xlarge.*DR_INSTANCE_TYPE"):
        estimate("ml.p5.48xlarge", 1, 3600)


# ------------------------------------------------------------------ training
def test_training_goes_from_running_to_completed(trained) -> None:
    assert [state.name for state in trained.started] == ["trainer", "rollout-0", "rollout-1"]
    first, last = trained.history[0], trained.history[-1]
    assert {state.state for state in first} <= {"starting", "running"}
    assert [(state.name, state.state) for state in last] == [
        ("trainer", "completed"),
        ("rollout-0", "completed"),
        ("rollout-1", "completed"),
    ]
    assert re.fullmatch(r"2 iterations in \d+ s", last[0].detail)


def test_the_cost_estimate_and_console_links_come_before_the_jobs(trained) -> None:
    cost = next(line for line in trained.printed if line.startswith("Cost estimate"))
    expected = 3 * RUNTIME_S / 3600 * HOURLY_USD["ml.c5.2xlarge"]
    assert f"at most ${expected:.2f}" in cost
    links = [line for line in trained.printed if "console.aws.amazon.com" in line]
    assert len(links) == 3
    assert trained.printed.index(cost) < trained.printed.index(links[0])
    assert "us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/" in links[0]


def test_the_model_in_s3_has_checkpoint_2_and_readable_metrics(trained) -> None:
    store = trained.experiment.open_store()
    pointer = store.get_text(f"{trained.experiment.prefix}/model/.coach_checkpoint").strip()
    assert re.fullmatch(r"2_Step-\d+\.ckpt", pointer)
    rows = training_metrics(trained.experiment)
    assert {row["phase"] for row in rows} == {"training", "evaluation"}
    assert training_metrics(trained.experiment, worker=1)


def test_the_jobs_ran_the_uploaded_bundle_and_their_logs_are_readable(aws, trained) -> None:
    log = aws.backend().logs(trained.experiment, "trainer", lines=200)
    assert "running markov from the bundle" in log
    assert "Checkpoint> Saving in path=" in log
    assert "Worker=1" in aws.backend().logs(trained.experiment, "rollout-1")


def test_every_job_has_a_time_limit_and_the_experiment_tag(trained) -> None:
    sagemaker = boto3.client("sagemaker")
    names = job_names(trained.experiment)
    assert len(names) == 3
    for name in names:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == RUNTIME_S
        tags = sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
        assert {"Key": EXPERIMENT_TAG, "Value": trained.experiment.id} in tags


def test_starting_again_while_running_is_refused(trained) -> None:
    assert "already running" in trained.refusal and "stop_training" in trained.refusal


def test_starting_again_after_completion_starts_nothing_and_says_so(aws, trained) -> None:
    before = job_names(trained.experiment)
    aws.printed.clear()
    states = aws.backend().start_training(trained.experiment, TrainingRequest(num_workers=2))
    assert job_names(trained.experiment) == before
    assert [state.state for state in states] == ["completed"] * 3
    assert any("already completed" in line for line in aws.printed)


def test_a_rollout_job_that_dies_does_not_stop_training(aws) -> None:
    experiment = prepared_experiment(aws, "one-dies")
    backend = aws.backend()
    request = TrainingRequest(
        num_workers=2, max_time_s=JOB_TIMEOUT_S, extra_env={"ROLLOUT_TIMEOUT_S": "2"}
    )
    backend.start_training(experiment, request)
    aws.harness.kill(f"{job_stem(experiment.id)}-rollout-1")
    final = {state.name: state for state in wait_until_done(backend, experiment)[-1]}
    assert final["rollout-1"].state == "failed"
    assert final["trainer"].state == "completed"
    pointer = experiment.open_store().get_text(f"{experiment.prefix}/model/.coach_checkpoint")
    assert pointer.startswith("2_Step-")


def test_when_the_trainer_dies_its_rollout_jobs_are_stopped(aws) -> None:
    experiment = prepared_experiment(aws, "trainer-dies")
    backend = aws.backend()
    backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=JOB_TIMEOUT_S))
    trainer = f"{job_stem(experiment.id)}-trainer"
    aws.harness.kill(trainer)
    aws.harness.wait_until_done(trainer, JOB_TIMEOUT_S)
    final = {state.name: state.state for state in wait_until_done(backend, experiment)[-1]}
    assert final == {"trainer": "failed", "rollout-0": "stopped", "rollout-1": "stopped"}


def test_stop_training_stops_every_job_and_a_restart_is_a_new_attempt(aws) -> None:
    experiment = prepared_experiment(aws, "stopped")
    backend = aws.backend()
    backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=JOB_TIMEOUT_S))
    stopped = backend.stop_training(experiment)
    assert [(state.name, state.state) for state in stopped] == [
        ("trainer", "stopped"),
        ("rollout-0", "stopped"),
        ("rollout-1", "stopped"),
    ]
    aws.printed.clear()
    backend.start_training(experiment, TrainingRequest(num_workers=2, max_time_s=JOB_TIMEOUT_S))
    assert any("starting attempt 2" in line for line in aws.printed)
    assert len(job_names(experiment)) == 6
    assert all(state.state == "stopped" for state in backend.stop_training(experiment))


# ------------------------------------------------------------------ evaluation
def test_an_evaluation_job_writes_metrics_that_evaluation_table_reads(aws, trained) -> None:
    jobs = start_evaluations(trained.experiment, TRACK, trials=1)
    assert len(jobs) == 1 and jobs[0].name.startswith("evaluation-")
    states = wait_for_evaluations(trained.experiment, timeout_s=JOB_TIMEOUT_S, refresh_s=0.5)
    assert all(state.done for state in states), f"evaluation still running: {states}"
    assert [state.state for state in states] == ["completed"]
    assert states[0].detail == f"{TRACK}: 1/1 trials"
    table = evaluation_table(trained.experiment)
    assert len(table) == 1 and table.iloc[0]["track"] == TRACK


def test_an_evaluation_that_fails_at_start_says_why(aws) -> None:
    experiment = prepared_experiment(aws, "untrained", workers=1)
    get_backend(experiment).start_evaluations(experiment, [EvaluationRequest(TRACK, 1)])
    states = wait_for_evaluations(experiment, timeout_s=JOB_TIMEOUT_S, refresh_s=0.5)
    assert all(state.done for state in states), f"evaluation still running: {states}"
    assert states[0].state == "failed"
    assert "evaluation_worker failed (a restart would fail the same way)" in states[0].detail
    assert "checkpoint" in states[0].detail.lower()


# ------------------------------------------------------------------ clean-up
def test_cleanup_stops_jobs_and_deletes_what_was_asked(aws, monkeypatch) -> None:
    region = "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    setup = setup_workshop(image_uri=aws.harness.push_image(region=region))
    context = connect(region)
    experiment = new_experiment(
        "cleanup", "aws", world_name=TRACK, store_url=setup.settings.store_url
    )
    write_model_metadata(experiment, load_action_preset("drfc_default"))
    write_reward_function(experiment, load_reward_example("prevent_zig_zag"))
    upload_run_inputs(experiment, world_name=TRACK, num_workers=1)
    backend = AwsBackend(setup.settings, context, printer=aws.printed.append)
    backend.start_training(experiment, TrainingRequest(num_workers=1, max_time_s=JOB_TIMEOUT_S))
    report = stop_jobs_and_delete(
        context,
        setup.settings,
        [experiment],
        delete_data="all",
        delete_role=True,
        delete_repository=True,
    )
    assert report.failed == [], str(report)
    assert {state.state for state in backend.training_jobs(experiment)} == {"stopped"}
    buckets = [bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]]
    assert setup.settings.bucket not in buckets and aws.settings.bucket in buckets
    roles = [role["RoleName"] for role in boto3.client("iam").list_roles()["Roles"]]
    assert "deepracer-workshop-jobs-eu-west-1" not in roles
    assert "deepracer-workshop-jobs-us-east-1" in roles
