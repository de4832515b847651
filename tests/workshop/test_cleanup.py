"""Cleanup: list what the workshop created, stop running jobs, delete only after a yes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from workshop_helpers import cleanup as cleanup_module
from workshop_helpers.backends import local as local_backend
from workshop_helpers.cleanup import cleanup_plan, delete_workshop_data, stop_all_jobs
from workshop_helpers.experiment import list_experiments, new_experiment

SLEEPER = "import time; time.sleep(120)"


@pytest.fixture(autouse=True)
def _scratch(tmp_path, monkeypatch):
    """A scratch runs folder and build folder, so no test touches the repository's files."""
    monkeypatch.setenv("DR_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(cleanup_module, "build_dir", lambda: tmp_path / "build")


@pytest.fixture
def processes():
    """Fake engine processes (``markov`` in their command line), killed after the test."""
    started: list[subprocess.Popen] = []

    def start(role: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", SLEEPER, f"markov.{role}"], start_new_session=True
        )
        local_backend._processes[process.pid] = process  # reaped by the backend's poll
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        local_backend._processes.pop(process.pid, None)


def _experiment_with_run(name="tiny"):
    """A tiny local experiment: an input file and a few store files."""
    experiment = new_experiment(name)
    experiment.write_input("reward_function.py", "def reward_function(params):\n    return 1.0\n")
    store = experiment.open_store()
    store.put_text(f"{experiment.prefix}/model/checkpoint", "x" * 2048)
    store.put_json(f"{experiment.prefix}/metrics/trainer.json", [])
    return experiment


def _bundle(tmp_path):
    bundle = tmp_path / "build" / "output.tar.gz"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"bundle")
    return bundle


def _store_folder(experiment):
    return experiment.open_store().local_path(experiment.prefix)


def test_dry_run_lists_everything_and_deletes_nothing(tmp_path, capsys):
    first, second = _experiment_with_run("one"), _experiment_with_run("two")
    bundle = _bundle(tmp_path)
    plan = cleanup_plan()
    labels = [target.label for target in plan.targets]
    assert labels == [
        f"runs/{first.id}/",
        f"runs/store/{first.id}/",
        f"runs/{second.id}/",
        f"runs/store/{second.id}/",
        str(bundle),  # outside the repository here; build/output.tar.gz in the workshop
    ]
    assert plan.total_bytes > 2048
    text = repr(plan)
    assert "Cleanup would delete (2 experiment(s))" in text
    assert first.id in text and second.id in text and "total" in text

    asked = []
    result = delete_workshop_data(delete_run_data=False, confirm=asked.append)
    assert asked == []
    assert result.deleted == ()
    assert "Nothing deleted (delete_run_data=False)" in repr(result)
    assert "Cleanup would delete" in capsys.readouterr().out
    assert first.folder.is_dir() and second.folder.is_dir() and bundle.is_file()
    assert _store_folder(first).is_dir()
    assert [experiment.id for experiment in list_experiments()] == [first.id, second.id]


def test_refusal_keeps_every_file(tmp_path):
    experiment = _experiment_with_run()
    bundle = _bundle(tmp_path)
    prompts = []

    def say_no(prompt):
        prompts.append(prompt)
        return "no"

    result = delete_workshop_data(confirm=say_no)
    assert len(prompts) == 1 and "yes" in prompts[0]
    assert result.deleted == ()
    assert "you answered 'no'" in result.message
    assert experiment.folder.is_dir() and _store_folder(experiment).is_dir() and bundle.is_file()
    assert delete_workshop_data(confirm=lambda _prompt: "").deleted == ()
    assert experiment.folder.is_dir()


@pytest.mark.parametrize("answer", ["yes", " YES ", "y"])
def test_confirmation_deletes_the_listed_items(tmp_path, answer):
    experiment = _experiment_with_run()
    bundle = _bundle(tmp_path)
    run_folder = _store_folder(experiment)
    result = delete_workshop_data(confirm=lambda _prompt: answer)
    assert len(result.deleted) == 3
    assert not experiment.folder.exists()
    assert not run_folder.exists()
    assert not run_folder.parent.exists()  # the emptied local store folder
    assert not bundle.exists()
    assert list_experiments() == []
    assert cleanup_plan().targets == ()


def test_explicit_true_deletes_without_asking(tmp_path):
    experiment = _experiment_with_run()

    def must_not_ask(prompt):
        raise AssertionError("cleanup asked although delete_run_data=True")

    result = delete_workshop_data(delete_run_data=True, confirm=must_not_ask)
    assert result.deleted and not experiment.folder.exists()


def test_chosen_experiments_only_and_the_bundle_stays(tmp_path):
    keep, drop = _experiment_with_run("keep"), _experiment_with_run("drop")
    bundle = _bundle(tmp_path)
    result = delete_workshop_data([drop.id], delete_run_data=True)
    assert len(result.deleted) == 2
    assert not drop.folder.exists() and not _store_folder(drop).exists()
    assert keep.folder.is_dir() and _store_folder(keep).is_dir() and bundle.is_file()


def test_running_jobs_are_stopped_before_anything_is_deleted(processes, monkeypatch):
    experiment = _experiment_with_run()
    trainer = processes("local_training")
    evaluation = processes("evaluation_worker")
    local_backend._update_jobs(
        experiment,
        {
            "training": {"pid": trainer.pid, "started": time.time()},
            "evaluations": {
                "20260101120000": {
                    "pid": evaluation.pid,
                    "world_name": "Workshop_Oval",
                    "trials": 1,
                    "started": time.time(),
                }
            },
        },
    )
    alive_at_delete = []
    real_delete = cleanup_module._delete

    def delete(target):
        alive_at_delete.append((target.label, trainer.poll() is None, evaluation.poll() is None))
        real_delete(target)

    monkeypatch.setattr(cleanup_module, "_delete", delete)
    result = delete_workshop_data(delete_run_data=True)
    assert alive_at_delete and all(not t and not e for _label, t, e in alive_at_delete)
    assert trainer.poll() is not None and evaluation.poll() is not None
    assert len(result.deleted) == 2 and not experiment.folder.exists()


def test_stop_all_jobs_reports_what_it_stopped(processes):
    idle = _experiment_with_run("idle")
    busy = _experiment_with_run("busy")
    trainer = processes("local_training")
    local_backend._update_jobs(busy, {"training": {"pid": trainer.pid, "started": time.time()}})
    report = stop_all_jobs()
    by_id = {item.experiment_id: item for item in report.experiments}
    assert by_id[idle.id].stopped == () and str(by_id[idle.id]).endswith("no jobs started")
    assert by_id[busy.id].stopped == ("training",)
    assert trainer.poll() is not None
    assert report.quiet  # nothing runs any more
    assert f"{busy.id}: stopped training; training failed" in repr(report)  # no result file
    assert repr(report).endswith("Nothing is running any more.")


def test_an_unreachable_backend_keeps_that_experiment(tmp_path, monkeypatch):
    experiment = _experiment_with_run()

    def broken(_experiment):
        raise RuntimeError("no credentials")

    monkeypatch.setattr(cleanup_module, "get_backend", broken)
    result = delete_workshop_data(delete_run_data=True)
    assert result.deleted == ()
    assert all("could not check its jobs" in line for line in result.kept)
    assert experiment.folder.is_dir()


def test_a_failed_store_deletion_keeps_the_experiment_record(monkeypatch):
    experiment = _experiment_with_run()
    real_delete = cleanup_module._delete

    def store_fails(target):
        if target.path is None:
            raise PermissionError("access denied")
        real_delete(target)

    monkeypatch.setattr(cleanup_module, "_delete", store_fails)
    result = delete_workshop_data([experiment], delete_run_data=True)
    assert result.deleted == ()
    assert "could not delete it: PermissionError: access denied" in result.kept[0]
    assert "kept because its run data could not be deleted" in result.kept[1]
    assert experiment.folder.is_dir()
    assert cleanup_plan([experiment.id]).targets  # the next cleanup still finds it
