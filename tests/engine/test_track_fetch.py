"""Fetching the workshop's tracks ahead of a class: ``python -m markov.tracks.fetch``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from markov.tracks import fetch, official
from markov.tracks.builtin import builtin_route
from markov.tracks.official import WORKSHOP_TRACKS

OFFLINE = "[Errno -3] Temporary failure in name resolution"


def route_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, builtin_route(name))
    return buffer.getvalue()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DR_TRACKS_CACHE", str(folder))
    monkeypatch.delenv("DR_TRACKS_DIR", raising=False)
    return folder


def serve_all_but(*offline: str):
    """A fake download: a valid route for every track except the ``offline`` ones."""

    def fake_fetch(url: str, timeout: float) -> bytes:
        if any(url.endswith(f"/{name}.npy") for name in offline):
            raise urllib.error.URLError(OFFLINE)
        return route_bytes("Workshop_Oval")

    return fake_fetch


def test_fetch_brings_all_twelve_workshop_tracks_into_the_cache(cache, monkeypatch) -> None:
    monkeypatch.setattr(official, "_fetch", serve_all_but())

    outcomes = fetch.fetch_tracks(progress=False)

    assert [outcome.name for outcome in outcomes] == list(WORKSHOP_TRACKS)
    assert {outcome.status for outcome in outcomes} == {fetch.DOWNLOADED}
    assert sorted(path.stem for path in cache.glob("*.npy")) == sorted(WORKSHOP_TRACKS)
    again = fetch.fetch_tracks(progress=False)
    assert {outcome.status for outcome in again} == {fetch.PRESENT}
    assert fetch.fetch_summary(again).startswith("12 of 12 track(s) are on this machine")


def test_offline_every_track_fails_with_its_reason_and_the_fix(cache, monkeypatch) -> None:
    monkeypatch.setattr(official, "_fetch", serve_all_but(*WORKSHOP_TRACKS))
    np.save(cache.parent / "Spain_track.npy", builtin_route("Workshop_Oval"))
    monkeypatch.setenv("DR_TRACKS_DIR", str(cache.parent))

    outcomes = fetch.fetch_tracks(progress=False)
    summary = fetch.fetch_summary(outcomes)

    failed = [outcome for outcome in outcomes if outcome.status == fetch.FAILED]
    assert len(failed) == 11
    assert all("downloading failed" in outcome.detail for outcome in failed)
    assert "Temporary failure in name resolution" in failed[0].detail
    assert summary.splitlines()[0].startswith("1 of 12 track(s) are on this machine")
    assert "11 track(s) could not be fetched:" in summary
    assert "  Bowtie_track: downloading failed" in summary
    assert "DR_TRACKS_DIR" in summary.splitlines()[-1]


def test_the_command_reports_without_a_traceback_and_exits_1(cache, monkeypatch, capsys) -> None:
    monkeypatch.setattr(official, "_fetch", serve_all_but("Oval_track"))

    code = fetch.main(["Oval_track", "Spain_track", "Not/a name"])

    out = capsys.readouterr().out
    assert code == 1
    assert "1 of 3 track(s) are on this machine" in out
    assert "  Oval_track: downloading failed" in out
    assert "  Not/a name: track name 'Not/a name' is not a plain track name" in out
    assert fetch.main(["Spain_track"]) == 0


def test_the_module_runs_as_a_command(tmp_path: Path) -> None:
    folder = tmp_path / "tracks"
    folder.mkdir()
    np.save(folder / "Oval_track.npy", builtin_route("Workshop_Oval"))
    env = {**os.environ, "DR_TRACKS_DIR": str(folder), "DR_TRACKS_CACHE": str(tmp_path / "c")}

    done = subprocess.run(
        [sys.executable, "-m", "markov.tracks.fetch", "Oval_track"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr
    assert "1 of 1 track(s) are on this machine (1 already here, 0 downloaded" in done.stdout
