"""Load the user's `reward_function(params)` and check every value it returns
(docs/simulator-contract.md §2.6).

The simapp calls the function with a deep copy of the params dict and ends the job with a
`RewardFunctionError` when the call fails or returns something that is not a finite number
in [-1e5, 1e5]. This module does the same, with messages that show the user's own code lines,
the reason, the fix and the params that triggered the failure.

``sys.exit()`` inside the function is an error too (it cannot end a worker). A worker also puts
the function under a :class:`~markov.environment.reward_watchdog.RewardWatchdog` (``guard``):
time limits, capped output, and ``KeyboardInterrupt`` raised by the function counted as an
error (workers run in their own session, so no Ctrl-C reaches them; in a notebook an interrupt
stays an interrupt).
"""

from __future__ import annotations

import copy
import difflib
import inspect
import linecache
import math
import os
import traceback
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from markov.environment.reward_watchdog import (
    TIME_LIMIT_FIX,
    RewardLimits,
    RewardTimeLimit,
    RewardWatchdog,
)

MIN_REWARD = -1e5
MAX_REWARD = 1e5
FUNCTION_NAME = "reward_function"

_IMMUTABLE_TYPES = frozenset(
    {float, int, bool, str, type(None), np.float64, np.float32, np.int64, np.int32, np.bool_}
)
_LIST_HEAD_ITEMS = 3
_LONG_LIST_ITEMS = 8


class RewardFunctionError(Exception):
    """The reward function could not be loaded, failed, or returned an invalid reward.

    Deliberately not a ValueError: like the simapp's error of the same name it ends the job
    rather than being handled as ordinary bad input.
    """


class RewardFunction:
    """A user reward function wrapped so that every call is isolated and checked."""

    def __init__(
        self,
        function: Callable[[dict], Any],
        source_path: Path | None = None,
        source_code: str | None = None,
    ) -> None:
        _check_signature(function, _describe_origin(function, source_path))
        self.function = function
        self.source_path = source_path
        self.source_code = source_code
        self._filename = getattr(getattr(function, "__code__", None), "co_filename", None)
        self._module_code: str | None = None
        self.watchdog: RewardWatchdog | None = None

    def guard(self, limits: RewardLimits | None = None, *, hard_stop: bool = False) -> None:
        """Run every later call under a watchdog (time limits, capped output); for workers."""
        self.watchdog = RewardWatchdog(
            limits, name=self._where(), filename=self._filename, hard_stop=hard_stop
        )

    def new_episode(self) -> None:
        """An episode starts: the per-episode budgets restart (no-op without a watchdog)."""
        if self.watchdog is not None:
            self.watchdog.new_episode()

    def flush_output_report(self) -> None:
        """Report output dropped by the watchdog since the last report (e.g. at the end)."""
        if self.watchdog is not None:
            self.watchdog.flush_report()

    def __repr__(self) -> str:
        return f"RewardFunction({_describe_origin(self.function, self.source_path)})"

    def __call__(self, params: dict, *, private: bool = False) -> float:
        """Call the function on a private copy of `params` and return the checked reward.

        ``private=True`` says the caller already made a copy that nothing else reads, so the
        (costly) generic deep copy is skipped.
        """
        argument = params if private else _copy_value(params)
        try:
            if self.watchdog is None:
                result = self.function(argument)
            else:
                result = self.watchdog.call(self.function, argument)
        except RewardTimeLimit as stop:
            raise self._error(self._describe_time_limit(stop, params)) from None
        except KeyboardInterrupt as error:
            if self.watchdog is None:
                raise
            raise self._error(self._describe_exception(error, params)) from None
        except (Exception, SystemExit) as error:
            raise self._error(self._describe_exception(error, params)) from None
        try:
            reward = float(result)
        except Exception:
            raise self._error(self._describe_bad_value(result, params)) from None
        if not (math.isfinite(reward) and MIN_REWARD <= reward <= MAX_REWARD):
            raise self._error(self._describe_bad_value(result, params))
        return reward

    def _error(self, message: str) -> RewardFunctionError:
        """The error to raise; output the watchdog dropped is reported first, so that line
        comes before the failure."""
        self.flush_output_report()
        return RewardFunctionError(message)

    def _where(self) -> str:
        """Name the function and where it is defined, for messages."""
        return _describe_origin(self.function, self.source_path)

    def _describe_exception(self, error: BaseException, params: Mapping[str, Any]) -> str:
        """Message for an exception raised inside the user's function."""
        frames = self._user_frames(error)
        if isinstance(error, SystemExit | KeyboardInterrupt):
            call = "sys.exit()" if isinstance(error, SystemExit) else "raise KeyboardInterrupt"
            fix = (
                f"{call} cannot stop training from inside {FUNCTION_NAME}: the simulator "
                "needs a number from every call. Remove it and return a reward (e.g. 1e-3 for "
                "a step you want to discourage); the line is at the end of the traceback below"
            )
        else:
            hint = _key_error_hint(error, params) if isinstance(error, KeyError) else ""
            fix = f"correct the line of your code at the end of the traceback below{hint}"
        return (
            f"{self._where()} raised {type(error).__name__}: {error}\n"
            f"How to fix: {fix}; the params of the failing step are listed after it.\n"
            f"{_format_traceback(frames, error)}\n"
            f"params of the failing step:\n{format_params(params)}"
        )

    def _describe_time_limit(self, stop: RewardTimeLimit, params: Mapping[str, Any]) -> str:
        """Message for a call stopped by (or found over) the watchdog's time limits."""
        frames = self._user_frames(stop, fallback=False)
        where = (
            "Traceback of your code when it was stopped (most recent call last):\n"
            + "".join(traceback.format_list(frames)).rstrip("\n")
            + "\n"
            if frames
            else ""
        )
        return (
            f"{stop.reason}.\nHow to fix: {TIME_LIMIT_FIX}\n{where}"
            f"params of the call that was stopped:\n{format_params(params)}"
        )

    def _user_frames(
        self, error: BaseException, fallback: bool = True
    ) -> list[traceback.FrameSummary]:
        """The frames of the user's own code in the error's traceback (else, with
        ``fallback``, all but this wrapper's)."""
        if self._module_code is not None:
            _register_source(self._module_code, self._filename)
        frames = traceback.extract_tb(error.__traceback__)
        user_frames = [frame for frame in frames if frame.filename == self._filename]
        return user_frames or (frames[1:] if fallback else [])

    def _describe_bad_value(self, result: Any, params: Mapping[str, Any]) -> str:
        """Message for a return value that is not a finite number within the range."""
        allowed = f"a finite number between {MIN_REWARD:g} and {MAX_REWARD:g}"
        if result is None:
            fix = "a return statement is missing on some path: end every path with return <number>"
        elif isinstance(result, str | bytes):
            fix = "return a number, not text"
        else:
            try:
                value = float(result)
            except Exception:
                value = None
            if value is None:
                fix = "return a single number (e.g. float(x)), not a container or object"
            elif math.isnan(value):
                fix = (
                    "NaN comes from undefined arithmetic (0/0, inf - inf, sqrt or log of a "
                    "negative number in numpy): guard those inputs"
                )
            elif math.isinf(value):
                fix = (
                    "infinity comes from a division by zero or an overflow in numpy/float "
                    "arithmetic: guard the divisor or cap the value"
                )
            else:
                fix = "scale the reward down or cap it with min/max"
        return (
            f"{self._where()} returned {result!r} ({type(result).__name__}); a reward must be "
            f"{allowed}.\nHow to fix: {fix}.\n"
            f"params of the failing step:\n{format_params(params)}"
        )


def load_reward_function(
    source: Callable[[dict], Any] | str | os.PathLike[str],
) -> RewardFunction:
    """Return a checked reward function from a callable, the path of a .py file that defines
    `reward_function(params)`, or that source code itself (a string with a line break)."""
    if isinstance(source, RewardFunction):
        return source
    if isinstance(source, str) and "\n" in source:
        return reward_function_from_source(source)
    if isinstance(source, str | os.PathLike):
        return _load_file(Path(source))
    if not callable(source):
        raise RewardFunctionError(
            f"reward_function must be a function or the path of a .py file defining "
            f"reward_function(params), got a {type(source).__name__}"
        )
    return RewardFunction(source, _existing_file(source), _source_of(source))


def reward_function_from_source(code: str, filename: str = "reward_function.py") -> RewardFunction:
    """Build a reward function from Python source text, e.g. a notebook cell.

    `filename` names the code in tracebacks; the text is registered with `linecache` so
    tracebacks show the user's lines.
    """
    return _build(code, filename, None)


def format_params(params: Mapping[str, Any]) -> str:
    """Pretty-print params one key per line, shortening long lists such as waypoints."""
    if not isinstance(params, Mapping):
        return repr(params)
    lines = [f"    {key!r}: {_short_repr(value)}," for key, value in params.items()]
    return "{\n" + "\n".join(lines) + "\n}"


def _short_repr(value: Any) -> str:
    """repr() that keeps the first items and the last one of a long list or tuple."""
    if isinstance(value, list | tuple) and len(value) > _LONG_LIST_ITEMS:
        head = ", ".join(repr(item) for item in value[:_LIST_HEAD_ITEMS])
        hidden = len(value) - _LIST_HEAD_ITEMS - 1
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        return f"{opening}{head}, ... {hidden} more ..., {value[-1]!r}{closing}"
    return repr(value)


def _copy_value(value: Any) -> Any:
    """Deep-copy the params layout (dicts, lists and tuples of scalars) about 8x faster
    than copy.deepcopy; anything else falls back to copy.deepcopy."""
    kind = type(value)
    if kind in _IMMUTABLE_TYPES:
        return value
    if kind is list:
        return [_copy_value(item) for item in value]
    if kind is tuple:
        for item in value:
            if type(item) not in _IMMUTABLE_TYPES:
                return tuple(_copy_value(inner) for inner in value)
        return value
    if kind is dict:
        return {key: _copy_value(item) for key, item in value.items()}
    return copy.deepcopy(value)


def _load_file(path: Path) -> RewardFunction:
    """Read a reward function file, with errors that say how to point at the right file."""
    if path.is_dir():
        raise RewardFunctionError(
            f"reward function path {str(path)!r} is a folder; point to the .py file inside it, "
            f"e.g. {str(path / 'reward_function.py')!r}"
        )
    if not path.is_file():
        text = str(path)
        hint = (
            "; this looks like source code: use reward_function_from_source(code) instead"
            if "def " in text or "\n" in text
            else ""
        )
        raise RewardFunctionError(
            f"reward function file {text!r} does not exist; pass the path of a .py file that "
            f"defines reward_function(params), relative to {str(Path.cwd())!r} or absolute"
            f"{hint}"
        )
    try:
        code = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RewardFunctionError(
            f"reward function file {str(path)!r} is not UTF-8 text ({error.reason}); "
            "save it as UTF-8"
        ) from None
    return _build(code, str(path), path)


def _build(code: str, filename: str, source_path: Path | None) -> RewardFunction:
    """Compile and run the module source, then find and wrap its reward_function."""
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as error:
        raise RewardFunctionError(_describe_syntax_error(error, filename)) from None
    except ValueError as error:
        raise RewardFunctionError(f"{filename} cannot be compiled: {error}") from None
    _register_source(code, filename)
    module = types.ModuleType("reward_function_module")
    module.__file__ = filename
    try:
        exec(compiled, module.__dict__)
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)
        user_frames = [frame for frame in frames if frame.filename == filename]
        raise RewardFunctionError(
            f"{filename} raised {type(error).__name__} while being imported: {error}\n"
            "How to fix: correct the module-level code at the end of the traceback below "
            "(only math, random, numpy, scipy and shapely imports are supported).\n"
            f"{_format_traceback(user_frames or frames, error)}"
        ) from None
    function = module.__dict__.get(FUNCTION_NAME)
    if function is None:
        raise RewardFunctionError(_describe_missing_function(module.__dict__, filename))
    if not callable(function):
        raise RewardFunctionError(
            f"{FUNCTION_NAME} in {filename} is a {type(function).__name__}, not a function; "
            f"define it as: def {FUNCTION_NAME}(params): ..."
        )
    wrapper = RewardFunction(function, source_path, code)
    wrapper._module_code = code
    return wrapper


def _register_source(code: str, filename: str) -> None:
    """Make `linecache` (and so every traceback) show this exact source for `filename`."""
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)


def _describe_syntax_error(error: SyntaxError, filename: str) -> str:
    """Say where the syntax error is, with the line text and a caret under the column."""
    line_text = (error.text or "").rstrip("\n")
    stripped = line_text.lstrip()
    indent = len(line_text) - len(stripped)
    caret_column = max((error.offset or 1) - 1 - indent, 0)
    return (
        f"{filename} has a syntax error at line {error.lineno}: {error.msg}\n"
        f"    {stripped}\n"
        f"    {' ' * caret_column}^\n"
        "How to fix: correct that line, or the one before it (a missing bracket, colon, "
        "quote or wrong indentation often shows up one line later)."
    )


def _describe_missing_function(namespace: Mapping[str, Any], filename: str) -> str:
    """Explain that reward_function is missing and suggest the function the user meant."""
    functions = [
        name
        for name, value in namespace.items()
        if isinstance(value, types.FunctionType) and not name.startswith("__")
    ]
    close = difflib.get_close_matches(FUNCTION_NAME, functions, n=1, cutoff=0.5)
    if close:
        suggestion = f"; did you mean {close[0]!r}? Rename it to {FUNCTION_NAME}"
    elif functions:
        suggestion = f"; it defines {', '.join(functions)}"
    else:
        suggestion = ""
    return (
        f"{filename} defines no function named {FUNCTION_NAME}{suggestion}. The simulator "
        f"calls def {FUNCTION_NAME}(params): ... with the params dict."
    )


def _check_signature(function: Callable[..., Any], where: str) -> None:
    """Require that the function can be called with exactly one positional argument."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(None)
    except TypeError:
        raise RewardFunctionError(
            f"{where} has the signature {signature}; it must accept exactly one positional "
            f"argument, the params dict: def {FUNCTION_NAME}(params): ..."
        ) from None


def _format_traceback(frames: list[traceback.FrameSummary], error: BaseException) -> str:
    """Render selected frames and the exception line like Python's own traceback."""
    body = "".join(traceback.format_list(frames))
    last = "".join(traceback.format_exception_only(type(error), error))
    return f"Traceback of your code (most recent call last):\n{body}{last}".rstrip("\n")


def _key_error_hint(error: KeyError, params: Mapping[str, Any]) -> str:
    """Suggest the params key the user probably meant in a KeyError."""
    missing = error.args[0] if error.args else None
    if not isinstance(missing, str) or not isinstance(params, Mapping) or missing in params:
        return ""
    keys = [key for key in params if isinstance(key, str)]
    close = difflib.get_close_matches(missing, keys, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return f" ({missing!r} is not a params key{suggestion})"


def _describe_origin(function: Callable[..., Any], source_path: Path | None) -> str:
    """`reward_function (file.py, line 3)` style description of where a function lives."""
    name = getattr(function, "__name__", type(function).__name__)
    code = getattr(function, "__code__", None)
    filename = str(source_path) if source_path is not None else getattr(code, "co_filename", "")
    if code is None:
        return name
    return f"{name} ({filename}, line {code.co_firstlineno})"


def _existing_file(function: Callable[..., Any]) -> Path | None:
    """The file a callable was defined in, when it is a real file."""
    filename = getattr(getattr(function, "__code__", None), "co_filename", None)
    return Path(filename) if filename and Path(filename).is_file() else None


def _source_of(function: Callable[..., Any]) -> str | None:
    """The source text of a callable for logging, when Python can find it."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return None
