"""Small helpers for the first workshop notebooks: where to run, the environment check, tables.

``choose_backend`` turns the backend picker's value into a backend that can be used now (AWS
falls back to local, with the reason, when it is not set up); ``check_environment`` lists what
the workshop needs on this machine; ``show_table`` shows rows of text without cutting them.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workshop_helpers.budget import workshop_budget
from workshop_helpers.experiment import BACKENDS
from workshop_helpers.machine import (
    KERNEL_AND_TRAINER_MIB,
    WORKER_MIB,
    recommended_workers,
    total_memory_bytes,
)

MIN_PYTHON = (3, 11)
SMOKE_TRACK = "Workshop_Oval"


class LessonTable:
    """Rows of a table shown in full: no cell text is shortened with "...".

    ``frame`` is the pandas DataFrame; the notebook shows it as HTML, ``repr`` as plain text.
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]] | pd.DataFrame, index: str | None = None):
        frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if index is not None:
            frame = frame.set_index(index)
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return self.frame.to_string()

    def _repr_html_(self) -> str:
        table = self.frame.to_html(border=0, escape=True)
        # cells wrap their text, so a wide last column stays inside the notebook's width
        return f'<div style="text-align:left">{table}</div>'.replace(
            "<td>", '<td style="text-align:left; white-space:normal">'
        )


def show_table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, index: str | None = None):
    """Show rows (e.g. ``hyperparameter_table()``) as a table whose text is never cut short.

    ``index``: the column whose values name the rows (e.g. "name").
    """
    return LessonTable(rows, index)


@dataclass(frozen=True)
class BackendChoice:
    """The backend the experiment will use, and why.

    ``store_url`` is None for the local backend (the experiment's default store, a folder in
    the runs folder) and ``s3://<bucket>`` for AWS.
    """

    name: str
    store_url: str | None
    message: str
    fell_back: bool = False

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"BackendChoice({self.name!r}): {self.message}"


BACKEND_VARIABLE = "DR_WORKSHOP_BACKEND"


def default_backend() -> str:
    """The backend the picker starts on: ``$DR_WORKSHOP_BACKEND`` ("local" or "aws"), else local.

    Instructors set the variable to preselect AWS for a whole class; so does the AWS test run.
    """
    value = os.environ.get(BACKEND_VARIABLE, "").strip().lower() or "local"
    if value not in BACKENDS:
        raise ValueError(
            f"{BACKEND_VARIABLE} is {value!r}; set it to one of {', '.join(BACKENDS)}, or unset it"
        )
    return value


LOCAL_MESSAGE = (
    "Backend: local. The trainer and the rollout workers run as processes on this machine; "
    "the model store is the folder runs/store."
)


def choose_backend(picked: str, set_up: bool = True) -> BackendChoice:
    """The backend to create the experiment with, from the picker's value ("local" or "aws").

    For "aws" the workshop's AWS settings are read (``workshop_helpers.backends.aws``); when they
    are missing and ``set_up`` is true, the one-time AWS set-up runs (it creates the bucket, the
    jobs' role and the engine image only where they are missing). If AWS still cannot be used,
    the choice falls back to "local" and the message says why and what to do.
    """
    if picked not in BACKENDS:
        raise ValueError(f"backend is {picked!r}; pick one of {', '.join(BACKENDS)}")
    if picked == "local":
        return BackendChoice("local", None, LOCAL_MESSAGE)
    try:
        settings, report = _aws_settings(set_up)
    except Exception as error:  # any failure here means: not usable now, continue locally
        reason = f"{type(error).__name__}: {error}"
        return BackendChoice(
            "local",
            None,
            "You picked AWS, but the AWS backend cannot be used from here yet.\n"
            f"  Reason: {reason}\n"
            "Continuing with the LOCAL backend: every notebook still works, on this machine.\n"
            "To train on AWS later: fix the reason above and run this notebook again from the "
            "picker on; the experiment you create then uses AWS.\n\n" + LOCAL_MESSAGE,
            fell_back=True,
        )
    done = f"{report}\n" if report else ""
    return BackendChoice(
        "aws",
        settings.store_url,
        f"{done}Backend: aws. Training and evaluation run as SageMaker jobs in "
        f"{settings.region} ({settings.instance_type}); the model store is {settings.store_url}.",
    )


def _aws_settings(set_up: bool) -> tuple[Any, str]:
    """The AWS settings, running the set-up first when they are missing and ``set_up``."""
    importlib.import_module("workshop_helpers.backends.aws.backend")  # the backend must exist
    config = importlib.import_module("workshop_helpers.backends.aws.config")
    session = importlib.import_module("workshop_helpers.backends.aws.session")
    try:
        return config.load_settings(), ""
    except session.AwsSetupError:
        if not set_up:
            raise
    setup = importlib.import_module("workshop_helpers.backends.aws.setup")
    report = setup.setup_workshop()
    return config.load_settings(), str(report)


@dataclass(frozen=True)
class EnvironmentReport:
    """What the workshop needs on this machine: one row per check, and whether it passed."""

    rows: tuple[dict[str, Any], ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(row["ok"] for row in self.rows)

    @property
    def problems(self) -> list[dict[str, Any]]:
        """The rows of the checks that failed."""
        return [row for row in self.rows if not row["ok"]]

    def summary(self) -> str:
        """One line when all is well; otherwise each failed check and what to do."""
        if self.ok:
            return f"All {len(self.rows)} checks passed: this machine is ready for the workshop."
        lines = [f"{len(self.problems)} of {len(self.rows)} checks failed:"]
        lines += [f"  {row['check']}: {row['found']} -> {row['note']}" for row in self.problems]
        return "\n".join(lines)

    def table(self) -> LessonTable:
        """The checks as a table."""
        rows = [{**row, "ok": "yes" if row["ok"] else "NO"} for row in self.rows]
        return LessonTable(rows, index="check")

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def check_environment() -> EnvironmentReport:
    """Check Python, numpy, torch, the compute device, the CPU cores, the engine and the budget."""
    return EnvironmentReport(tuple(_run_check(*check) for check in _CHECKS))


def _row(check: str, found: str, ok: bool, note: str) -> dict[str, Any]:
    return {"check": check, "found": found, "ok": ok, "note": note}


def _run_check(label: str, check: Callable[[], tuple[str, bool, str]], fix: str) -> dict:
    try:
        found, ok, note = check()
    except Exception as error:
        return _row(label, f"{type(error).__name__}: {error}", False, fix)
    return _row(label, found, ok, note)


def _check_python() -> tuple[str, bool, str]:
    version = platform.python_version()
    ok = sys.version_info >= MIN_PYTHON
    wanted = ".".join(str(part) for part in MIN_PYTHON)
    return version, ok, "fine" if ok else f"use Python {wanted} or newer"


def _check_numpy() -> tuple[str, bool, str]:
    import numpy

    return numpy.__version__, True, "arrays for tracks, sensors and rewards"


def _check_torch() -> tuple[str, bool, str]:
    import torch

    return torch.__version__, True, "the neural network and its training"


def _check_device() -> tuple[str, bool, str]:
    import torch

    if torch.cuda.is_available():
        found = f"CUDA GPU: {torch.cuda.get_device_name(0)}"
        note = "the trainer updates the network on the GPU"
    else:
        found = "CPU only (no CUDA GPU)"
        note = "fine: the workshop's small networks train on the CPU"
    return found, True, note


def _check_cores() -> tuple[str, bool, str]:
    cores = os.cpu_count() or 1
    memory = total_memory_bytes()
    workers = recommended_workers(cores, memory)
    found = f"{cores} cores" + ("" if memory is None else f", {memory / 2**30:.1f} GiB memory")
    note = (
        f"use up to {workers} rollout worker(s): one core and about {WORKER_MIB} MiB each, "
        f"{KERNEL_AND_TRAINER_MIB} MiB for the notebook and the trainer"
    )
    return found, True, note


def _check_engine() -> tuple[str, bool, str]:
    import markov
    from markov.environment.deepracer_racetrack_env import DeepRacerRacetrackEnv
    from markov.environment.scripted import CenterLineDriver

    env = DeepRacerRacetrackEnv(SMOKE_TRACK)
    env.reset(seed=0)
    env.step(CenterLineDriver().act(env))
    note = f"the simulator drove a step on {SMOKE_TRACK}"
    return markov.__version__, True, note


def _check_budget() -> tuple[str, bool, str]:
    budget = workshop_budget()
    if budget.name == "small":
        note = "tiny runs for testing the notebooks (DR_WORKSHOP_BUDGET=small)"
    else:
        note = "the real workshop sizes"
    return budget.name, True, note


REINSTALL = "install the project again: make run (or pip install -e .) in the repository"
_CHECKS: tuple[tuple[str, Callable[[], tuple[str, bool, str]], str], ...] = (
    ("Python", _check_python, f"use Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"),
    ("numpy", _check_numpy, REINSTALL),
    ("torch", _check_torch, "install the project again: make run (it installs a CPU torch)"),
    ("compute", _check_device, "torch is needed to find the compute device"),
    ("cores and memory", _check_cores, ""),
    ("engine (markov)", _check_engine, REINSTALL),
    ("budget", _check_budget, "set DR_WORKSHOP_BUDGET to full or small, or unset it"),
)
