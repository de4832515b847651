"""What a learner reads about AWS jobs: every SageMaker status mapped, the S3 polling rates and
the cost estimate with request charges and the Spot saving."""

from __future__ import annotations

import botocore.session
import pytest

from markov.workers.polling import (
    LOCAL_PLAN,
    S3_PLAN,
    Backoff,
    PollSettingError,
    plan_for_url,
)
from workshop_helpers.backends.aws.cost import (
    HOURLY_USD,
    SPOT_DISCOUNT,
    estimate,
    training_requests,
)
from workshop_helpers.backends.aws.naming import trainer_job
from workshop_helpers.backends.aws.status import SECONDARY_STATES, STATES, JobInfo

MODEL = botocore.session.get_session().get_service_model("sagemaker")
NOTEBOOK_STATES = {"starting", "running", "completed", "failed", "stopped"}


def test_every_sagemaker_status_and_secondary_status_is_mapped() -> None:
    assert set(MODEL.shape_for("TrainingJobStatus").enum) == set(STATES)
    assert set(MODEL.shape_for("SecondaryStatus").enum) == set(SECONDARY_STATES)
    assert set(STATES.values()) | set(SECONDARY_STATES.values()) <= NOTEBOOK_STATES


@pytest.mark.parametrize(
    ("secondary", "state"),
    [
        ("PreparingTrainingStack", "starting"),
        ("DownloadingTrainingImage", "starting"),
        ("Interrupted", "starting"),
        ("Training", "running"),
        ("Uploading", "running"),
    ],
)
def test_an_in_progress_job_is_starting_until_it_trains(secondary: str, state: str) -> None:
    info = JobInfo(trainer_job("x"), "InProgress", secondary, "", {})
    assert info.state == state and info.active


def test_an_interrupted_spot_job_says_it_will_resume() -> None:
    info = JobInfo(trainer_job("x"), "InProgress", "Interrupted", "", {})
    assert "restarts from its last checkpoint" in info.detail


def test_on_s3_workers_poll_and_publish_less_often_than_on_a_folder() -> None:
    assert plan_for_url("s3://bucket", {}) == S3_PLAN
    assert plan_for_url("runs/store", {}) == LOCAL_PLAN
    assert S3_PLAN.poll_s > LOCAL_PLAN.poll_s and S3_PLAN.live_frame_s > LOCAL_PLAN.live_frame_s
    tuned = plan_for_url("s3://bucket", {"DR_LIVE_FRAME_S": "10", "DR_POLL_S": "0.5"})
    assert tuned.live_frame_s == 10 and tuned.poll_s == 0.5
    with pytest.raises(PollSettingError, match=r"DR_POLL_MAX_S is 'soon'.*above 0"):
        plan_for_url("s3://bucket", {"DR_POLL_MAX_S": "soon"})


def test_the_trainer_backs_off_while_waiting_and_polls_fast_again_when_a_batch_arrives() -> None:
    backoff = Backoff(S3_PLAN)
    waits = [backoff.next_wait(0) for _ in range(8)]
    assert waits[0] == S3_PLAN.poll_s and waits == sorted(waits)
    assert waits[-1] == S3_PLAN.max_poll_s
    assert backoff.next_wait(1) == S3_PLAN.poll_s  # a batch arrived


def test_request_charges_on_s3_are_a_small_share_of_the_compute_cost() -> None:
    hour = 3600
    s3 = training_requests(workers=2, seconds=hour)
    fast = training_requests(workers=2, seconds=hour, plan=LOCAL_PLAN)
    compute = HOURLY_USD["ml.c5.2xlarge"]
    assert fast.total_usd > 0.5 * compute  # the local rates would be expensive on S3
    assert s3.total_usd < 0.15 * compute
    assert s3.writes == round(hour / S3_PLAN.poll_s + 2 * 3 * hour / S3_PLAN.live_frame_s)


def test_the_estimate_adds_requests_and_shows_the_spot_saving_as_an_assumption() -> None:
    requests = training_requests(workers=2, seconds=3600)
    cost = estimate("ml.c5.2xlarge", 1, 3600, requests=requests, spot=True)
    text = str(cost)
    assert f"in all at most ${cost.total_usd + requests.total_usd:.2f}" in text
    assert "PUT/LIST" in text and "GET/HEAD" in text
    assert f"likely about ${cost.total_usd * (1 - SPOT_DISCOUNT):.2f}" in text
    assert "ASSUMED typical Managed Spot discount" in text and "as of" in text
    assert "Managed Spot" not in str(estimate("ml.c5.2xlarge", 1, 3600))
