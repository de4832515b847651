"""The workshop as an attendee sees it: every notebook run through JupyterLab in Chromium.

Run with ``make browser-test`` (``pytest -m browser tests/browser``). The notebooks run in their
order (00 .. 06, 99), as they depend on each other's experiments, at the small budget. Screenshots
of every notebook, before and after running, go to ``build/browser-test/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page

from .lab_page import (
    RUN_LIMIT_S,
    cells_not_run,
    exercise_pickers,
    find_problems,
    open_notebook,
    run_all_cells,
    scroll_through,
    settle_widgets,
)
from .lab_server import LabServer, shut_down_kernels

pytestmark = [pytest.mark.browser, pytest.mark.timeout(RUN_LIMIT_S + 900)]

NOTEBOOKS = sorted(path.name for path in (Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
AFTER_RUN: dict[str, Callable[[Page], None]] = {"03_train.ipynb": exercise_pickers}
"""Interactions with a notebook's widgets once it has run."""


def open_in_lab(page: Page, lab: LabServer, relative: str) -> None:
    """Open a notebook and hide the file browser, so the notebook gets the page's width."""
    open_notebook(page, lab.notebook_url(relative))
    page.keyboard.press("Control+b")


def run_all(page: Page, screenshots: Path, name: str, limit_s: float = RUN_LIMIT_S) -> None:
    """``run_all_cells``, keeping a screenshot of the page when the run does not end."""
    try:
        run_all_cells(page, limit_s)
    except TimeoutError:
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / f"{name}-still-running.png"))
        raise


def report(problems: list) -> str:
    return "\n".join(f"  - {problem}" for problem in problems)


def test_the_checks_catch_a_broken_notebook(
    lab: LabServer, page: Page, screenshots: Path
) -> None:
    """A notebook with each kind of fault fails the checks, naming every fault."""
    broken = lab.root / "broken" / "broken.ipynb"
    broken.parent.mkdir()
    cells = [
        "from IPython.display import Image, display",
        "display({'text/plain': \"ToggleButtons(description='Run on', options=('a', 'b'))\"}, "
        "raw=True)",
        "display(Image(data=b'not a png', format='png'))",
        "import ipywidgets\n"
        "ipywidgets.Dropdown(options=['a label far too long for its box'], "
        "layout=ipywidgets.Layout(width='120px'))",
        "1 / 0",
        "print('never runs')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, broken)
    try:
        open_in_lab(page, lab, "broken/broken.ipynb")
        run_all(page, screenshots, "broken")
        scroll_through(page, screenshots, "broken")
        kinds = {problem.kind: problem for problem in cells_not_run(page) + find_problems(page)}
    finally:
        shut_down_kernels(lab)
    assert set(kinds) >= {
        "widget shown as text", "broken image", "cut-off label", "error output", "cell not run"
    }
    assert kinds["cut-off label"].text == "a label far too long for its box"
    assert "ZeroDivisionError" in kinds["error output"].text
    assert kinds["cell not run"].text.startswith("print('never runs')")


def test_the_checks_name_a_cell_that_hangs(lab: LabServer, page: Page) -> None:
    """A cell still running at the wait's limit fails the run, naming the cell."""
    hanging = lab.root / "broken" / "hangs.ipynb"
    hanging.parent.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, hanging)
    try:
        open_in_lab(page, lab, "broken/hangs.ipynb")
        with pytest.raises(TimeoutError, match=r"still running: code cell 0: 'import time"):
            run_all_cells(page, limit_s=20)
    finally:
        shut_down_kernels(lab)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_cleanly_in_jupyterlab(
    name: str, lab: LabServer, page: Page, screenshots: Path
) -> None:
    """Stored outputs draw as widgets; Run All leaves no error, fallback, broken image or [*]."""
    stem = name.removesuffix(".ipynb")
    try:
        open_in_lab(page, lab, f"notebooks/{name}")
        # stored widgets draw once the kernel has connected (their state is in the notebook)
        settle_widgets(page)
        scroll_through(page, screenshots, f"{stem}-stored")
        stored = find_problems(page)
        if any("model not found" in problem.text for problem in stored):
            # ipywidgets can lose the race between restoring the stored widget state and
            # drawing the views on a busy machine; a reload draws them (what an attendee does)
            open_notebook(page, page.url)
            settle_widgets(page)
            stored = find_problems(page)
        run_all(page, screenshots, stem)
        settle_widgets(page)
        scroll_through(page, screenshots, f"{stem}-run")
        problems = cells_not_run(page) + find_problems(page)
        if not problems and name in AFTER_RUN:
            AFTER_RUN[name](page)
            page.screenshot(path=str(screenshots / f"{stem}-after-interaction.png"))
    finally:
        shut_down_kernels(lab)
    assert not stored, f"{name} before running (stored outputs) shows:\n{report(stored)}"
    assert not problems, f"{name} after Run All Cells shows:\n{report(problems)}"
