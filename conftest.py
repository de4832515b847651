"""Hooks for the notebook tests: an instructor's plain ``pytest --nbval notebooks`` works.

Kernels started by nbval inherit this process's environment, so it is set here, before any kernel
starts: the small workshop budget and a scratch runs folder (docs/aws.md §6). The output
sanitizers and the kernel choice live here too, not only in the Makefile, so the command works
from the repository root or from ``notebooks/`` without extra flags.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

SANITIZERS = Path(__file__).resolve().parent / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config: pytest.Config) -> None:
    """Sanitizers, this environment's kernel, small budgets and a scratch runs folder for nbval."""
    if not config.getoption("nbval", default=False) and not config.getoption(
        "nbval_lax", default=False
    ):
        return
    options = config.option
    if not options.nbval_sanitize_with and not getattr(options, "sanitize_with", None):
        options.nbval_sanitize_with = str(SANITIZERS)
    if not options.nbval_kernel_name:
        # the notebooks name the generic python3 kernel; run them in the project's environment
        options.nbval_current_env = True
    runs = tempfile.mkdtemp(prefix="dr-notebook-runs-")
    config._dr_notebook_runs = runs  # type: ignore[attr-defined]
    os.environ.setdefault("DR_WORKSHOP_BUDGET", "small")
    os.environ["DR_RUNS_DIR"] = runs


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the scratch runs folder of the notebook tests."""
    runs = getattr(config, "_dr_notebook_runs", None)
    if runs:
        shutil.rmtree(runs, ignore_errors=True)


# ------------------------------------------------------------------ AWS backend (DR_TEST_AWS=1)
def pytest_sessionstart(session: pytest.Session) -> None:
    """With DR_TEST_AWS=1, notebook kernels use a moto server whose SageMaker jobs really run.

    The server lives in this process (tests/aws/aws_harness.py, docs/aws.md §4.1); its endpoint,
    fake credentials and engine image reach the kernels through the environment, set here before
    nbval starts any kernel.
    """
    config = session.config
    if os.environ.get("DR_TEST_AWS") != "1":
        return
    if not config.getoption("nbval", default=False) and not config.getoption(
        "nbval_lax", default=False
    ):
        return
    # imported by its folder, not as ``tests.aws_harness``: a dependency of sagemaker-core
    # (smdebug-rulesconfig) installs a top-level package named ``tests``
    sys.path.insert(0, str(Path(__file__).parent / "tests" / "aws"))
    from aws_harness import start_for_notebooks

    config._dr_aws_harness = start_for_notebooks()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the moto server and any job process still running."""
    harness = getattr(session.config, "_dr_aws_harness", None)
    if harness is not None:
        harness.stop()
