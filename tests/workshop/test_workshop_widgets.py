"""Notebook pickers: their options, defaults and what the track picker shows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import urllib.error
from pathlib import Path

import numpy as np
import pytest

from markov.environment.model_metadata import NEURAL_NETWORKS, load_model_metadata
from markov.environment.world_config import RACE_TYPES
from markov.tracks import BUILTIN_TRACKS, WORKSHOP_TRACKS, official
from markov.tracks.builtin import builtin_route
from workshop_helpers.widgets import (
    backend_options,
    backend_picker,
    network_options,
    network_picker,
    race_type_options,
    race_type_picker,
    sensor_options,
    sensor_picker,
    track_options,
    track_picker,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def offline_tracks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty track folders; every download attempt fails as if there were no network."""
    tracks, cache = tmp_path / "tracks", tmp_path / "cache"
    tracks.mkdir()
    cache.mkdir()
    monkeypatch.setenv("DR_TRACKS_DIR", str(tracks))
    monkeypatch.setenv("DR_TRACKS_CACHE", str(cache))

    def no_network(url: str, timeout: float) -> bytes:
        raise OSError("network is unreachable")

    monkeypatch.setattr(official, "_fetch", no_network)
    return tracks


def test_track_options_list_the_workshop_tracks_then_the_builtins(offline_tracks: Path) -> None:
    options = track_options()
    values = [value for _, value in options]

    assert values == [*WORKSHOP_TRACKS, *BUILTIN_TRACKS]
    assert len(WORKSHOP_TRACKS) == 12
    labels = {value: label for label, value in options}
    assert labels["reInvent2019_track"] == "reInvent2019_track (downloads on first use)"
    assert labels["Workshop_Oval"] == "Workshop_Oval (built-in)"


def test_track_options_show_official_tracks_already_on_this_machine(offline_tracks: Path) -> None:
    (offline_tracks / "Oval_track.npy").write_bytes(b"")
    labels = {value: label for label, value in track_options()}
    assert labels["Oval_track"] == "Oval_track"


def test_track_picker_shows_the_selected_track(offline_tracks: Path) -> None:
    picker = track_picker(default="Workshop_Kidney")

    assert picker.value == "Workshop_Kidney"
    assert bytes(picker.picture.value).startswith(PNG_SIGNATURE)
    assert picker.caption.value == BUILTIN_TRACKS["Workshop_Kidney"].description
    first_picture = bytes(picker.picture.value)

    picker.value = "Workshop_Hairpin"
    assert picker.dropdown.value == "Workshop_Hairpin"
    assert bytes(picker.picture.value).startswith(PNG_SIGNATURE)
    assert bytes(picker.picture.value) != first_picture
    assert repr(picker) == "TrackPicker(value='Workshop_Hairpin')"


def test_track_picker_explains_a_track_that_cannot_be_downloaded(offline_tracks: Path) -> None:
    picker = track_picker()
    picker.value = "Spain_track"

    assert picker.value == "Spain_track"
    assert bytes(picker.picture.value) == b""
    assert "Spain_track is not available" in picker.caption.value
    assert "DR_TRACKS_DIR" in picker.caption.value


def test_track_picker_shows_the_offline_reason_escaped_and_no_broken_image(
    offline_tracks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def urlopen_fails(url: str, timeout: float) -> bytes:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(official, "_fetch", urlopen_fails)
    picker = track_picker()
    picker.value = "China_track"

    assert "&lt;urlopen error [Errno -3] Temporary failure in name resolution&gt;" in (
        picker.caption.value
    )
    assert "<urlopen" not in picker.caption.value
    assert picker.picture.layout.display == "none"  # no empty image, so no broken-image icon
    picker.value = "Workshop_Oval"
    assert picker.picture.layout.display is None
    assert bytes(picker.picture.value).startswith(PNG_SIGNATURE)


def test_track_options_list_every_track_file_in_dr_tracks_dir(offline_tracks: Path) -> None:
    np.save(offline_tracks / "Straight_track.npy", builtin_route("Workshop_Oval"))
    np.save(offline_tracks / "Oval_track.npy", builtin_route("Workshop_Oval"))

    options = track_options()

    labels = {value: label for label, value in options}
    assert labels["Straight_track"] == "Straight_track (on this machine)"
    assert [value for _, value in options].count("Oval_track") == 1
    picker = track_picker(default="Straight_track")
    assert bytes(picker.picture.value).startswith(PNG_SIGNATURE)


def test_track_picker_rejects_an_unknown_default() -> None:
    with pytest.raises(ValueError, match="Workshop_Oval"):
        track_picker(default="Moon_track")


def test_race_type_picker_offers_the_three_workshop_race_types() -> None:
    values = [value for _, value in race_type_options()]
    assert values == ["TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"]
    assert set(values) <= set(RACE_TYPES)
    assert race_type_picker().value == "TIME_TRIAL"


def test_backend_picker_defaults_to_local() -> None:
    assert [value for _, value in backend_options()] == ["local", "aws"]
    assert backend_picker().value == "local"
    assert backend_picker(default="aws").value == "aws"


def test_sensor_options_are_valid_model_metadata_sensors() -> None:
    for _label, sensors in sensor_options():
        metadata = load_model_metadata({"sensor": list(sensors), "action_space_type": "discrete"})
        assert metadata.sensors == sensors
    assert sensor_picker().value == ("FRONT_FACING_CAMERA",)


def test_network_picker_offers_every_model_metadata_network() -> None:
    values = [value for _, value in network_options()]
    assert values == list(NEURAL_NETWORKS)
    assert network_picker().value == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
