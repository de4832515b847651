"""Experiments: one id per training run that names its folder, its store prefix and its jobs.

An experiment id looks like ``<name>-YYYYmmdd-HHMMSS-<4 hex>`` (UTC time), so two runs never
collide, even when started in the same second. The learner's inputs are kept in
``runs/<id>/`` and described by ``runs/<id>/experiment.json``; the run's files in the store live
under the prefix ``<id>``. The local backend's store is the folder ``runs/store``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from markov.environment.deepracer_racetrack_env import DEFAULT_TRACK
from markov.store import ModelStore, open_store
from markov.tracks import TrackNotFoundError, load_track
from workshop_helpers.paths import runs_dir, shown_path

BACKENDS = ("local", "aws")
DEFAULT_NAME = "dr"
MAX_NAME_LENGTH = 40
EXPERIMENT_FILE = "experiment.json"
LOCAL_STORE_FOLDER = "store"

_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9-]{{0,{MAX_NAME_LENGTH - 1}}}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_REQUIRED_KEYS = ("id", "backend", "store_url", "prefix")


class ExperimentError(ValueError):
    """An experiment name, backend or record that cannot be used."""


class ExperimentNotFoundError(LookupError):
    """No saved experiment matches the request."""


@dataclass(frozen=True)
class Experiment:
    """One training run: its id, backend, store and the track it trains on."""

    id: str
    backend: str
    store_url: str
    prefix: str
    world_name: str = DEFAULT_TRACK
    created: str = ""

    @property
    def folder(self) -> Path:
        """``runs/<id>/``: the learner's inputs (model metadata, reward, YAML) for this run."""
        return runs_dir() / self.id

    @property
    def bucket(self) -> str:
        """Value of the YAML ``*_BUCKET`` keys: the S3 bucket, or the local store folder's name."""
        parsed = urlparse(self.store_url)
        if parsed.scheme == "s3":
            return parsed.netloc
        return Path(parsed.path if parsed.scheme == "file" else self.store_url).name

    def open_store(self) -> ModelStore:
        """The model store that trainer and workers of this run share."""
        return open_store(self.store_url)

    def input_path(self, name: str) -> Path:
        """Path of one of the learner's input files in ``runs/<id>/`` (a plain file name)."""
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ExperimentError(
                f"input file name {name!r} is not a plain file name; inputs live directly in "
                f"runs/{self.id}/, e.g. 'reward_function.py'"
            )
        return self.folder / name

    def write_input(self, name: str, text: str, overwrite: bool = False) -> Path:
        """Write an input file atomically; an existing file is kept unless ``overwrite``."""
        path = self.input_path(name)
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{shown_path(path)} already exists and holds your earlier {name}; pass "
                "overwrite=True to "
                "replace it, or keep the file as it is"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
        return path

    def save(self) -> Path:
        """Record this experiment in ``runs/<id>/experiment.json`` and return that path."""
        text = json.dumps(asdict(self), indent=2) + "\n"
        return self.write_input(EXPERIMENT_FILE, text, overwrite=True)


def new_experiment(
    name: str | None = None,
    backend: str = "local",
    *,
    world_name: str = DEFAULT_TRACK,
    store_url: str | None = None,
) -> Experiment:
    """Create and save a new experiment with a unique id.

    ``name``: letters, digits and dashes, at most 40 characters (default "dr").
    ``backend``: "local" (store: the folder ``runs/store``) or "aws" (``store_url`` is required,
    e.g. "s3://my-bucket").
    """
    base = DEFAULT_NAME if name is None else _checked_name(name)
    url = _store_url(backend, store_url)
    _check_local_store(backend, url, "store_url")
    check_track_available(world_name)
    while True:
        now = datetime.now(UTC)
        experiment_id = f"{base}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        try:
            (runs_dir() / experiment_id).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        break
    experiment = Experiment(
        id=experiment_id,
        backend=backend,
        store_url=url,
        prefix=experiment_id,
        world_name=world_name,
        created=now.isoformat(timespec="microseconds"),
    )
    experiment.save()
    return experiment


def load_experiment(experiment_id: str) -> Experiment:
    """The experiment saved as ``runs/<id>/experiment.json``."""
    if not isinstance(experiment_id, str) or not _ID.fullmatch(experiment_id):
        raise ExperimentError(
            f"experiment id {experiment_id!r} is not an id; ids look like "
            "'dr-20260101-120000-1a2b' (see list_experiments())"
        )
    path = runs_dir() / experiment_id / EXPERIMENT_FILE
    if not path.is_file():
        known = [experiment.id for experiment in list_experiments()]
        close = difflib.get_close_matches(experiment_id, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ExperimentNotFoundError(
            f"no experiment {experiment_id!r} in {runs_dir()}.{hint} "
            "Use list_experiments() to see the saved ones, or new_experiment() to start one."
        )
    return _read(path)


def list_experiments() -> list[Experiment]:
    """All saved experiments, oldest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    records = sorted(root.glob(f"*/{EXPERIMENT_FILE}"))
    experiments = [_read(path) for path in records]
    return sorted(experiments, key=lambda experiment: (experiment.created, experiment.id))


def latest_experiment() -> Experiment:
    """The most recently created experiment."""
    experiments = list_experiments()
    if not experiments:
        raise ExperimentNotFoundError(
            f"no experiment saved in {runs_dir()}; create one with new_experiment() "
            "(notebook 00) first"
        )
    return experiments[-1]


def check_track_available(world_name: str) -> None:
    """Refuse a track this machine cannot load (an official track neither in DR_TRACKS_DIR nor
    in the cache, and not downloadable now), saying how to get it: fetch it or set
    DR_TRACKS_DIR. An official track that is missing is downloaded here when possible."""
    try:
        load_track(world_name)
    except TrackNotFoundError as error:
        raise TrackNotFoundError(
            f"An experiment cannot use the track {world_name!r}: {error}", error.reason
        ) from None


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ExperimentError(
            f"experiment name {name!r} is not allowed; use letters, digits and dashes, starting "
            f"with a letter or digit, at most {MAX_NAME_LENGTH} characters (e.g. 'oval-fast')"
        )
    return name


def _store_url(backend: str, store_url: str | None) -> str:
    if backend not in BACKENDS:
        raise ExperimentError(
            f"backend is {backend!r}; use 'local' (this machine) or 'aws' (SageMaker)"
        )
    if backend == "local":
        return store_url or (runs_dir() / LOCAL_STORE_FOLDER).as_uri()
    parsed = urlparse(store_url or "")
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ExperimentError(
            f"store_url is {store_url!r}; the 'aws' backend needs an S3 store such as "
            "store_url='s3://my-deepracer-bucket'"
        )
    return store_url


def _read(path: Path) -> Experiment:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ExperimentError(
            f"{path} is not valid JSON ({error}); fix it or delete the experiment folder"
        ) from None
    if not isinstance(record, dict) or not set(_REQUIRED_KEYS) <= set(record):
        raise ExperimentError(
            f"{path} must hold the keys {', '.join(_REQUIRED_KEYS)}; it was not written by "
            "Experiment.save(), so delete it or recreate the experiment"
        )
    names = {field.name for field in fields(Experiment)}
    experiment = Experiment(**{key: value for key, value in record.items() if key in names})
    _check_record(experiment, path)
    return experiment


def _check_record(experiment: Experiment, path: Path) -> None:
    """Refuse a (hand-edited) record whose id, prefix or store would take helpers outside
    ``runs/`` or into another experiment's files."""
    shown = shown_path(path)
    fix = "restore the value Experiment.save() wrote, or create a new experiment"
    for key in fields(Experiment):
        value = getattr(experiment, key.name)
        if not isinstance(value, str):
            raise ExperimentError(f"{shown}: {key.name} is {value!r}; it must be text. {fix}")
    if not _ID.fullmatch(experiment.id) or experiment.id != path.parent.name:
        raise ExperimentError(
            f"{shown}: id is {experiment.id!r}; it must be the name of its folder "
            f"({path.parent.name!r}): letters, digits and dashes only. {fix}"
        )
    segments = experiment.prefix.split("/")
    if not experiment.prefix or not all(_PREFIX_SEGMENT.fullmatch(part) for part in segments):
        raise ExperimentError(
            f"{shown}: prefix is {experiment.prefix!r}; it must be a store prefix such as "
            f"{experiment.id!r} (letters, digits, '-', '_' and '.', separated by '/', no '..'). "
            f"{fix}"
        )
    if experiment.backend not in BACKENDS:
        raise ExperimentError(
            f"{shown}: backend is {experiment.backend!r}; use one of {', '.join(BACKENDS)}. {fix}"
        )
    _check_local_store(experiment.backend, experiment.store_url, f"{shown}: store_url")


def _check_local_store(backend: str, store_url: str, what: str) -> None:
    """A local store must be a folder inside the runs folder, so helpers only write there."""
    if backend != "local":
        return
    parsed = urlparse(store_url)
    folder = Path(parsed.path if parsed.scheme == "file" else store_url).expanduser()
    root = runs_dir().resolve()
    if parsed.scheme not in ("", "file") or not folder.resolve().is_relative_to(root):
        raise ExperimentError(
            f"{what} is {store_url!r}; the local backend keeps its store inside the runs folder "
            f"({shown_path(root)}): leave store_url out to use "
            f"{shown_path(root / LOCAL_STORE_FOLDER)}"
        )
