"""The committed notebooks are the lesson: no test scaffolding or machine paths in them."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(?<![\w.])(/tmp/|/work/|/home/|/root/|/Users/)")


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def _output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


def test_the_notebooks_are_found() -> None:
    assert len(NOTEBOOKS) == 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_nbval_comment_in_any_cell_source(path: Path) -> None:
    marked = [i for i, cell in enumerate(_cells(path)) if "NBVAL" in cell.source]
    assert not marked, f"{path.name} cells {marked}: use the nbval-ignore-output cell tag instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_machine_path_or_runs_variable_in_stored_outputs(path: Path) -> None:
    for index, cell in enumerate(_cells(path)):
        text = _output_text(cell)
        assert not MACHINE_PATH.search(text), f"{path.name} cell {index} shows a machine path"
        assert "$DR_RUNS_DIR" not in text, f"{path.name} cell {index} shows $DR_RUNS_DIR"
