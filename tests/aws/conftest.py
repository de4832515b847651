"""Fixtures of the AWS tests: the moto harness, strict request checks and a set-up account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_experiments import Aws, fresh_account

from workshop_helpers.backends.aws.setup import setup_workshop


@pytest.fixture(scope="session")
def aws_harness():
    """A moto server whose training jobs run (tests/aws/aws_harness.py), started on first use."""
    from aws_harness import MotoHarness

    harness = MotoHarness().start()
    yield harness
    harness.stop()


@pytest.fixture(scope="session")
def strict_requests():
    """Every botocore request of the session checked against its service model
    (tests/aws/strict_requests.py), installed on first use."""
    from strict_requests import RequestRecorder

    recorder = RequestRecorder().install()
    yield recorder
    recorder.uninstall()


@pytest.fixture
def requests_fit_the_model(strict_requests):
    """Fails a test (at its end) when any request made for it breaks a model constraint."""
    yield strict_requests
    problems = strict_requests.take_problems()
    assert not problems, "requests AWS would refuse:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def aws(aws_harness, tmp_path_factory) -> Iterator[Aws]:
    """A fresh moto account with the workshop set up (bucket, role, pushed engine image), in
    multi-job mode: these tests cover the engine-image (Dockerfile) and multi-job modes; the
    defaults (prebuilt image, one job) are covered by tests/aws/test_aws_modes.py."""
    with fresh_account(aws_harness, str(tmp_path_factory.mktemp("runs"))) as patch:
        patch.setenv("DR_JOB_MODE", "multi-job")
        image = aws_harness.push_image()
        report = setup_workshop(image_uri=image)
        yield Aws(aws_harness, report.settings, [])

