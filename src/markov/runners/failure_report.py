"""What a runner shows when a worker process failed: the cause, not the tail of its log.

A worker that failed for a reason a restart cannot fix prints a block headed by
:data:`markov.workers.failure.FAILURE_MARKER`; that block is the whole story. Otherwise the last
Python traceback names the error, and without one the last lines that look like errors do. Only
when the log holds none of these is its tail shown. The local runner, the job entry point (the
text SageMaker shows as a job's FailureReason) and the AWS backend's supervision all use this
module, so a learner sees the same cause on both backends.
"""

from __future__ import annotations

import re

from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE, failure_block

TRACEBACK_HEAD = "Traceback (most recent call last):"
DETERMINISTIC_NOTE = "a restart would fail the same way"
MAX_LINES = 30
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|Error|Exception)\b")


def failure_summary(log_text: str, max_lines: int = MAX_LINES) -> str:
    """The lines of a failed worker's log that say why it failed (at most ``max_lines``)."""
    block = failure_block(log_text)
    if block:
        return _last(block.splitlines(), max_lines)
    lines = log_text.rstrip().splitlines()
    heads = [index for index, line in enumerate(lines) if line.startswith(TRACEBACK_HEAD)]
    if heads:
        # the last traceback ends with the error; its tail keeps the user's own frames
        return _last(lines[heads[-1] :], max_lines)
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    if errors:
        return _last(errors, max_lines)
    return _last(lines, min(max_lines, 20))


def failure_headline(log_text: str) -> str:
    """One line naming the error: the block's message, else the traceback's or log's last line."""
    block = failure_block(log_text)
    if block:
        return block.strip().splitlines()[0]
    lines = [line for line in failure_summary(log_text).splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def job_failure_reason(worker: str, exit_code: int, log_text: str, max_lines: int = 12) -> str:
    """One paragraph for a failed job: who failed, with which status, and why."""
    summary = failure_summary(log_text, max_lines)
    if exit_code == EXIT_DETERMINISTIC_FAILURE and failure_block(log_text) is not None:
        return f"{worker} failed ({DETERMINISTIC_NOTE}): {summary}"
    return f"{worker} exited with status {exit_code}: {summary}"


def is_deterministic_reason(reason: str) -> bool:
    """Whether a failure reason written by :func:`job_failure_reason` says retrying is futile."""
    return f"({DETERMINISTIC_NOTE})" in reason


def _last(lines: list[str], count: int) -> str:
    kept = [line for line in lines if line.strip()] if len(lines) > count else lines
    return "\n".join(kept[-count:]).strip()
