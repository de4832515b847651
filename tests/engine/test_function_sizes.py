"""The engine stays readable: no function or method in it is over 60 lines.

The rule covers all of ``markov``; the hot path (the simulator, ``markov.environment`` with its
subpackages, and the rollout workers that step it) is named on its own so that it cannot drop
out of the check. A function that grows past the limit is named, with its size, so that it can
be split into named steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

import markov

MAX_FUNCTION_LINES = 60
PACKAGE = Path(markov.__file__).parent
HOT_PATH = [
    *sorted((PACKAGE / "environment").rglob("*.py")),
    PACKAGE / "workers" / "rollout.py",
    PACKAGE / "workers" / "vector_rollout.py",
]


def function_sizes(path: Path) -> list[tuple[str, int]]:
    """``(qualified name, lines from def to last line)`` of every function in a module."""
    sizes = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    sizes.append((name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return sizes


def test_the_hot_path_modules_are_found() -> None:
    assert (PACKAGE / "environment" / "deepracer_racetrack_env.py") in HOT_PATH
    assert all(path.is_file() for path in HOT_PATH)


def test_no_engine_function_is_over_60_lines() -> None:
    modules = sorted({*HOT_PATH, *PACKAGE.rglob("*.py")})
    too_long = [
        f"{path.relative_to(PACKAGE.parent)}: {name} has {lines} lines"
        for path in modules
        for name, lines in function_sizes(path)
        if lines > MAX_FUNCTION_LINES
    ]
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines in the engine; split them into named "
        "steps:\n" + "\n".join(too_long)
    )


def test_the_size_check_names_a_long_function(tmp_path: Path) -> None:
    lines = [
        "class Env:",
        "    def step(self):",
        *(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES)),
    ]
    module = tmp_path / "long.py"
    module.write_text("\n".join(lines) + "\n")
    assert function_sizes(module) == [("Env.step", MAX_FUNCTION_LINES + 1)]
