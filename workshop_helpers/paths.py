"""Where the workshop's files live: the repository, its artifacts, the runs and the build output.

Everything is found from this package's own location, so the notebooks work from any current
directory. Only the runs folder can move: set ``DR_RUNS_DIR`` to keep runs elsewhere.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

RUNS_DIR_ENV = "DR_RUNS_DIR"


def repo_root() -> Path:
    """The repository folder that holds ``workshop_helpers/`` and ``src/``."""
    return Path(__file__).resolve().parent.parent


def markov_dir() -> Path:
    """The engine's source folder, ``src/markov``."""
    return repo_root() / "src" / "markov"


def artifacts_dir() -> Path:
    """``src/artifacts``: YAML templates, action-space presets and reward examples."""
    return repo_root() / "src" / "artifacts"


def runs_dir() -> Path:
    """Where experiments keep the learner's inputs and the local store: ``$DR_RUNS_DIR`` or
    ``<repo>/runs`` (git-ignored)."""
    override = os.environ.get(RUNS_DIR_ENV)
    return Path(override).expanduser().resolve() if override else repo_root() / "runs"


def build_dir() -> Path:
    """``<repo>/build``: generated bundles such as ``output.tar.gz`` (not committed)."""
    return repo_root() / "build"


def artifact_names(folder: str, suffix: str) -> list[str]:
    """Names (file stems) of the artifacts in ``src/artifacts/<folder>`` ending in ``suffix``."""
    return sorted(path.stem for path in (artifacts_dir() / folder).glob(f"*{suffix}"))


def artifact_file(folder: str, name: str, suffix: str, what: str) -> Path:
    """The artifact ``name`` in ``src/artifacts/<folder>``, or an error listing the choices."""
    stem = name.removesuffix(suffix)
    path = artifacts_dir() / folder / f"{stem}{suffix}"
    if not path.is_file():
        names = artifact_names(folder, suffix)
        close = difflib.get_close_matches(stem, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise FileNotFoundError(f"no {what} {name!r}; {hint}Available: {', '.join(names)}")
    return path


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a learner should read it: from the runs folder (``runs/...``, wherever
    ``DR_RUNS_DIR`` put that folder) or from the repository, else as is.

    Also accepts ``file://`` store URLs. Notebook outputs stay free of machine paths.
    """
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        return text  # s3://bucket and other URLs are no machine paths
    target = Path(text.removeprefix("file://"))
    for root, label in ((runs_dir(), "runs"), (repo_root(), ".")):
        try:
            relative = target.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        return label if relative == "." else f"{label}/{relative}"
    return text
