"""Hooks for the notebook tests (``pytest --nbval notebooks``).

Kernels started by nbval inherit this process's environment, so it is set here, before any kernel
starts: the small workshop budget and a scratch runs folder (aws-in-2026.md §6).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Small budgets and a scratch runs folder for the kernels of an nbval run."""
    if not config.getoption("nbval", default=False) and not config.getoption(
        "nbval_lax", default=False
    ):
        return
    runs = tempfile.mkdtemp(prefix="dr-notebook-runs-")
    config._dr_notebook_runs = runs  # type: ignore[attr-defined]
    os.environ.setdefault("DR_WORKSHOP_BUDGET", "small")
    os.environ["DR_RUNS_DIR"] = runs


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the scratch runs folder of the notebook tests."""
    runs = getattr(config, "_dr_notebook_runs", None)
    if runs:
        shutil.rmtree(runs, ignore_errors=True)
