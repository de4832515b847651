"""The notebooks' one import surface: every notebook imports what it calls from
``workshop_helpers`` itself, never from the engine's (``markov``) modules, and every name it
imports is there. ``import workshop_helpers`` stays light, so the first cell stays fast."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import workshop_helpers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def _imports(path: Path) -> list[tuple[int, ast.Import | ast.ImportFrom]]:
    """(cell number, import statement) of every import in the notebook's code cells."""
    found = []
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        # IPython magics and shell lines are not Python
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )
        found += [
            (number, node)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
    return found


def _modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return [alias.name for alias in node.names]


def test_the_notebooks_are_found() -> None:
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_notebook_imports_the_engine(path: Path) -> None:
    engine = [
        f"cell {number}: {module}"
        for number, node in _imports(path)
        for module in _modules(node)
        if module == "markov" or module.startswith("markov.")
    ]
    assert not engine, f"{path.name} imports markov; export the name from workshop_helpers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_import_helpers_from_the_package_only(path: Path) -> None:
    other = [
        f"cell {number}: {module}"
        for number, node in _imports(path)
        for module in _modules(node)
        if module.startswith("workshop_helpers")
        and not (isinstance(node, ast.ImportFrom) and module == "workshop_helpers")
    ]
    assert not other, f"{path.name}: use 'from workshop_helpers import <name>' instead of {other}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_name_a_notebook_imports_from_workshop_helpers_exists(path: Path) -> None:
    names = [
        alias.name
        for _, node in _imports(path)
        if isinstance(node, ast.ImportFrom) and node.module == "workshop_helpers"
        for alias in node.names
    ]
    assert names, f"{path.name} imports nothing from workshop_helpers"
    missing = [name for name in names if not hasattr(workshop_helpers, name)]
    assert not missing, f"{path.name} imports {missing}, which workshop_helpers does not export"


def test_every_exported_name_resolves_to_its_home() -> None:
    for name in workshop_helpers.__all__:
        value = getattr(workshop_helpers, name)
        home = importlib.import_module(workshop_helpers._HOME_OF[name])
        assert value is getattr(home, name), name


def test_no_exported_name_is_also_a_submodule() -> None:
    # `from workshop_helpers import x` would give the module x once it is imported
    submodules = {info.name for info in pkgutil.iter_modules(workshop_helpers.__path__)}
    assert not submodules & set(workshop_helpers.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no_such_helper"):
        _ = workshop_helpers.no_such_helper


def test_importing_the_package_loads_no_heavy_library() -> None:
    heavy = ("boto3", "torch", "matplotlib", "pandas", "markov")
    code = (
        f"import sys, workshop_helpers; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.strip() == "", f"import workshop_helpers loaded {result.stdout.strip()}"
