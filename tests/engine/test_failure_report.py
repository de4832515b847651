"""A failed worker's cause, as the local runner, the job entry point and the AWS supervision show
it: the failure block, else the last traceback, never the params dump before it."""

from __future__ import annotations

import sys
import textwrap

from markov.runners.failure_report import failure_summary, job_failure_reason
from markov.runners.job import run_worker
from markov.workers.failure import FAILURE_MARKER
from workshop_helpers.backends.aws.naming import ROLLOUT, TRAINER, JobName
from workshop_helpers.backends.aws.status import JobInfo
from workshop_helpers.backends.aws.supervise import decide

PARAMS_DUMP = "\n".join(f"params: {{'x': {i}.0, 'speed': 1.0}}" for i in range(40))
TRACEBACK = textwrap.dedent(
    """\
    Traceback (most recent call last):
      File "reward_function.py", line 4, in reward_function
        return params["sped"]
    KeyError: 'sped'
    """
)


def test_the_failure_block_is_the_whole_story() -> None:
    log = f"{PARAMS_DUMP}\n{FAILURE_MARKER}\nreward_function raised KeyError: 'sped'\n"
    assert failure_summary(log) == "reward_function raised KeyError: 'sped'"


def test_without_a_block_the_last_traceback_is_shown_not_the_params_dump() -> None:
    summary = failure_summary(f"{PARAMS_DUMP}\n{TRACEBACK}")
    assert summary.startswith("Traceback") and summary.endswith("KeyError: 'sped'")
    assert "params:" not in summary


def test_without_a_traceback_error_lines_are_shown() -> None:
    log = f"{PARAMS_DUMP}\n2026-01-01 rollout ERROR the store is full\n{PARAMS_DUMP}"
    assert failure_summary(log) == "2026-01-01 rollout ERROR the store is full"


def test_a_job_that_fails_for_good_leaves_its_block_as_the_failure_reason(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        print({PARAMS_DUMP!r})
        sys.stderr.write("\\n{FAILURE_MARKER}\\nreward_function raised KeyError: 'sped'\\n")
        sys.exit(3)
        """
    )
    failure = tmp_path / "failure"
    command = [sys.executable, "-c", script, "markov.workers.rollout"]
    code = run_worker(command, {"PYTHONUNBUFFERED": "1"}, failure)  # as main() runs it
    assert code == 3
    assert failure.read_text() == (
        "rollout_worker failed (a restart would fail the same way): "
        "reward_function raised KeyError: 'sped'"
    )


def job(kind: str, status: str, reason: str = "", index: int = 0) -> JobInfo:
    return JobInfo(JobName(f"run-{kind}-{index}", kind, index), status, "Training", reason, {})


def test_aws_supervision_ends_the_training_when_a_rollout_job_failed_for_good() -> None:
    reason = job_failure_reason("markov.workers.rollout", 3, f"{FAILURE_MARKER}\nbad reward")
    trainer = job(TRAINER, "InProgress")
    other = job(ROLLOUT, "InProgress", index=1)
    decision = decide(trainer, [job(ROLLOUT, "Failed", reason), other], training_finished=False)
    assert decision is not None
    assert decision.stop == [trainer, other]
    assert decision.reason.endswith("a restart would fail the same way): bad reward")


def test_aws_supervision_names_the_cause_when_no_rollout_job_is_left() -> None:
    reason = job_failure_reason("markov.workers.rollout", 1, TRACEBACK)
    trainer = job(TRAINER, "InProgress")
    decision = decide(trainer, [job(ROLLOUT, "Failed", reason)], training_finished=False)
    assert decision is not None and decision.stop == [trainer]
    assert "no rollout worker is left" in decision.reason and "KeyError: 'sped'" in decision.reason
