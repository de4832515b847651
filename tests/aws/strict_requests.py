"""Strict checks of AWS requests against botocore's service models.

botocore validates a request's types, required members and minimum lengths before sending it,
but not the ``pattern`` and ``max`` constraints or the enums of its model (a 79-character job
name with underscores passes), and moto does not check them either. AWS does: such a request
fails with a ValidationException on first real use. ``violations`` checks every constraint of
an operation's input shape; ``RequestRecorder`` applies it to every request a botocore client
makes in this process (``BaseClient._make_api_call`` sees the caller's own parameters).

Patterns are Java regular expressions matched against the whole value; they are compiled with
the ``regex`` package, which knows Java's ``\\p{L}``-style classes that ``re`` lacks.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import regex
from botocore.client import BaseClient
from botocore.model import OperationModel, Shape


@cache
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _sized(shape: Shape, path: str, size: int, what: str) -> list[str]:
    found = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        found.append(f"{path}: {what} {size} is below the minimum {low}")
    if high is not None and size > high:
        found.append(f"{path}: {what} {size} is above the maximum {high}")
    return found


def shape_violations(shape: Shape, value: Any, path: str) -> list[str]:
    """Every constraint of ``shape`` that ``value`` breaks, each naming its path."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return [f"{path}: expected a structure, got {type(value).__name__}"]
        found = [
            f"{path}.{name}: required member missing"
            for name in shape.required_members
            if name not in value
        ]
        for name, member in value.items():
            if name not in shape.members:
                found.append(f"{path}.{name}: not a member of {shape.name}")
            else:
                found += shape_violations(shape.members[name], member, f"{path}.{name}")
        return found
    if kind == "list":
        if not isinstance(value, list | tuple):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        found = _sized(shape, path, len(value), "length")
        for index, item in enumerate(value):
            found += shape_violations(shape.member, item, f"{path}[{index}]")
        return found
    if kind == "map":
        if not isinstance(value, Mapping):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        found = _sized(shape, path, len(value), "entry count")
        for key, item in value.items():
            found += shape_violations(shape.key, key, f"{path} key {key!r}")
            found += shape_violations(shape.value, item, f"{path}[{key!r}]")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        found = _sized(shape, path, len(value), "length")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            found.append(f"{path}: {value!r} does not match the pattern {pattern!r}")
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.enum}")
        return found
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer, got {type(value).__name__}"]
        return _sized(shape, path, value, "value")
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{path}: expected a number, got {type(value).__name__}"]
        return _sized(shape, path, value, "value")
    if kind == "blob":
        if isinstance(value, bytes | bytearray | str):
            return _sized(shape, path, len(value), "length")
        return []  # a file-like body
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{path}: expected a boolean, got {type(value).__name__}"]
    if kind == "timestamp" and not isinstance(value, datetime.datetime | str | int | float):
        return [f"{path}: expected a timestamp, got {type(value).__name__}"]
    return []


def violations(operation: OperationModel, params: Mapping[str, Any]) -> list[str]:
    """What AWS would refuse in ``params`` of ``operation`` (empty when they fit the model)."""
    shape = operation.input_shape
    if shape is None:
        return [f"{operation.name} takes no parameters, got {sorted(params)}"] if params else []
    service = operation.service_model.service_name
    return shape_violations(shape, params, f"{service}.{operation.name}")


def client_violations(client: BaseClient, operation: str, params: Mapping[str, Any]) -> list[str]:
    """``violations`` for a client's operation, named as in the API (``CreateTrainingJob``)."""
    return violations(client.meta.service_model.operation_model(operation), params)


@dataclass
class RequestRecorder:
    """Checks every request made through botocore while installed, and keeps what it saw."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _original: Callable[..., Any] | None = None

    def install(self) -> RequestRecorder:
        """Wrap ``BaseClient._make_api_call`` (undone by ``uninstall``)."""
        original = BaseClient._make_api_call
        recorder = self

        def checked(client: BaseClient, operation_name: str, api_params: dict[str, Any]):
            recorder.check(client, operation_name, api_params)
            return original(client, operation_name, api_params)

        self._original = original
        BaseClient._make_api_call = checked  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        """Restore botocore's own ``_make_api_call``."""
        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    def check(self, client: BaseClient, operation_name: str, params: dict[str, Any]) -> None:
        """Record one request and anything in it that AWS would refuse."""
        service = client.meta.service_model.service_name
        found = client_violations(client, operation_name, params)
        with self._lock:
            self.calls.append((service, operation_name, dict(params)))
            self.problems += found

    def take_problems(self) -> list[str]:
        """The problems found since the last call (and forget them)."""
        with self._lock:
            found, self.problems = self.problems, []
        return found

    def operations(self) -> set[tuple[str, str]]:
        """Every (service, operation) seen."""
        with self._lock:
            return {(service, operation) for service, operation, _ in self.calls}
