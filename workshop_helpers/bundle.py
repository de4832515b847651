"""Package the engine for remote jobs and copy a run's inputs into its store.

``build_bundle`` writes ``build/output.tar.gz`` with ``markov/`` (the engine) and ``artifacts/``
(templates, presets, examples), plus ``dr_launcher.py`` and ``dr_requirements.txt`` for AWS's
prebuilt training image (``markov.runners.sagemaker``); the same bytes for the same sources, so
a job can tell whether its code changed. ``upload_run_inputs`` puts the learner's files from
``runs/<id>/`` under the keys that the workers read (``markov.formats.run_inputs``), plus the
bundle.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

from markov.environment.model_metadata import load_model_metadata
from markov.formats.checkpoints import find_resume_point
from markov.formats.layout import (
    REWARD_FUNCTION_NAME,
    TRAINING_PARAMS_NAME,
    RunLayout,
    worker_params_number,
)
from markov.formats.run_inputs import write_run_inputs
from markov.presets.preset import Hyperparameters, load_hyperparameters
from workshop_helpers.experiment import Experiment
from workshop_helpers.model_config import HYPERPARAMETERS_FILE, MODEL_METADATA_FILE
from workshop_helpers.paths import artifacts_dir, build_dir, markov_dir
from workshop_helpers.yaml_params import validate_params

BUNDLE_NAME = "output.tar.gz"
BUNDLE_KEY = RunLayout().code_bundle
"""The bundle's key below a run's prefix."""
FIXED_MTIME = 1_577_836_800
"""Every entry's time stamp (2020-01-01 UTC), so rebuilding unchanged sources gives equal bytes."""
EXCLUDED_NAMES = ("__pycache__",)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
"""Uploads smaller than this finish quickly and show no progress bar."""


class RunInputsError(ValueError):
    """The learner's inputs are incomplete or would overwrite a run that already trained."""


def build_bundle(out: Path | None = None) -> Path:
    """Write the reproducible engine bundle (default ``build/output.tar.gz``) atomically."""
    target = Path(out) if out is not None else build_dir() / BUNDLE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
                with tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar:
                    for source, name in _entries():
                        _add(tar, source, name)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)
    return target


def bundle_manifest(path: Path) -> list[str]:
    """The entry names of a bundle, in archive order."""
    with tarfile.open(path, mode="r:gz") as tar:
        return tar.getnames()


def upload_run_inputs(
    experiment: Experiment,
    *,
    world_name: str,
    num_workers: int,
    worker_params: Mapping[int, Mapping[str, Any]] | None = None,
    bundle: bool | Path = True,
) -> list[str]:
    """Copy the learner's inputs (and the bundle) into the experiment's store prefix.

    Reads ``runs/<id>/``: model_metadata.json and reward_function.py (required),
    hyperparameters.json (workshop defaults if absent), training_params.yaml and
    training_params_<i>.yaml (optional; their keys override the engine's defaults, and
    ``worker_params`` overrides per worker). Refuses when the run already has checkpoints,
    because changing the inputs of a trained model would make its files disagree.
    ``bundle``: True builds a fresh ``build/output.tar.gz`` and uploads it, a path uploads that
    bundle, False uploads none. Returns the store keys written.
    """
    store, prefix = experiment.open_store(), experiment.prefix
    resume_point = find_resume_point(store, prefix)
    if resume_point is not None:
        raise RunInputsError(
            f"run {prefix!r} in {store.url} already has checkpoint {resume_point.name}; its "
            "inputs are kept so the model and its files agree. Start a new experiment with "
            "new_experiment() to train with changed inputs."
        )
    params = _read_yaml(experiment, TRAINING_PARAMS_NAME)
    if params:
        validate_params(params)
    _check_agrees(params, "WORLD_NAME", world_name)
    _check_agrees(params, "NUM_WORKERS", str(num_workers))
    per_worker = _worker_files(experiment)
    for worker, extra in (worker_params or {}).items():
        per_worker[worker] = {**per_worker.get(worker, {}), **extra}
    write_run_inputs(
        store,
        prefix,
        world_name=world_name,
        num_workers=num_workers,
        model_metadata=load_model_metadata(_required(experiment, MODEL_METADATA_FILE)),
        hyperparameters=_hyperparameters(experiment),
        reward_source=_required(experiment, REWARD_FUNCTION_NAME).read_text(encoding="utf-8"),
        params=params,
        worker_params=per_worker,
        overwrite=True,
    )
    layout = RunLayout(prefix)
    keys = [layout.training_params, layout.reward_function]
    keys += [layout.worker_training_params(worker) for worker in sorted(per_worker)]
    keys += [layout.model_metadata, layout.hyperparameters]
    if bundle is not False:
        data = (build_bundle() if bundle is True else Path(bundle)).read_bytes()
        key = layout.code_bundle
        with tqdm(
            total=len(data),
            unit="B",
            unit_scale=True,
            desc="upload bundle",
            disable=len(data) < PROGRESS_MIN_BYTES,
        ) as progress:
            store.put_bytes(key, data)
            progress.update(len(data))
        keys.append(key)
    return keys


def launcher_requirements() -> str:
    """The engine's runtime requirements (no extras), one per line, for the launcher."""
    try:
        required = importlib.metadata.requires("deepracer-workshop") or []
    except importlib.metadata.PackageNotFoundError:
        required = []
    return "".join(f"{line}\n" for line in required if ";" not in line)


def _entries() -> list[tuple[Path | bytes, str]]:
    """(source path or bytes, archive name) of every folder and file, sorted by archive name."""
    entries: list[tuple[Path | bytes, str]] = [
        (markov_dir() / "runners" / "sagemaker.py", "dr_launcher.py"),
        (launcher_requirements().encode(), "dr_requirements.txt"),
    ]
    for root, top in ((markov_dir(), "markov"), (artifacts_dir(), "artifacts")):
        entries.append((root, top))
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if any(part in EXCLUDED_NAMES for part in relative.parts):
                continue
            if path.suffix in EXCLUDED_SUFFIXES:
                continue
            entries.append((path, f"{top}/{relative.as_posix()}"))
    return sorted(entries, key=lambda entry: entry[1])


def _add(tar: tarfile.TarFile, source: Path | bytes, name: str) -> None:
    """Add one entry with fixed time, owner and permissions."""
    info = tarfile.TarInfo(name)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if isinstance(source, Path) and source.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    data = source if isinstance(source, bytes) else source.read_bytes()
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _required(experiment: Experiment, name: str) -> Path:
    path = experiment.input_path(name)
    if not path.is_file():
        raise RunInputsError(
            f"{path} is missing; write it first (write_model_metadata for the model, "
            "write_reward_function for the reward function)"
        )
    return path


def _hyperparameters(experiment: Experiment) -> Hyperparameters:
    path = experiment.input_path(HYPERPARAMETERS_FILE)
    return load_hyperparameters(path) if path.is_file() else Hyperparameters()


def _read_yaml(experiment: Experiment, name: str) -> dict[str, Any]:
    path = experiment.input_path(name)
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise RunInputsError(f'{path} must be a YAML mapping of KEY: "value" lines')
    return loaded


def _worker_files(experiment: Experiment) -> dict[int, dict[str, Any]]:
    found = {}
    for path in sorted(experiment.folder.glob("*.yaml")):
        worker = worker_params_number(path.name)
        if worker is not None:
            found[worker] = _read_yaml(experiment, path.name)
    return found


def _check_agrees(params: Mapping[str, Any], key: str, expected: str) -> None:
    if key in params and str(params[key]) != expected:
        raise RunInputsError(
            f"{key} is {params[key]!r} in training_params.yaml but the upload asks for "
            f"{expected!r}; make them agree (rewrite the YAML or change the argument)"
        )
