"""RunLayout names every file of a run (docs/file-formats.md §8); nothing else spells a key.

The first tests pin each key to the exact string the DeepRacer tools (DRfC, deepracer-utils,
the simapp) and this package's readers expect; the last one walks the package's sources so a
key spelled outside ``markov/formats/layout.py`` fails with its file, line and text.
"""

from __future__ import annotations

import ast
import inspect
import re
from datetime import datetime
from pathlib import Path

import pytest

from markov.formats.layout import (
    RunLayout,
    format_run_timestamp,
    simtrace_iteration_key,
    worker_metrics_key,
    worker_params_number,
)

ROOT = Path(__file__).resolve().parents[2]
STAMP = "20260102030405"

PINNED_KEYS: list[tuple[str, tuple | None, object]] = [
    ("training_params", None, "exp/training_params.yaml"),
    ("worker_training_params", (2,), "exp/training_params_2.yaml"),
    ("evaluation_params", (STAMP,), f"exp/evaluation_params_{STAMP}.yaml"),
    ("reward_function", None, "exp/reward_function.py"),
    ("hyperparameters", None, "exp/hyperparameters.json"),
    ("code_bundle", None, "exp/build/output.tar.gz"),
    ("sagemaker_output", None, "exp/train-output"),
    ("model_folder", None, "exp/model"),
    ("model_file", ("x",), "exp/model/x"),
    ("model_metadata", None, "exp/model/model_metadata.json"),
    ("checkpoint_pointer", None, "exp/model/.coach_checkpoint"),
    ("legacy_checkpoint_index", None, "exp/model/checkpoint"),
    ("checkpoint_book", None, "exp/model/deepracer_checkpoints.json"),
    ("checkpoint_file", ("3_Step-2.ckpt", ".safetensors"), "exp/model/3_Step-2.ckpt.safetensors"),
    ("checkpoint_manifest", ("3_Step-2231.ckpt",), "exp/model/3_Step-2231.ckpt.manifest.json"),
    ("trainer_state", None, "exp/model/trainer_state.pt"),
    ("lock_flag", None, "exp/model/.lock"),
    ("ready_flag", None, "exp/model/.ready"),
    ("finished_flag", None, "exp/model/.finished"),
    ("replay_flag", None, "exp/model/.replay"),
    (
        "run_flags",
        None,
        ("exp/model/.lock", "exp/model/.ready", "exp/model/.finished", "exp/model/.replay"),
    ),
    ("ip_hyperparameters", None, "exp/ip/hyperparameters.json"),
    ("ip_address", None, "exp/ip/ip.json"),
    ("ip_done", None, "exp/ip/done"),
    ("metrics_folder", None, "exp/metrics"),
    ("training_metrics", (0,), "exp/metrics/TrainingMetrics.json"),
    ("training_metrics", (2,), "exp/metrics/TrainingMetrics_2.json"),
    ("evaluation_metrics", (STAMP,), f"exp/metrics/EvaluationMetrics-{STAMP}.json"),
    ("trainer_log", None, "exp/metrics/trainer.json"),
    ("training_simtrace", (0, 1), "exp/training-simtrace"),
    ("training_simtrace", (0, 3), "exp/0/training-simtrace"),
    ("training_simtrace", (2, 3), "exp/2/training-simtrace"),
    ("evaluation_folder", (STAMP,), f"exp/evaluation-{STAMP}"),
    ("evaluation_simtrace", (STAMP,), f"exp/evaluation-{STAMP}/evaluation-simtrace"),
    ("training_video_folder", None, "exp/iteration-data/training"),
    ("evaluation_video_folder", None, "exp/mp4"),
    ("evaluation_video", (STAMP,), f"exp/mp4/evaluation-{STAMP}.mp4"),
    ("episodes_folder", None, "exp/episodes"),
    ("episode_iteration_folder", (3,), "exp/episodes/iteration-3"),
    ("episode_batch", (3, 1), "exp/episodes/iteration-3/worker-1.npz"),
    ("live_file", (1, "x.png"), "exp/live/worker-1/x.png"),
    ("live_camera", (1,), "exp/live/worker-1/camera.png"),
    ("live_topdown", (1,), "exp/live/worker-1/topdown.png"),
    ("live_status", (1,), "exp/live/worker-1/status.json"),
    ("export_archive", ("best",), "exp/export/best-model.tar.gz"),
    ("logs_folder", None, "exp/logs"),
    ("process_log", ("rollout-1",), "exp/logs/rollout-1.log"),
    ("runner_result", None, "exp/runner_result.json"),
    ("runner_marker", None, "exp/runner.json"),
    ("write_probe", None, "exp/.write-test"),
    ("key", ("a/b",), "exp/a/b"),
]
"""(RunLayout member, its arguments or None for a property, the exact key of run ``exp``)."""


def _key_of(layout: RunLayout, member: str, arguments: tuple | None) -> object:
    value = getattr(layout, member)
    return value if arguments is None else value(*arguments)


def test_every_key_of_a_run_is_the_one_the_deepracer_tools_expect() -> None:
    layout = RunLayout("exp/")
    for member, arguments, expected in PINNED_KEYS:
        assert _key_of(layout, member, arguments) == expected, (member, arguments)


def test_every_public_member_of_the_layout_is_pinned() -> None:
    """A key added to RunLayout without a pinned string here fails, naming the member."""
    members = {
        name for name, _ in inspect.getmembers(RunLayout) if not name.startswith("_")
    } - {"prefix"}
    pinned = {member for member, _, _ in PINNED_KEYS}
    assert members - pinned == set(), "pin these RunLayout members in PINNED_KEYS"


def test_a_run_at_the_store_root_has_keys_without_a_leading_slash() -> None:
    layout = RunLayout("")
    assert layout.model_metadata == "model/model_metadata.json"
    assert layout.training_metrics(1) == "metrics/TrainingMetrics_1.json"
    assert layout.training_simtrace(0, 1) == "training-simtrace"
    assert layout.worker_training_params(1) == "training_params_1.yaml"
    assert layout.episode_batch(0, 0) == "episodes/iteration-0/worker-0.npz"


def test_helpers_for_keys_that_come_from_yaml_files() -> None:
    assert simtrace_iteration_key("exp/evaluation-x/evaluation-simtrace/", 0) == (
        "exp/evaluation-x/evaluation-simtrace/0-iteration.csv"
    )
    assert worker_metrics_key("exp/training_metrics.json", 0) == "exp/training_metrics.json"
    assert worker_metrics_key("exp/training_metrics.json", 2) == "exp/training_metrics_2.json"
    assert worker_params_number("training_params_12.yaml") == 12
    assert worker_params_number("training_params.yaml") is None
    assert format_run_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == STAMP


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RunLayout("exp").training_metrics(-1), "worker must be an integer >= 0"),
        (lambda: RunLayout("exp").episode_batch(-1, 0), "iteration must be an integer >= 0"),
        (lambda: RunLayout("exp").training_simtrace(3, 3), "worker must be an integer in 0..2"),
        (lambda: RunLayout("exp").evaluation_folder("today"), "14 digits YYYYmmddHHMMSS"),
        (lambda: simtrace_iteration_key("exp", True), "simtrace iteration must be an integer"),
    ],
)
def test_bad_indices_and_ids_are_refused_with_the_fix(call, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# -- no store key outside layout.py -------------------------------------------------------------

SCANNED = ("src/markov", "workshop_helpers", "bench")
LAYOUT_MODULE = "src/markov/formats/layout.py"

FILE_FRAGMENTS = (
    "model_metadata.json",
    "deepracer_checkpoints.json",
    "hyperparameters.json",
    "trainer.json",
    "trainer_state",
    "runner_result",
    "runner.json",
    "TrainingMetrics",
    "EvaluationMetrics",
    ".coach_checkpoint",
    ".manifest.json",
    "training_params",
    "evaluation_params",
    "training-simtrace",
    "evaluation-simtrace",
    "-iteration.csv",
    "iteration-data",
    "-model.tar.gz",
    "reward_function.py",
    "ip.json",
    "camera.png",
    "topdown.png",
    ".write-test",
    "train-output",
)
"""Names of a run's files. A string without spaces that contains one is a key or a file name;
in a sentence they count only as part of a built path (right after '/' or a placeholder)."""

FOLDER_FRAGMENTS = ("model/", "ip/", "metrics/", "episodes/", "export/", "live/", "mp4/", "build/",
                    "logs/")
"""Folders of a run, counted at the start of a string or right after '/' or a placeholder."""

ALLOWED: dict[tuple[str, str], str] = {
    ("workshop_helpers/analysis/logs.py", "training-simtrace/"): "patterns that recognise the "
    "folders of other tools (DRfC variants, console download, DRoA), which the package reads "
    "but does not write",
    ("workshop_helpers/analysis/logs.py", "evaluation-simtrace/"): "the same reader patterns",
    ("workshop_helpers/analysis/logs.py", "metrics/"): "the same reader patterns",
    ("workshop_helpers/__init__.py", "training_params_"): "names of helper functions in the "
    "notebooks' import map, not keys",
    ("workshop_helpers/__init__.py", "evaluation_params_for"): "the same import map",
    ("src/markov/runners/job.py", "hyperparameters.json"): "SageMaker's own local file "
    "/opt/ml/input/config/hyperparameters.json inside the job, not a store key",
    ("src/markov/environment/reward_function.py", "reward_function.py"): "the file name reward "
    "code compiles under (tracebacks) and a local path in an error message, not store keys",
    ("src/markov/store/base.py", "experiment/model/.coach_checkpoint"): "an example of a "
    "valid key in the store's own error message",
}
"""(file, a text the flagged string contains) -> why that string may stay where it is."""


def _docstring_ids(tree: ast.AST) -> set[int]:
    """Bare string statements: docstrings of modules, classes and functions, and the attribute
    docstrings after constants."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string constant and f-string (placeholders as '{}')."""
    skip = _docstring_ids(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                skip.add(id(value))
                is_text = isinstance(value, ast.Constant)
                parts.append(value.value if is_text else "{}")
            found.append((node.lineno, "".join(parts)))
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            skip.update(id(value) for value in ast.walk(node.format_spec))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
        ):
            found.append((node.lineno, node.value))
    return found


def _spells_a_key(text: str) -> str | None:
    """The fragment that makes ``text`` a store key or a run's file name, else None."""
    prose = bool(re.search(r"\s", text))
    for fragment in FILE_FRAGMENTS:
        for match in re.finditer(re.escape(fragment), text):
            before = text[: match.start()]
            if not prose or before.endswith(("/", "}")):
                return fragment
    for fragment in FOLDER_FRAGMENTS:
        for match in re.finditer(re.escape(fragment), text):
            before = text[: match.start()]
            if not before or before.endswith(("/", "}")):
                return fragment
    return None


def _allowed(path: str, text: str) -> bool:
    return any(path == file and part in text for file, part in ALLOWED)


def test_no_store_key_is_spelled_outside_the_layout_module() -> None:
    offenders = []
    for folder in SCANNED:
        for source in sorted((ROOT / folder).rglob("*.py")):
            path = source.relative_to(ROOT).as_posix()
            if path == LAYOUT_MODULE:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"), filename=path)
            for line, text in _strings(tree):
                fragment = _spells_a_key(text)
                if fragment is not None and not _allowed(path, text):
                    offenders.append(f"{path}:{line}: {text!r} spells {fragment!r}")
    assert not offenders, (
        "store keys and run file names belong to markov.formats.layout.RunLayout; use it "
        "instead of these strings (or add a reasoned entry to ALLOWED):\n" + "\n".join(offenders)
    )


def test_the_key_check_catches_keys_and_lets_sentences_through() -> None:
    assert _spells_a_key("{}/model/model_metadata.json") == "model_metadata.json"
    assert _spells_a_key("metrics/trainer.json") == "trainer.json"
    assert _spells_a_key("deepracer_checkpoints.json") == "deepracer_checkpoints.json"
    assert _spells_a_key("{}/{}/model/.finished exists: training is finished") == "model/"
    assert _spells_a_key("upload model_metadata.json first") is None
    assert _spells_a_key("simtrace") is None
    assert _spells_a_key("metrics") is None
