"""Execute workshop notebooks in place so they carry the outputs of a real run.

    .venv/bin/python tests/execute_notebooks.py notebooks/00_setup.ipynb [...]

nbval compares a fresh run against these stored outputs. Kernels inherit this process's
environment: set DR_WORKSHOP_BUDGET (``small`` for quick outputs, ``full`` for a real workshop
run) and DR_RUNS_DIR before running. Notebooks run in the order given, each in a new kernel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT_PER_CELL_S = 3600


def execute(path: Path) -> float:
    """Run every cell of ``path`` in a fresh kernel (cwd = its folder) and save it."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=TIMEOUT_PER_CELL_S,
        # the widgets' state goes into the notebook, so pickers draw before a cell is run
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(notebook, path)
    return time.perf_counter() - started


def main(paths: list[str]) -> int:
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
