"""Drive one notebook in a JupyterLab browser tab and list what an attendee would see go wrong.

The checks read the page, not the notebook file: error output shown in a cell, a widget drawn as
its text fallback (``ToggleButtons(...)``, ``Error displaying widget``), an image that did not
load, a cell still running or never run, and a widget label or table cut off by its box.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import ipywidgets
from playwright.sync_api import Page

OPEN_LIMIT_S = 300.0
"""How long a notebook may take to open and start its kernel; only a hang takes this long."""
RUN_LIMIT_S = 2400.0
"""How long one notebook may run at the small budget; only a hang takes this long."""
POLL_S = 1.0
RETRY_S = 30.0
"""How long a click on Run All Cells may take to start a cell before it is clicked again."""

WIDGET_CLASSES = sorted(
    name
    for name, value in vars(ipywidgets).items()
    if isinstance(value, type) and issubclass(value, ipywidgets.Widget)
)
REPR_ARGUMENTS = "children|description|options|value|layout|index|format|width"
WIDGET_REPR = re.compile(r"\b(?:" + "|".join(WIDGET_CLASSES) + rf")\((?:{REPR_ARGUMENTS})=")
WIDGET_FALLBACKS = ("Error displaying widget", "Loading widget...", "Model not found")

CELL_STATE_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].map(
  (cell, index) => ({
    index,
    prompt: (cell.querySelector('.jp-InputPrompt') || {}).innerText || '',
    source: ((cell.querySelector('.jp-InputArea-editor') || {}).innerText || '').slice(0, 120),
  }))"""

PROBLEMS_JS = """(widgetFallbacks) => {
  const problems = [];
  const cellOf = (el) => {
    const cell = el.closest('.jp-Cell');
    const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')];
    return cells.indexOf(cell);
  };
  const outputs = document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output');
  for (const out of outputs) {
    const text = out.innerText || '';
    const mime = out.getAttribute('data-mime-type') || '';
    if (mime === 'application/vnd.jupyter.stderr') {
      problems.push({kind: 'error output', cell: cellOf(out), text: text.slice(0, 600)});
    }
    if (mime === 'text/plain') {
      problems.push({kind: 'text/plain', cell: cellOf(out), text: text.slice(0, 300)});
    }
    for (const fallback of widgetFallbacks) {
      if (text.includes(fallback)) {
        problems.push({kind: 'widget fallback', cell: cellOf(out), text: text.slice(0, 300)});
      }
    }
  }
  for (const img of document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea img')) {
    if (img.complete && img.naturalWidth === 0) {
      problems.push({kind: 'broken image', cell: cellOf(img), text: (img.src || '').slice(0, 80)});
    }
  }
  const canvas = document.createElement('canvas').getContext('2d');
  const textWidth = (el, text) => {
    canvas.font = getComputedStyle(el).font;
    return canvas.measureText(text).width;
  };
  for (const el of document.querySelectorAll(
      '.jp-NotebookPanel .widget-label, .jp-NotebookPanel .widget-toggle-button')) {
    if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) {
      problems.push({kind: 'cut-off label', cell: cellOf(el), text: el.innerText});
    }
  }
  for (const select of document.querySelectorAll('.jp-NotebookPanel .widget-dropdown select')) {
    const option = select.options[select.selectedIndex];
    if (!option) continue;
    const style = getComputedStyle(select);
    const room = select.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight);
    if (textWidth(select, option.text) > room) {
      problems.push({kind: 'cut-off label', cell: cellOf(select),
                     text: option.text.replace(/\u00a0/g, ' ')});
    }
  }
  for (const table of document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output table')) {
    const box = table.closest('.jp-OutputArea-output');
    if (box.scrollWidth > box.clientWidth + 1) {
      problems.push({kind: 'cut-off table', cell: cellOf(table),
                     text: (table.innerText || '').split('\\n')[0].slice(0, 200)});
    }
  }
  return problems;
}"""


@dataclass(frozen=True)
class Problem:
    """One thing wrong on the page: what, in which cell (0-based, all cells), and its text."""

    kind: str
    cell: int
    text: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.kind}: {self.text.strip()}"


NOTEBOOK_READY_JS = """() => document.querySelector('.jp-NotebookPanel .jp-Cell') !== null &&
    document.querySelector('.jp-Dialog') === null &&
    document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]') !== null &&
    !Array.from(document.querySelectorAll('.jp-Toolbar-kernelName, .jp-KernelName'))
        .some(name => name.textContent.includes('No Kernel'))"""
"""The notebook's cells are drawn and its kernel is started and idle, with no dialog open."""


def open_notebook(page: Page, url: str, limit_s: float = OPEN_LIMIT_S) -> None:
    """Open ``url`` and wait until its cells are drawn and its kernel is idle.

    On a busy machine JupyterLab may open the notebook before it has listed the kernels and ask
    which kernel to start; the dialog then offers the notebook's own kernel, which is accepted
    as an attendee would.
    """
    page.goto(url)
    deadline = time.monotonic() + limit_s
    while not page.evaluate(NOTEBOOK_READY_JS):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"waited {limit_s:.0f} s for the notebook at {url.split('?')[0]} to open with an "
                "idle kernel"
            )
        accept_kernel_choice(page)
        time.sleep(POLL_S)
    page.keyboard.press("Escape")


def accept_kernel_choice(page: Page) -> None:
    """Accept JupyterLab's "Select Kernel" dialog with the kernel it proposes, if it is open."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and "Select Kernel" in dialog.first.inner_text():
        dialog.first.locator(".jp-mod-accept").click()


def wait_for(page: Page, condition_js: str, limit_s: float, what: str) -> None:
    """Poll ``condition_js`` until true; after ``limit_s`` fail with a message naming ``what``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if page.evaluate(condition_js):
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"waited {limit_s:.0f} s for {what}")


def click_menu(page: Page, menu: str, item: str) -> None:
    """Click ``item`` in the menu bar's ``menu`` (as an attendee would).

    A JupyterLab dialog in the way (a kernel error, say) fails the click with the dialog's text.
    """
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        raise AssertionError(
            f"a JupyterLab dialog blocks {menu} > {item}: {dialog.first.inner_text()!r}"
        )
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def run_all_cells(page: Page, limit_s: float = RUN_LIMIT_S) -> None:
    """Clear the stored outputs, run every cell through the Run menu and wait until done.

    Done means: the first code cell has its execution count, no cell shows ``[*]`` and the
    kernel is idle. Past ``limit_s`` it fails naming the cells still running.
    """
    click_menu(page, "Edit", "Clear Outputs of All Cells")
    start_running(page, min(limit_s, OPEN_LIMIT_S))
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        cells = page.evaluate(CELL_STATE_JS)
        started = bool(cells) and re.search(r"\[\d+\]", cells[0]["prompt"]) is not None
        running = [cell for cell in cells if "*" in cell["prompt"]]
        idle = page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() > 0
        if started and not running and idle:
            return
        time.sleep(POLL_S)
    cells = page.evaluate(CELL_STATE_JS)
    running = [f"code cell {c['index']}: {c['source']!r}" for c in cells if "*" in c["prompt"]]
    raise TimeoutError(
        f"waited {limit_s:.0f} s for the kernel to go idle after Run All Cells; still running: "
        + ("; ".join(running) or "no cell shows [*], but the kernel stayed busy")
    )


def start_running(page: Page, limit_s: float) -> None:
    """Click Run > Run All Cells until the first code cell shows ``[*]`` or its count.

    A notebook whose kernel is still connecting ignores the command without queueing any cell
    (every prompt stays ``[ ]``), so clicking again cannot run a cell twice.
    """
    started_js = r"""() => {
      const prompt = document.querySelector('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt');
      return prompt !== null && /\[(\*|\d+)\]/.test(prompt.innerText);
    }"""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        click_menu(page, "Run", "Run All Cells")
        try:
            wait_for(page, started_js, min(RETRY_S, max(deadline - time.monotonic(), 1)), "")
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"waited {limit_s:.0f} s for Run All Cells to start the first code cell")


def cells_not_run(page: Page) -> list[Problem]:
    """Code cells that show no execution count after Run All (a cell above failed)."""
    return [
        Problem("cell not run", cell["index"], cell["source"])
        for cell in page.evaluate(CELL_STATE_JS)
        if not re.search(r"\[\d+\]", cell["prompt"]) and cell["source"].strip()
    ]


def scroll_through(page: Page, screenshots: Path, name: str) -> list[Path]:
    """Scroll the notebook top to bottom one screen at a time, saving a screenshot of each."""
    screenshots.mkdir(parents=True, exist_ok=True)
    scroller = ".jp-NotebookPanel .jp-WindowedPanel-outer"
    page.evaluate(f"() => document.querySelector('{scroller}').scrollTo(0, 0)")
    saved: list[Path] = []
    while True:
        wait_for(
            page,
            "() => [...document.querySelectorAll('.jp-NotebookPanel img')].every(i => i.complete)",
            OPEN_LIMIT_S,
            f"the images of {name} to finish loading",
        )
        path = screenshots / f"{name}-{len(saved):02d}.png"
        page.screenshot(path=str(path))
        saved.append(path)
        moved = page.evaluate(
            f"""() => {{
              const box = document.querySelector('{scroller}');
              const before = box.scrollTop;
              box.scrollTop = before + box.clientHeight * 0.9;
              return box.scrollTop > before;
            }}"""
        )
        if not moved:
            return saved
        page.wait_for_timeout(300)


def settle_widgets(page: Page) -> None:
    """Give widget views time to draw; one still loading at the limit is reported as a problem."""
    try:
        wait_for(
            page,
            """() => ![...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')]
                .some(out => (out.innerText || '').includes('Loading widget'))""",
            OPEN_LIMIT_S,
            "the widgets to draw",
        )
    except TimeoutError:
        pass  # find_problems names each widget still loading


def find_problems(page: Page) -> list[Problem]:
    """Everything on the page an attendee should not see (see the module docstring)."""
    settle_widgets(page)
    found = [Problem(**item) for item in page.evaluate(PROBLEMS_JS, list(WIDGET_FALLBACKS))]
    problems = [problem for problem in found if problem.kind != "text/plain"]
    problems += [
        Problem("widget shown as text", problem.cell, problem.text)
        for problem in found
        if problem.kind == "text/plain" and WIDGET_REPR.search(problem.text)
    ]
    return problems


def exercise_pickers(page: Page) -> None:
    """Change notebook 03's track and race type pickers and check what depends on them changes.

    The track picker redraws its picture and caption from the kernel; the race type reaches the
    kernel's ``race.value``, printed by a cell added at the end.
    """
    dropdown = page.locator(".jp-NotebookPanel .widget-dropdown select").first
    before = dropdown.input_value()
    picture = page.locator(".jp-NotebookPanel .widget-image").first
    old_picture = picture.get_attribute("src")
    options = dropdown.locator("option").all_inner_texts()
    labels = [label for label in options if "built-in" in label]
    current = dropdown.locator("option:checked").inner_text()
    target = next(label for label in labels if label != current)
    dropdown.select_option(label=target)
    track = target.split("\xa0")[0].split(" ")[0]
    expect_js(
        page,
        f"""() => {{
          const img = document.querySelector('.jp-NotebookPanel .widget-image');
          return img.getAttribute('src') !== {old_picture!r} &&
                 document.querySelector('.jp-NotebookPanel .widget-html').innerText.length > 0 &&
                 !document.querySelector('.jp-NotebookPanel .widget-html').innerText
                   .startsWith('Loading');
        }}""",
        f"the track picture and caption to change after picking {target!r} (was {before!r})",
    )
    page.locator(".jp-NotebookPanel .widget-toggle-button", has_text="Object avoidance").click()
    output = add_cell_and_run(page, "print(track.value, race.value)")
    expected = f"{track} OBJECT_AVOIDANCE"
    if expected not in output:
        raise AssertionError(
            f"after picking {target!r} and 'Object avoidance' the kernel printed {output!r}, "
            f"expected {expected!r}"
        )


def add_cell_and_run(page: Page, source: str) -> str:
    """Add a code cell at the end of the notebook, run it and return its printed output."""
    page.locator(".jp-NotebookPanel .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(source)
    page.keyboard.press("Shift+Enter")  # runs it (and adds an empty cell below)
    added_output_js = """(source) => {
      const cell = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].find(
        c => c.querySelector('.jp-InputArea-editor').innerText.trim() === source);
      if (!cell || !/\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').innerText)) {
        return null;
      }
      const output = cell.querySelector('.jp-OutputArea-output');
      return output === null ? null : output.innerText;
    }"""
    deadline = time.monotonic() + OPEN_LIMIT_S
    while time.monotonic() < deadline:
        output = page.evaluate(added_output_js, source)
        if output is not None:
            return output
        time.sleep(POLL_S)
    raise AssertionError(f"waited {OPEN_LIMIT_S:.0f} s for the added cell {source!r} to print")


def expect_js(page: Page, condition_js: str, what: str, limit_s: float = OPEN_LIMIT_S) -> None:
    """``wait_for`` with an AssertionError: a widget that does not react is a failed check."""
    try:
        wait_for(page, condition_js, limit_s, what)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None

