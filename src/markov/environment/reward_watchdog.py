"""Limits on the learner's reward code inside a worker: time per call, time per episode, output.

A worker runs the learner's ``reward_function`` by ``exec`` on every step. Without limits a
``time.sleep(5)`` or an endless loop stalls training silently, and a function that prints a
megabyte per call fills the disk with logs. :class:`RewardWatchdog` runs each call under:

* a per-call time limit (``REWARD_CALL_TIMEOUT_S``, default 10 s) and a per-episode budget of
  reward time (``REWARD_EPISODE_BUDGET_S``, default 120 s); a call over either raises
  :class:`RewardTimeLimit`, which the reward wrapper turns into an error naming the function,
  the call count and the limit;
* caps on what the call writes to ``sys.stdout``/``sys.stderr`` (``REWARD_OUTPUT_CALL_CHARS``,
  default 8192, and ``REWARD_OUTPUT_EPISODE_CHARS``, default 262144); the rest is dropped and one
  line per episode says how much.

How a running call is stopped: on the main thread (where workers call the reward) a one-shot
``SIGALRM`` timer (``signal.setitimer``) raises :class:`RewardTimeLimit` inside the learner's
code, so the error's traceback points at the line that was running (the loop, the sleep). The
exception derives from ``BaseException`` so an ``except Exception`` in the learner's code does
not swallow it. A timer that was already pending (e.g. pytest-timeout's) is restored after the
call. Where signals cannot be used (another thread, or a platform without ``setitimer``) the
time is checked when the call returns. For what neither can stop (code that catches
``BaseException`` and loops on, a loop off the main thread, a long C call), a worker passes
``hard_stop=True``: a daemon thread then prints the failure block and ends the process with
:data:`~markov.workers.failure.EXIT_DETERMINISTIC_FAILURE` once a call overruns its limit by a
grace period. Notebooks never get ``hard_stop``.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO

from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE, report_deterministic_failure

CALL_TIMEOUT_VARIABLE = "REWARD_CALL_TIMEOUT_S"
EPISODE_BUDGET_VARIABLE = "REWARD_EPISODE_BUDGET_S"
OUTPUT_CALL_VARIABLE = "REWARD_OUTPUT_CALL_CHARS"
OUTPUT_EPISODE_VARIABLE = "REWARD_OUTPUT_EPISODE_CHARS"
HARD_STOP_GRACE_S = 5.0
"""How long past its limit a call may keep running when the timer could not stop it."""
_BACKSTOP_POLL_S = 0.25


class RewardLimitsError(ValueError):
    """A reward limit variable is not a positive number."""


class RewardTimeLimit(BaseException):
    """A reward call ran past its time limit; ``reason`` says which limit and by how much.

    A ``BaseException`` so that ``except Exception`` in the learner's code cannot swallow it.
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RewardLimits:
    """Time and output limits of the learner's reward code (generous: only a bug reaches them)."""

    call_timeout_s: float = 10.0
    episode_budget_s: float = 120.0
    output_call_chars: int = 8192
    output_episode_chars: int = 262_144

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> RewardLimits:
        """The limits, each overridable by its environment variable."""
        defaults = cls()
        return cls(
            call_timeout_s=_positive(env, CALL_TIMEOUT_VARIABLE, defaults.call_timeout_s),
            episode_budget_s=_positive(env, EPISODE_BUDGET_VARIABLE, defaults.episode_budget_s),
            output_call_chars=int(
                _positive(env, OUTPUT_CALL_VARIABLE, defaults.output_call_chars, whole=True)
            ),
            output_episode_chars=int(
                _positive(env, OUTPUT_EPISODE_VARIABLE, defaults.output_episode_chars, whole=True)
            ),
        )


class RewardWatchdog:
    """Runs reward calls under :class:`RewardLimits`; one instance per reward function."""

    def __init__(
        self,
        limits: RewardLimits | None = None,
        *,
        name: str = "reward_function",
        filename: str | None = None,
        hard_stop: bool = False,
    ) -> None:
        """``name`` labels messages; ``filename`` (the learner's source) selects the frames a
        hard stop shows."""
        self.limits = limits or RewardLimits()
        self.name = name
        self.filename = filename
        self.hard_stop = hard_stop
        self.calls = 0
        self.episode_seconds = 0.0
        self._output = _OutputBudget(self.limits)
        self._deadline: float | None = None
        self._caller = threading.get_ident()
        self._armed = False
        self._previous_handler: Any = None
        self._main_thread = threading.main_thread()
        if hard_stop:
            _Backstop.watch(self)

    def new_episode(self) -> None:
        """Start counting a new episode: report dropped output, reset the episode's budgets."""
        self.flush_report()
        self.calls = 0
        self.episode_seconds = 0.0

    def flush_report(self) -> None:
        """Write the one line about output dropped since the last report, if any was."""
        self._output.report(self.name)

    def call(self, function: Callable[[Any], Any], argument: Any) -> Any:
        """``function(argument)`` under the limits; raises :class:`RewardTimeLimit` past one."""
        self.calls += 1
        limit, which = self._limit_for_this_call()
        start = time.monotonic()
        saved = self._output.start_call()
        try:
            result = self._run(function, argument, limit)
        except RewardTimeLimit as stop:
            elapsed = self._account(start)
            raise RewardTimeLimit(self._reason(which, limit, elapsed)).with_traceback(
                stop.__traceback__
            ) from None
        except BaseException:
            self._account(start)
            raise
        finally:
            self._output.end_call(saved)
        elapsed = self._account(start)
        if elapsed > limit:
            raise RewardTimeLimit(self._reason(which, limit, elapsed))
        return result

    # ------------------------------------------------------------------ timing
    def _limit_for_this_call(self) -> tuple[float, str]:
        left = self.limits.episode_budget_s - self.episode_seconds
        if self.limits.call_timeout_s <= left:
            return self.limits.call_timeout_s, "call"
        return max(left, 1e-3), "episode"

    def _account(self, start: float) -> float:
        elapsed = time.monotonic() - start
        self.episode_seconds += elapsed
        self._deadline = None
        return elapsed

    def _run(self, function: Callable[[Any], Any], argument: Any, limit: float) -> Any:
        """Call with a SIGALRM timer where possible; the outer timer (if any) is restored."""
        self._caller = threading.get_ident()
        start = time.monotonic()
        self._deadline = start + limit
        if not _can_use_alarm(self._main_thread):
            return function(argument)
        if self._previous_handler is None:  # installed once: signal.signal is slow
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, limit)
        self._armed = True
        try:
            return function(argument)
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            if outer_delay > 0:
                remaining = max(outer_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        """Stop the running reward call; an alarm outside a call goes to the earlier handler."""
        if self._armed:
            self._armed = False
            raise RewardTimeLimit()
        previous = self._previous_handler
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGALRM)

    def _reason(self, which: str, limit: float, elapsed: float) -> str:
        if which == "call":
            return (
                f"{self.name} did not return within the per-call limit of {limit:g} s "
                f"({CALL_TIMEOUT_VARIABLE}) on call {self.calls} of this episode "
                f"(stopped after {elapsed:.1f} s)"
            )
        return (
            f"{self.name} used {self.episode_seconds:.1f} s in {self.calls} calls this episode, "
            f"over the per-episode budget of {self.limits.episode_budget_s:g} s "
            f"({EPISODE_BUDGET_VARIABLE})"
        )

    # ------------------------------------------------------------------ last resort
    def overran(self, now: float) -> bool:
        """True when a call is running past its limit plus the grace period."""
        deadline = self._deadline
        return deadline is not None and now >= deadline + HARD_STOP_GRACE_S

    def hard_stop_now(self) -> None:
        """Print the failure block with where the call is running, and end the process."""
        frame = sys._current_frames().get(self._caller)
        frames = traceback.extract_stack(frame) if frame is not None else []
        mine = [item for item in frames if item.filename == self.filename]
        stack = "".join(traceback.format_list(mine or frames))
        report_deterministic_failure(
            f"{self.name} ran more than {HARD_STOP_GRACE_S:g} s past its time limit "
            f"(call {self.calls} of this episode) and did not stop when asked, e.g. "
            "because it catches every exception inside a loop.\n"
            f"How to fix: {TIME_LIMIT_FIX}\n"
            f"Where it was running:\n{stack}",
            sys.__stderr__,
        )
        os._exit(EXIT_DETERMINISTIC_FAILURE)


class _Backstop:
    """One daemon thread per process that hard-stops overrunning ``hard_stop`` watchdogs."""

    _watchdogs: ClassVar[weakref.WeakSet[RewardWatchdog]] = weakref.WeakSet()
    _thread: ClassVar[threading.Thread | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def watch(cls, watchdog: RewardWatchdog) -> None:
        with cls._lock:
            cls._watchdogs.add(watchdog)
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="reward-watchdog", daemon=True)
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(_BACKSTOP_POLL_S)
            now = time.monotonic()
            for watchdog in list(cls._watchdogs):
                if watchdog.overran(now):
                    watchdog.hard_stop_now()


TIME_LIMIT_FIX = (
    "look for a loop that never ends (a while loop whose condition never changes) or work that "
    "is slow on every step (time.sleep, heavy geometry over all waypoints); the traceback shows "
    "the line that was running. Raise the limits with "
    f"{CALL_TIMEOUT_VARIABLE} / {EPISODE_BUDGET_VARIABLE} only if the function is meant to be "
    "that slow."
)


class _OutputBudget:
    """Caps what reward calls write to stdout/stderr, per call and per episode."""

    def __init__(self, limits: RewardLimits) -> None:
        self.limits = limits
        self.episode_written = 0
        self.call_written = 0
        self.dropped = 0
        self.truncated_calls = 0
        self._call_dropped = False
        self._targets: tuple[Any, Any] | None = None
        self._streams: tuple[_CappedStream, _CappedStream] | None = None

    def admit(self, text: str) -> str:
        """The part of ``text`` that may still be written; the rest is counted as dropped."""
        room = min(
            self.limits.output_call_chars - self.call_written,
            self.limits.output_episode_chars - self.episode_written,
        )
        allowed = text[: max(room, 0)]
        self.call_written += len(allowed)
        self.episode_written += len(allowed)
        if len(allowed) < len(text):
            self.dropped += len(text) - len(allowed)
            self._call_dropped = True
        return allowed

    def start_call(self) -> tuple[Any, Any]:
        """Route sys.stdout/sys.stderr through the budget; returns the streams to restore."""
        saved = (sys.stdout, sys.stderr)
        if self._streams is None or self._targets != saved:
            self._targets = saved
            self._streams = (_CappedStream(saved[0], self), _CappedStream(saved[1], self))
        self.call_written = 0
        self._call_dropped = False
        sys.stdout, sys.stderr = self._streams
        return saved

    def end_call(self, saved: tuple[Any, Any]) -> None:
        """Restore the streams; a line cut short by the cap is ended so log lines stay whole."""
        sys.stdout, sys.stderr = saved
        if self._call_dropped and self._streams is not None:
            self.truncated_calls += 1
            for stream in self._streams:
                stream.end_line()

    def report(self, name: str) -> None:
        if self.dropped:
            sys.stderr.write(
                f"[{name}: {self.dropped} characters of output dropped from "
                f"{self.truncated_calls} calls in the last episode; limits "
                f"{self.limits.output_call_chars} per call ({OUTPUT_CALL_VARIABLE}) and "
                f"{self.limits.output_episode_chars} per episode ({OUTPUT_EPISODE_VARIABLE})]\n"
            )
            sys.stderr.flush()
        self.episode_written = 0
        self.dropped = 0
        self.truncated_calls = 0


class _CappedStream:
    """A text stream that forwards what the budget admits to the real stream."""

    def __init__(self, target: TextIO, budget: _OutputBudget) -> None:
        self._target = target
        self._budget = budget
        self._open_line = False

    def write(self, text: str) -> int:
        allowed = self._budget.admit(str(text))
        if allowed:
            self._target.write(allowed)
            self._open_line = not allowed.endswith("\n")
        return len(text)

    def end_line(self) -> None:
        """End a line cut short by the cap, so the worker's own log lines stay whole."""
        if self._open_line:
            self._target.write("\n")
            self._open_line = False

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _can_use_alarm(main_thread: threading.Thread) -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is main_thread


def _positive(env: Mapping[str, str], name: str, default: float, whole: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0 and (not whole or value.is_integer())):
        kind = "a whole number of characters" if whole else "a number of seconds"
        raise RewardLimitsError(
            f"{name} is {raw!r}; set it to {kind} > 0 (default {default:g}) or unset it"
        )
    return value
