"""Fixtures of the browser test: Debian's Chromium driven by Playwright, and a JupyterLab server.

The browser test runs in its own step (``make browser-test``, i.e. ``pytest -m browser
tests/browser``); a plain ``pytest tests`` skips it, saying how to run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from .lab_server import LabServer, running_lab

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "browser-test"
CHROMIUM_ENV = "DR_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1600}
MARKER = "browser"
ACTION_LIMIT_S = 300.0
"""How long one page load or click may take (Playwright's own default is 30 s)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: drives JupyterLab in Chromium (own step: pytest -m {MARKER})"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser test unless it was asked for with ``-m browser``."""
    if MARKER in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="the browser test runs in its own step: make browser-test")
    for item in items:
        if MARKER in item.keywords:
            item.add_marker(skip)


def chromium_path() -> str:
    """Debian's Chromium (or ``$DR_CHROMIUM``); fails saying how to install it when missing."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        if not os.access(configured, os.X_OK):
            pytest.fail(f"{CHROMIUM_ENV}={configured!r} is not an executable; point it at "
                        "Chromium or unset it", pytrace=False)
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "the browser test needs Chromium and found none on PATH. Install it with "
        "`sudo apt-get install chromium` (Debian/Ubuntu), or set "
        f"{CHROMIUM_ENV}=/path/to/chromium",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def lab(scratch: Path) -> Iterator[LabServer]:
    """JupyterLab serving trusted copies of the workshop notebooks at the small budget."""
    root = scratch / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    runs = scratch / "runs"
    runs.mkdir()
    env = {
        "DR_WORKSHOP_BUDGET": "small",
        "DR_RUNS_DIR": str(runs),
        "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),
    }
    # as an attendee's set-up does (make lab): trust the notebooks so their stored widgets draw
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", *map(str, (root / "notebooks").glob("*"))],
        env={**os.environ, **env}, check=True, capture_output=True,
    )
    with running_lab(root, scratch, env) as server:
        yield server


@pytest.fixture(scope="session")
def browser_context(scratch: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with a new, empty profile."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(scratch / "chromium-profile"),
            executable_path=executable,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=VIEWPORT,
        )
        # a busy machine can take minutes to load JupyterLab; only a hang waits this long
        context.set_default_timeout(ACTION_LIMIT_S * 1000)
        context.set_default_navigation_timeout(ACTION_LIMIT_S * 1000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A fresh tab, closed after the test."""
    tab = browser_context.new_page()
    yield tab
    tab.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the screenshots of each notebook go (git-ignored, kept as test artefacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
