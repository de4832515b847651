"""Lesson helpers of notebooks 00-02: backend choice with fallback, environment check, tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workshop_helpers.lesson import (
    LOCAL_MESSAGE,
    BackendChoice,
    check_environment,
    choose_backend,
    default_backend,
    show_table,
)

AWS_VARIABLES = (
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "DR_AWS_BUCKET",
    "DR_AWS_ROLE_ARN",
    "DR_IMAGE_URI",
    "DR_INSTANCE_TYPE",
    "DR_MAX_RUNTIME_S",
)


@pytest.fixture
def no_aws_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runs folder without aws.json and no AWS settings in the environment."""
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path))
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_picker_starts_on_local_unless_the_variable_says_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DR_WORKSHOP_BACKEND", raising=False)
    assert default_backend() == "local"
    monkeypatch.setenv("DR_WORKSHOP_BACKEND", " AWS ")
    assert default_backend() == "aws"
    monkeypatch.setenv("DR_WORKSHOP_BACKEND", "cloud")
    with pytest.raises(ValueError, match="DR_WORKSHOP_BACKEND is 'cloud'; set it to one of"):
        default_backend()


def test_local_is_used_as_picked() -> None:
    choice = choose_backend("local")
    assert choice == BackendChoice("local", None, LOCAL_MESSAGE)
    assert str(choice) == LOCAL_MESSAGE
    assert not choice.fell_back


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="'gcp'; pick one of local, aws"):
        choose_backend("gcp")


def test_aws_without_settings_falls_back_to_local_when_set_up_is_off(
    no_aws_settings: Path,
) -> None:
    pytest.importorskip("workshop_helpers.backends.aws.config")
    choice = choose_backend("aws", set_up=False)
    assert (choice.name, choice.store_url, choice.fell_back) == ("local", None, True)
    assert "You picked AWS" in choice.message
    assert "AwsSetupError: The AWS backend is not set up" in choice.message
    assert "Continuing with the LOCAL backend" in choice.message


def test_a_failing_aws_set_up_falls_back_to_local_with_its_reason(
    no_aws_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = pytest.importorskip("workshop_helpers.backends.aws.setup")
    session = pytest.importorskip("workshop_helpers.backends.aws.session")

    def no_credentials() -> None:
        raise session.AwsSetupError("No AWS credentials found.")

    monkeypatch.setattr(setup, "setup_workshop", no_credentials)
    choice = choose_backend("aws")
    assert (choice.name, choice.fell_back) == ("local", True)
    assert "Reason: AwsSetupError: No AWS credentials found." in choice.message


def test_a_missing_aws_package_falls_back_to_local(
    no_aws_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "workshop_helpers.backends.aws.backend", None)
    choice = choose_backend("aws")
    assert (choice.name, choice.fell_back) == ("local", True)
    assert "ModuleNotFoundError" in choice.message or "ImportError" in choice.message


def test_aws_is_used_when_its_settings_are_known(
    no_aws_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("workshop_helpers.backends.aws.config")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DR_AWS_BUCKET", "my-deepracer-bucket")
    monkeypatch.setenv("DR_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/jobs")
    monkeypatch.setenv(
        "DR_IMAGE_URI", "123456789012.dkr.ecr.us-east-1.amazonaws.com/deepracer:latest"
    )
    choice = choose_backend("aws")
    assert (choice.name, choice.store_url, choice.fell_back) == (
        "aws",
        "s3://my-deepracer-bucket",
        False,
    )
    assert "SageMaker jobs in us-east-1" in choice.message


def test_the_environment_check_passes_here_with_seven_rows() -> None:
    report = check_environment()
    assert report.ok, report.summary()
    assert [row["check"] for row in report.rows] == [
        "Python",
        "numpy",
        "torch",
        "compute",
        "cores and memory",
        "engine (markov)",
        "budget",
    ]
    assert report.summary() == ("All 7 checks passed: this machine is ready for the workshop.")
    assert "<table" in report._repr_html_()


def test_a_failed_check_is_reported_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    report = check_environment()
    assert not report.ok
    assert {row["check"] for row in report.problems} == {"torch", "compute"}
    assert "2 of 7 checks failed" in report.summary()
    assert "make run" in report.summary()
    assert "NO" in repr(report)


def test_show_table_keeps_long_text_whole() -> None:
    long_text = "a meaning " * 20
    table = show_table([{"name": "lr", "meaning": long_text}], index="name")
    assert len(table) == 1
    assert long_text.strip() in table._repr_html_()
    assert "..." not in table._repr_html_()
    assert long_text.strip() in repr(table)
    assert table.frame.index.name == "name"
