"""The launcher that AWS's prebuilt PyTorch training image runs (``sagemaker_program``).

The bundle carries this file as ``dr_launcher.py`` at its top level, next to ``markov/`` and
``dr_requirements.txt``. SageMaker's training toolkit unpacks the bundle into its code folder
and runs ``python dr_launcher.py --<hyperparameter> <value> ...``. The launcher:

1. installs only the requirements the image lacks (one ``pip install``; the image already has
   torch, numpy and boto3, so a job starts in seconds, not minutes);
2. becomes ``python -m markov.runners.job train`` (exec, so stop signals reach it) with the
   code folder first on ``PYTHONPATH`` and ``DR_CODE_DIR`` set, so the entry point uses this
   code instead of fetching the bundle.

It uses only the standard library: nothing else is installed when it starts. The command-line
arguments are ignored; the entry point reads the same values from ``hyperparameters.json``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

REQUIREMENTS = "dr_requirements.txt"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
_LOWER_BOUND = re.compile(r">=\s*([0-9][0-9.]*)")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def satisfied(requirement: str, installed: Callable[[str], str | None]) -> bool:
    """True when the distribution is installed at or above the requirement's ``>=`` bound."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        return False
    version = installed(match.group(1))
    if version is None:
        return False
    bound = _LOWER_BOUND.search(match.group(2))
    return bound is None or _version_tuple(version) >= _version_tuple(bound.group(1))


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing_requirements(
    lines: Iterable[str], installed: Callable[[str], str | None] = installed_version
) -> list[str]:
    """The requirement lines (comments and blanks skipped) that the image does not satisfy."""
    wanted = [line.split("#", 1)[0].strip() for line in lines]
    return [line for line in wanted if line and not satisfied(line, installed)]


def install_command(requirements: list[str]) -> list[str]:
    """One quiet pip call for every missing requirement."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-cache-dir",
        "--disable-pip-version-check",
        *requirements,
    ]


def main() -> int:
    """Install what is missing, then become the job's entry point (returns only on failure)."""
    code_dir = Path(__file__).resolve().parent
    requirements_file = code_dir / REQUIREMENTS
    lines = requirements_file.read_text(encoding="utf-8").splitlines()
    missing = missing_requirements(lines)
    if missing:
        print(f"dr_launcher: installing {', '.join(missing)}", flush=True)
        result = subprocess.run(install_command(missing), check=False)
        if result.returncode != 0:
            reason = f"dr_launcher: pip could not install {', '.join(missing)}"
            print(reason, flush=True)
            output = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
            output.mkdir(parents=True, exist_ok=True)
            (output / "failure").write_text(reason, encoding="utf-8")
            return result.returncode
    env = dict(os.environ)
    paths = [str(code_dir), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    env["DR_CODE_DIR"] = str(code_dir)
    command = [sys.executable, "-m", "markov.runners.job", "train"]
    os.execve(sys.executable, command, env)  # the entry point receives SageMaker's stop signal
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
