"""Trainer <-> rollout worker synchronisation through the model store
(docs/file-formats.md §12, §4).

Layout under `<prefix>/model/` (§8.1): checkpoint files `<N>_Step-<M>.ckpt<suffix>`, the pointer
`.coach_checkpoint` (text: the checkpoint name), the legacy TensorFlow index `checkpoint`, the
flags `.lock`, `.ready` and `.finished`, and `deepracer_checkpoints.json` (best / last).

Each checkpoint also gets `<N>_Step-<M>.ckpt.manifest.json`, listing its suffixes and sizes. It
is written after the data files have been read back intact and before the pointer, and deleted
first by retention, so a checkpoint counts as complete exactly when its manifest and every file
it lists are present with the listed sizes. Readers that meet a damaged or retired checkpoint
take the newest one that loads (`newest_loadable`), and the trainer repairs the pointer.

`.replay` (JSON: iteration, attempt) asks the workers to play an iteration again when every
batch of it was unusable; workers waiting for the next checkpoint get that iteration's one.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from markov.formats.layout import CHECKPOINT_MANIFEST_SUFFIX, RunLayout
from markov.store import ModelStore, StoreDecodeError, StoreKeyError

logger = logging.getLogger(__name__)

NUM_MODELS_TO_KEEP = 4

BestModelMetric = Literal["progress", "reward", "laptime"]
BEST_MODEL_METRICS: tuple[str, ...] = ("progress", "reward", "laptime")

_CHECKPOINT_NAME = re.compile(r"^(\d+)_Step-(\d+)\.ckpt$")
_CHECKPOINT_FILE = re.compile(r"^(\d+_Step-\d+\.ckpt)(\..+)$")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9_.-]+$")


class TrainingFinished(Exception):
    """The trainer marked the run finished (or the caller asked to stop) while waiting."""


class IncompleteCheckpoint(RuntimeError):
    """A checkpoint's files are missing or truncated (not fully published, or retired)."""


@dataclass(frozen=True, order=True)
class CheckpointRef:
    """Checkpoint `number` trained on `steps` cumulative environment steps."""

    number: int
    steps: int

    def __post_init__(self) -> None:
        for field_name in ("number", "steps"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"checkpoint {field_name} must be an integer >= 0, got {value!r}; pass the "
                    "checkpoint counter and the cumulative number of training steps"
                )

    @property
    def name(self) -> str:
        """The simapp checkpoint name, e.g. '12_Step-34567.ckpt'."""
        return f"{self.number}_Step-{self.steps}.ckpt"


def parse_checkpoint_name(text: str) -> CheckpointRef | None:
    """The reference named by `text` ('<N>_Step-<M>.ckpt'), or None if it is not such a name."""
    match = _CHECKPOINT_NAME.match(text.strip())
    return CheckpointRef(int(match.group(1)), int(match.group(2))) if match else None


def _checkpoint_files(store: ModelStore, prefix: str) -> dict[CheckpointRef, set[str]]:
    """Suffixes present for every checkpoint directly inside model/."""
    folder = RunLayout(prefix).model_file("")
    found: dict[CheckpointRef, set[str]] = {}
    for key in store.list(folder):
        match = _CHECKPOINT_FILE.match(key[len(folder) :])
        if match is None:
            continue
        ref = parse_checkpoint_name(match.group(1))
        if ref is not None:
            found.setdefault(ref, set()).add(match.group(2))
    return found


def _read_manifest(store: ModelStore, prefix: str, ref: CheckpointRef) -> dict[str, int] | None:
    try:
        manifest = store.get_json(RunLayout(prefix).checkpoint_manifest(ref.name))
    except (StoreKeyError, StoreDecodeError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in files.values()
    ):
        return None
    return dict(files)


def _validate_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    if not files:
        raise ValueError(
            "checkpoint files are empty; pass a dict of suffix -> bytes such as "
            "{'.safetensors': weights}"
        )
    for suffix, data in files.items():
        if not isinstance(suffix, str) or not _SUFFIX.match(suffix) or ".." in suffix:
            raise ValueError(
                f"checkpoint file suffix {suffix!r} is invalid; use a suffix starting with '.' "
                "made of letters, digits, '_', '-' and '.', such as '.safetensors'"
            )
        if suffix == CHECKPOINT_MANIFEST_SUFFIX:
            raise ValueError(
                f"checkpoint file suffix {suffix!r} is reserved for the manifest; rename it"
            )
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(
                f"checkpoint file {suffix!r} must be bytes, got {type(data).__name__}; "
                "serialise it before publishing"
            )
    return {suffix: bytes(data) for suffix, data in files.items()}


class CheckpointPublisher:
    """The trainer's side: publishes checkpoints, the run flags and the ip/ files."""

    def __init__(self, store: ModelStore, prefix: str, keep: int = NUM_MODELS_TO_KEEP) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(
                f"keep must be an integer >= 1, got {keep!r}; the simapp keeps "
                f"{NUM_MODELS_TO_KEEP} checkpoints"
            )
        self._store = store
        self._layout = RunLayout(prefix)
        self._prefix = self._layout.prefix
        self._keep = keep

    def publish(
        self,
        number: int,
        steps: int,
        files: Mapping[str, bytes],
        protect: Collection[str] = (),
    ) -> CheckpointRef:
        """Write checkpoint `number` under .lock, point .coach_checkpoint at it, apply retention.

        The pointer is written only after every file and the manifest, so a reader that follows
        the pointer always finds a complete checkpoint. Checkpoints named in `protect` (e.g. one
        a worker is still evaluating) survive this retention pass.
        """
        ref = CheckpointRef(number, steps)
        payload = _validate_files(files)
        self._store.put_text(self._layout.lock_flag, ref.name)
        try:
            for suffix, data in payload.items():
                self._store.put_bytes(self._layout.checkpoint_file(ref.name, suffix), data)
            self._verify_written(ref, payload)
            manifest = {
                "checkpoint": ref.name,
                "files": {suffix: len(data) for suffix, data in payload.items()},
                "time_stamp": time.time(),
            }
            self._store.put_json(self._layout.checkpoint_manifest(ref.name), manifest)
            self._store.put_text(self._layout.checkpoint_pointer, ref.name)
            self._store.put_text(
                self._layout.legacy_checkpoint_index, f'model_checkpoint_path: "{ref.name}"\n'
            )
            self.retire_old_checkpoints(ref, protect)
        finally:
            self._store.delete(self._layout.lock_flag)
        return ref

    def _verify_written(self, ref: CheckpointRef, payload: Mapping[str, bytes]) -> None:
        """Read every file back; a checkpoint is announced only when all of it is readable."""
        for suffix, data in payload.items():
            key = self._layout.checkpoint_file(ref.name, suffix)
            try:
                stored = self._store.get_bytes(key)
            except StoreKeyError:
                stored = None
            if stored != data:
                found = "missing" if stored is None else f"{len(stored)} bytes"
                raise IncompleteCheckpoint(
                    f"checkpoint {ref.name}: '{key}' reads back as {found}, expected "
                    f"{len(data)} bytes; it was not announced. Check the store's free space "
                    "and permissions, then restart the trainer (it resumes from the last "
                    "complete checkpoint)"
                )

    def repair_pointer(self, ref: CheckpointRef) -> None:
        """Point .coach_checkpoint (and the legacy index) at ``ref`` if they name another one."""
        try:
            current = self._store.get_text(self._layout.checkpoint_pointer).strip()
        except (StoreKeyError, StoreDecodeError):
            current = ""
        if current != ref.name:
            if current:
                logger.warning(
                    "checkpoint pointer %s named %s; it now names %s",
                    self._layout.checkpoint_pointer,
                    current[:80],
                    ref.name,
                )
            self._store.put_text(self._layout.checkpoint_pointer, ref.name)
            self._store.put_text(
                self._layout.legacy_checkpoint_index, f'model_checkpoint_path: "{ref.name}"\n'
            )

    def retire_old_checkpoints(self, newest: CheckpointRef, protect: Collection[str]) -> None:
        """Delete all but the newest `keep` checkpoints, the best, the last, `newest` and
        `protect`; each goes manifest first, so a reader never takes one whose files are going.
        """
        book = CheckpointBook(self._store, self._prefix).read()
        protected = {newest.name, *protect}
        protected.update(entry.name for entry in (book.best, book.last) if entry is not None)
        present = _checkpoint_files(self._store, self._prefix)
        protected.update(ref.name for ref in sorted(present, reverse=True)[: self._keep])
        for ref, suffixes in present.items():
            if ref.name in protected:
                continue
            ordered = sorted(suffixes, key=lambda suffix: suffix != CHECKPOINT_MANIFEST_SUFFIX)
            for suffix in ordered:
                self._store.delete(self._layout.checkpoint_file(ref.name, suffix))

    def clear_run_flags(self) -> None:
        """Remove .lock, .ready, .finished and .replay left by an earlier run in the prefix."""
        for key in self._layout.run_flags:
            self._store.delete(key)

    def mark_ready(self) -> None:
        """Create model/.ready: the trainer is up and checkpoint 0 is published."""
        self._store.put_text(self._layout.ready_flag, "")

    def mark_finished(self) -> None:
        """Create model/.finished: workers stop after their current iteration."""
        self._store.put_text(self._layout.finished_flag, "")

    def request_replay(self, iteration: int, attempt: int) -> None:
        """Ask the workers to play ``iteration`` again with its checkpoint (model/.replay).

        Used when every batch of that iteration was unusable: the workers already wait for the
        next checkpoint, which would never come. ``attempt`` tells repeated requests apart.
        """
        self._store.put_json(self._layout.replay_flag, {"iteration": iteration, "attempt": attempt})

    def clear_replay(self) -> None:
        """Remove model/.replay once the replayed iteration's batches have arrived."""
        self._store.delete(self._layout.replay_flag)

    def write_ip_files(
        self, hyperparameters_json: Mapping[str, Any], host: str | None = None
    ) -> None:
        """Write ip/hyperparameters.json, ip/ip.json and finally ip/done.

        `host` defaults to this machine's host name. No Redis runs here (episodes travel through
        the store), so ip.json is informational: it tells which host runs the trainer. `done` is
        written last so that a worker seeing it finds the other two files complete.
        """
        layout = self._layout
        self._store.put_json(layout.ip_hyperparameters, dict(hyperparameters_json))
        self._store.put_json(layout.ip_address, {"IP": host or socket.gethostname()})
        self._store.put_text(layout.ip_done, "done")


class CheckpointReader:
    """A rollout or evaluation worker's side: finds, waits for and loads checkpoints."""

    def __init__(self, store: ModelStore, prefix: str) -> None:
        self._store = store
        self._layout = RunLayout(prefix)
        self._prefix = self._layout.prefix
        self._replays_served: set[tuple[int, int]] = set()

    def replay_request(self) -> tuple[int, int] | None:
        """The (iteration, attempt) the trainer asked to be replayed, if any."""
        try:
            request = self._store.get_json(self._layout.replay_flag)
        except (StoreKeyError, StoreDecodeError):
            return None
        if not isinstance(request, dict):
            return None
        iteration, attempt = request.get("iteration"), request.get("attempt")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iteration, attempt)):
            return None
        return iteration, attempt

    def wait_until_ready(self, timeout_s: float | None, poll_s: float = 0.5) -> None:
        """Poll until the trainer created model/.ready: its inputs and checkpoint 0 exist.

        Raises TrainingFinished when .finished appears first, and TimeoutError naming the flag
        after ``timeout_s`` seconds (a limit only a trainer that never starts reaches).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        if not self.is_ready():
            logger.info(
                "waiting for the trainer: %s/%s does not exist yet",
                self._store.url,
                self._layout.ready_flag,
            )
        while not self.is_ready():
            if self.is_finished():
                raise TrainingFinished(
                    f"{self._store.url}/{self._layout.finished_flag} exists: training is finished"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout_s} s for the trainer to create "
                    f"{self._store.url}/{self._layout.ready_flag} (written once its inputs and "
                    "checkpoint 0 exist); is the trainer running on this prefix?"
                )
            time.sleep(poll_s)
        # a request left from before this worker started is not for it
        request = self.replay_request()
        if request is not None:
            self._replays_served.add(request)

    def load_usable(self, ref: CheckpointRef) -> tuple[CheckpointRef, dict[str, bytes]]:
        """Load ``ref``, or, when it was retired or damaged, the newest checkpoint that loads."""
        try:
            return ref, self.load(ref)
        except IncompleteCheckpoint as error:
            logger.warning("%s; taking the newest complete checkpoint instead", error)
        found, skipped = newest_loadable(self._store, self._prefix)
        for reason in skipped:
            logger.warning("skipped %s", reason)
        if found is None:
            raise IncompleteCheckpoint(
                f"no complete checkpoint under {self._store.url}/{self._layout.model_folder}; "
                "restart the trainer so that it publishes one"
            )
        return found, self.load(found)

    def is_ready(self) -> bool:
        """Whether the trainer created model/.ready."""
        return self._store.exists(self._layout.ready_flag)

    def is_finished(self) -> bool:
        """Whether the trainer created model/.finished."""
        return self._store.exists(self._layout.finished_flag)

    def latest(self) -> CheckpointRef | None:
        """The checkpoint named by .coach_checkpoint; None while .lock exists or if none yet."""
        if self._store.exists(self._layout.lock_flag):
            return None
        try:
            text = self._store.get_text(self._layout.checkpoint_pointer)
        except StoreKeyError:
            return None
        ref = parse_checkpoint_name(text)
        if ref is None:
            logger.warning(
                "ignoring malformed checkpoint pointer %r in %s/%s; expected '<N>_Step-<M>.ckpt'",
                text[:80],
                self._store.url,
                self._layout.checkpoint_pointer,
            )
        return ref

    def load(self, ref: CheckpointRef) -> dict[str, bytes]:
        """All files of checkpoint `ref` as suffix -> bytes (the manifest excluded).

        Raises IncompleteCheckpoint naming the missing or truncated files; that happens when
        retention removed an old checkpoint, so call latest() again.
        """
        manifest_key = self._layout.checkpoint_manifest(ref.name)
        manifest = _read_manifest(self._store, self._prefix, ref)
        if manifest is None:
            raise IncompleteCheckpoint(
                f"checkpoint {ref.name} in {self._store.url} has no readable manifest "
                f"'{manifest_key}'; it is being written or was retired, so ask latest() again"
            )
        files: dict[str, bytes] = {}
        problems = []
        for suffix, size in manifest.items():
            key = self._layout.checkpoint_file(ref.name, suffix)
            try:
                files[suffix] = self._store.get_bytes(key)
            except StoreKeyError:
                problems.append(f"'{key}' is missing")
                continue
            if len(files[suffix]) != size:
                problems.append(f"'{key}' has {len(files[suffix])} bytes, expected {size}")
        if problems:
            raise IncompleteCheckpoint(
                f"checkpoint {ref.name} in {self._store.url} is incomplete: "
                + "; ".join(problems)
                + "; ask latest() again or republish it"
            )
        return files

    def wait_for(
        self,
        number_at_least: int,
        timeout_s: float | None,
        poll_s: float = 0.5,
        stop: Callable[[], bool] | None = None,
    ) -> CheckpointRef:
        """Poll until the pointer names checkpoint >= `number_at_least` and return it.

        When the trainer asked to replay iteration ``number_at_least - 1`` (model/.replay) and
        this reader has not yet served that request, that iteration's checkpoint is returned.
        Raises TrainingFinished as soon as .finished exists (checked first, so a worker never
        plays an iteration nobody will train on) or `stop()` returns True, and TimeoutError
        after `timeout_s` seconds (None: wait forever).
        """
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s!r}; use e.g. 0.5 seconds")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen: CheckpointRef | None = None
        while True:
            if stop is not None and stop():
                raise TrainingFinished(
                    f"stopped by the caller while waiting for checkpoint >= {number_at_least}"
                )
            if self.is_finished():
                raise TrainingFinished(
                    f"{self._store.url}/{self._layout.finished_flag} exists: training is finished"
                )
            seen = self.latest()
            if seen is not None and seen.number >= number_at_least:
                return seen
            replay = self._replay_of(number_at_least - 1, seen)
            if replay is not None:
                return replay
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(
                    f"waited {timeout_s} s for checkpoint >= {number_at_least} in "
                    f"{self._store.url}/{self._layout.checkpoint_pointer}; last seen: "
                    f"{seen.name if seen else 'none (no pointer yet, or .lock present)'}"
                )
            time.sleep(poll_s if remaining is None else min(poll_s, remaining))


    def _replay_of(self, iteration: int, seen: CheckpointRef | None) -> CheckpointRef | None:
        if seen is None or seen.number != iteration or iteration < 0:
            return None
        request = self.replay_request()
        if request is None or request[0] != iteration or request in self._replays_served:
            return None
        self._replays_served.add(request)
        logger.warning("the trainer asked to replay iteration %d (attempt %d)", *request)
        return seen


@dataclass(frozen=True)
class BookEntry:
    """One checkpoint's evaluation summary in deepracer_checkpoints.json."""

    name: str
    avg_eval_metric: float | None
    time_stamp: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object written for this entry."""
        return {
            "name": self.name,
            "avg_eval_metric": self.avg_eval_metric,
            "time_stamp": self.time_stamp,
        }


@dataclass(frozen=True)
class BookState:
    """The best and the last evaluated checkpoints; either may be unknown."""

    best: BookEntry | None
    last: BookEntry | None


def _finite_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _entry_from_json(raw: Any) -> BookEntry | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    metric = raw["avg_eval_metric"] if "avg_eval_metric" in raw else raw.get("avg_comp_pct")
    return BookEntry(raw["name"], _finite_or_none(metric), _finite_or_none(raw.get("time_stamp")))


def _is_better(candidate: float, incumbent: float | None, metric: str) -> bool:
    if incumbent is None:
        return True
    return candidate < incumbent if metric == "laptime" else candidate > incumbent


class CheckpointBook:
    """model/deepracer_checkpoints.json: which checkpoint was evaluated last and which is best."""

    def __init__(self, store: ModelStore, prefix: str) -> None:
        self._store = store
        self.key = RunLayout(prefix).checkpoint_book

    def read(self) -> BookState:
        """The current state; a missing file (a new training) gives an empty state.

        Both `avg_eval_metric` and the older `avg_comp_pct` are accepted. An unreadable file is
        logged and treated as empty, because the book only guides retention and model choice.
        """
        try:
            raw = self._store.get_json(self.key)
        except StoreKeyError:
            return BookState(best=None, last=None)
        except StoreDecodeError as error:
            logger.warning("ignoring unreadable checkpoint book: %s", error)
            return BookState(best=None, last=None)
        if not isinstance(raw, dict):
            logger.warning(
                "ignoring checkpoint book %s/%s: not a JSON object", self._store.url, self.key
            )
            return BookState(best=None, last=None)
        return BookState(
            best=_entry_from_json(raw.get("best_checkpoint")),
            last=_entry_from_json(raw.get("last_checkpoint")),
        )

    def record(
        self, name: str, avg_eval_metric: float | None, metric: BestModelMetric = "progress"
    ) -> BookState:
        """Record an evaluation of checkpoint `name`: it becomes last, and best if it beats it.

        Higher is better for progress and reward, lower for laptime. A value of None, NaN or
        infinity (e.g. no lap completed) is stored as null and never becomes best. Ties keep
        the earlier best.
        """
        if metric not in BEST_MODEL_METRICS:
            raise ValueError(
                f"best model metric {metric!r} is not supported; use one of {BEST_MODEL_METRICS}"
            )
        if parse_checkpoint_name(name) is None:
            raise ValueError(
                f"checkpoint name {name!r} is invalid; use the published name, e.g. "
                "'3_Step-2231.ckpt'"
            )
        value = _finite_or_none(avg_eval_metric)
        entry = BookEntry(name, value, time.time())
        current = self.read()
        best = current.best
        incumbent = None if best is None else best.avg_eval_metric
        if value is not None and _is_better(value, incumbent, metric):
            best = entry
        document: dict[str, Any] = {}
        if best is not None:
            document["best_checkpoint"] = best.to_json()
        document["last_checkpoint"] = entry.to_json()
        self._store.put_json(self.key, document)
        return BookState(best=best, last=entry)


def newest_loadable(
    store: ModelStore,
    prefix: str,
    validate: Callable[[Mapping[str, bytes]], None] | None = None,
) -> tuple[CheckpointRef | None, list[str]]:
    """The newest checkpoint whose files all load, and why each newer one was skipped.

    A checkpoint loads when its manifest is readable and every listed file is present with the
    listed size; ``validate`` (e.g. deserialising the weights) may reject it by raising.
    """
    present = _checkpoint_files(store, prefix)
    reader = CheckpointReader(store, prefix)
    skipped: list[str] = []
    for ref in sorted(present, reverse=True):
        try:
            files = reader.load(ref)
            if validate is not None:
                validate(files)
        except Exception as error:  # any unreadable file makes the checkpoint unusable
            skipped.append(f"{ref.name}: {error}")
            continue
        return ref, skipped
    return None, skipped


def find_resume_point(
    store: ModelStore,
    prefix: str,
    validate: Callable[[Mapping[str, bytes]], None] | None = None,
) -> CheckpointRef | None:
    """The checkpoint a restarted trainer should continue from, or None for a fresh start.

    That is the newest checkpoint whose files all load (see :func:`newest_loadable`); each
    newer one that does not is logged with the reason. A stale .lock is ignored.
    """
    ref, skipped = newest_loadable(store, prefix, validate)
    for reason in skipped:
        logger.warning("skipped checkpoint %s", reason)
    return ref
