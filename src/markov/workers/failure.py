"""How a worker process says that it failed for a reason a restart cannot fix.

A reward function that raises, loops or calls ``sys.exit``, or an input the worker rejects, fails
the same way every time. Such a worker prints one block headed by :data:`FAILURE_MARKER` (the
message and, for user code, the user's own traceback) as the last thing in its log and exits with
:data:`EXIT_DETERMINISTIC_FAILURE`. Runners do not restart it; they show that block instead of
the log's tail, so the learner sees the cause and not a dump of reward params.
"""

from __future__ import annotations

import sys
from typing import TextIO

EXIT_DETERMINISTIC_FAILURE = 3
FAILURE_MARKER = "==== worker failure (a restart would fail the same way) ===="


def report_deterministic_failure(message: str, stream: TextIO | None = None) -> int:
    """Print the failure block and return the exit code the worker should end with."""
    out = stream if stream is not None else sys.stderr
    out.write(f"\n{FAILURE_MARKER}\n{message.rstrip()}\n")
    out.flush()
    return EXIT_DETERMINISTIC_FAILURE


def failure_block(log_text: str) -> str | None:
    """The last failure block in a worker's log, or ``None`` when it printed none."""
    index = log_text.rfind(FAILURE_MARKER)
    if index < 0:
        return None
    return log_text[index + len(FAILURE_MARKER) :].strip()
