"""Track sources: built-in tracks made by code, and official route files found or downloaded."""

from __future__ import annotations

import io
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon
from track_fixtures import OFFICIAL_FILES_DIR

from markov.tracks import official
from markov.tracks.builtin import BUILTIN_TRACKS, builtin_route
from markov.tracks.official import (
    OFFICIAL_TRACKS,
    WORKSHOP_TRACKS,
    TrackNotFoundError,
    cache_dir,
    official_track_available,
    resolve_route_file,
)

CLOSED_TRACKS = [name for name, info in BUILTIN_TRACKS.items() if info.closed]


def signed_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def route_bytes(route: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, route)
    return buffer.getvalue()


# --- built-in tracks -----------------------------------------------------------------------


def test_builtin_catalogue_has_the_promised_tracks() -> None:
    assert {"Workshop_Oval", "Workshop_Kidney", "Workshop_Hairpin", "Workshop_Straight"} <= set(
        BUILTIN_TRACKS
    )
    assert {info.width for info in BUILTIN_TRACKS.values()} >= {0.762, 1.067}
    assert any(not info.closed for info in BUILTIN_TRACKS.values())
    assert {info.direction for info in BUILTIN_TRACKS.values() if info.closed} == {"ccw", "cw"}
    assert all(info.description for info in BUILTIN_TRACKS.values())


@pytest.mark.parametrize("name", list(BUILTIN_TRACKS))
def test_builtin_route_has_the_route_file_format(name: str) -> None:
    route = builtin_route(name)
    info = BUILTIN_TRACKS[name]
    assert route.ndim == 2 and route.shape[1] == 6 and route.shape[0] > 20
    assert route.dtype == np.float64
    assert np.isfinite(route).all()
    assert np.array_equal(route[0], route[-1]) == info.closed


@pytest.mark.parametrize("name", list(BUILTIN_TRACKS))
def test_builtin_route_geometry_is_regular(name: str) -> None:
    route = builtin_route(name)
    centre, inner, outer = route[:, 0:2], route[:, 2:4], route[:, 4:6]
    spacing = np.linalg.norm(np.diff(centre, axis=0), axis=1)
    assert spacing.min() >= 0.15 and spacing.max() <= 0.35
    np.testing.assert_allclose(np.linalg.norm(inner - outer, axis=1), BUILTIN_TRACKS[name].width,
                               atol=1e-3)
    np.testing.assert_allclose(centre, (inner + outer) / 2.0, atol=1e-9)


@pytest.mark.parametrize("name", CLOSED_TRACKS)
def test_builtin_loop_runs_in_its_declared_direction(name: str) -> None:
    area = signed_area(builtin_route(name)[:, 0:2])
    assert (area > 0) == (BUILTIN_TRACKS[name].direction == "ccw")


@pytest.mark.parametrize("name", CLOSED_TRACKS)
def test_builtin_loop_inner_border_lies_inside_outer(name: str) -> None:
    route = builtin_route(name)
    inner, outer = Polygon(route[:, 2:4]), Polygon(route[:, 4:6])
    assert inner.is_valid and outer.is_valid
    assert outer.contains(inner)


def test_open_builtin_track_is_a_simple_strip() -> None:
    for name in (name for name, info in BUILTIN_TRACKS.items() if not info.closed):
        route = builtin_route(name)
        assert not np.array_equal(route[0], route[-1])
        road = Polygon(np.vstack([route[:, 2:4], route[::-1, 4:6]]))
        assert road.is_valid
        assert not LineString(route[:, 2:4]).intersects(LineString(route[:, 4:6]))


@pytest.mark.parametrize("name", list(BUILTIN_TRACKS))
def test_builtin_route_is_deterministic_and_returns_a_fresh_copy(name: str) -> None:
    first = builtin_route(name)
    first[:] = 0.0
    second = builtin_route(name)
    assert np.array_equal(second, builtin_route(name))
    assert not np.array_equal(first, second)
    steps = np.linalg.norm(np.diff(second[:, 0:2], axis=0), axis=1)
    assert steps.min() > 1e-9


def test_unknown_builtin_name_suggests_a_close_one() -> None:
    with pytest.raises(ValueError, match="Workshop_Oval"):
        builtin_route("Workshop_Ovl")


# --- official route files ------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any download attempt; the list records the URLs that were asked for."""
    requested: list[str] = []

    def refuse(url: str, timeout: float) -> bytes:
        requested.append(url)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(official, "_fetch", refuse)
    return requested


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]) -> Path:
    """An empty cache folder, no DR_TRACKS_DIR, and no network."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DR_TRACKS_CACHE", str(folder))
    monkeypatch.delenv("DR_TRACKS_DIR", raising=False)
    return folder


def test_workshop_list_is_the_twelve_workshop_worlds_and_all_are_official() -> None:
    assert WORKSHOP_TRACKS == (
        "Bowtie_track", "Canada_Training", "China_track", "LGSWide", "Mexico_track",
        "New_York_Track", "Oval_track", "reinvent_base", "reInvent2019_track",
        "reInvent2019_wide", "Spain_track", "Tokyo_Training_track",
    )
    assert set(WORKSHOP_TRACKS) <= set(OFFICIAL_TRACKS)
    assert len(set(OFFICIAL_TRACKS)) == len(OFFICIAL_TRACKS)
    assert {"reInvent2019_track_cw", "2022_reinvent_champ_ccw", "Straight_track"} <= set(
        OFFICIAL_TRACKS
    )
    assert not set(OFFICIAL_TRACKS) & set(BUILTIN_TRACKS)


def test_file_in_dr_tracks_dir_is_used_first(cache: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    np.save(tracks / "reinvent_base.npy", builtin_route("Workshop_Oval"))
    cache.mkdir()
    np.save(cache / "reinvent_base.npy", builtin_route("Workshop_Kidney"))
    monkeypatch.setenv("DR_TRACKS_DIR", str(tracks))
    assert resolve_route_file("reinvent_base") == tracks / "reinvent_base.npy"
    assert official_track_available("reinvent_base")


def test_cached_file_is_used_without_download(cache: Path, no_network: list[str]) -> None:
    cache.mkdir()
    np.save(cache / "Oval_track.npy", builtin_route("Workshop_Oval"))
    assert resolve_route_file("Oval_track") == cache / "Oval_track.npy"
    assert official_track_available("Oval_track")
    assert no_network == []


def test_download_lands_in_cache_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float]] = []
    payload = route_bytes(builtin_route("Workshop_Hairpin"))

    def serve(url: str, timeout: float) -> bytes:
        calls.append((url, timeout))
        return payload

    monkeypatch.setattr(official, "_fetch", serve)
    assert not official_track_available("Spain_track")
    path = resolve_route_file("Spain_track")
    assert path == cache / "Spain_track.npy"
    np.testing.assert_array_equal(np.load(path), builtin_route("Workshop_Hairpin"))
    assert sorted(p.name for p in cache.iterdir()) == ["Spain_track.npy"]
    assert resolve_route_file("Spain_track") == path
    assert len(calls) == 1
    url, timeout = calls[0]
    assert url.endswith("/deepracer-simapp/master/bundle/routes/Spain_track.npy")
    assert 0 < timeout <= 30


@pytest.mark.parametrize("payload", [b"<html>404: Not Found</html>",
                                     route_bytes(np.zeros((10, 4)))])
def test_corrupt_download_is_rejected_and_not_cached(cache: Path, payload: bytes,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(official, "_fetch", lambda url, timeout: payload)
    with pytest.raises(TrackNotFoundError, match=r"LGSWide\.npy.*not a \.npy route array"):
        resolve_route_file("LGSWide")
    assert list(cache.iterdir()) == []


def test_unwritable_cache_is_reported_with_the_fix(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DR_TRACKS_CACHE", str(blocker / "tracks"))
    monkeypatch.delenv("DR_TRACKS_DIR", raising=False)
    payload = route_bytes(builtin_route("Workshop_Oval"))
    monkeypatch.setattr(official, "_fetch", lambda url, timeout: payload)
    with pytest.raises(TrackNotFoundError, match="DR_TRACKS_CACHE to a writable folder"):
        resolve_route_file("Oval_track")


def test_offline_error_says_which_file_is_missing_and_where_it_looked(
        cache: Path, no_network: list[str]) -> None:
    with pytest.raises(TrackNotFoundError) as caught:
        resolve_route_file("China_track")
    message = str(caught.value)
    assert "China_track.npy" in message
    assert "DR_TRACKS_DIR not set" in message
    assert str(cache) in message
    assert "DR_TRACKS_DIR to a folder" in message
    assert len(no_network) == len(official.ROUTES_URLS)  # every address was tried once


def test_offline_error_names_a_missing_dr_tracks_dir(cache: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TRACKS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(TrackNotFoundError, match="folder does not exist"):
        resolve_route_file("Mexico_track")


def test_download_can_be_turned_off(cache: Path, no_network: list[str]) -> None:
    with pytest.raises(TrackNotFoundError, match=r"Bowtie_track\.npy"):
        resolve_route_file("Bowtie_track", download=False)
    assert no_network == []


@pytest.mark.parametrize(("typo", "suggestion"), [("reinvent_bse", "reinvent_base"),
                                                   ("reinvent2019_track", "reInvent2019_track"),
                                                   ("Workshop_Ovl", "Workshop_Oval")])
def test_unknown_name_suggests_close_matches(cache: Path, no_network: list[str], typo: str,
                                             suggestion: str) -> None:
    with pytest.raises(TrackNotFoundError, match=suggestion) as caught:
        resolve_route_file(typo)
    assert ".npy" in str(caught.value)
    assert no_network == []


def test_builtin_name_is_pointed_to_the_builtin_loader(cache: Path) -> None:
    with pytest.raises(TrackNotFoundError, match="built-in track"):
        resolve_route_file("Workshop_Oval")


def test_any_local_route_name_is_accepted(cache: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    np.save(tracks / "my_garage_loop.npy", builtin_route("Workshop_Oval"))
    monkeypatch.setenv("DR_TRACKS_DIR", str(tracks))
    assert resolve_route_file("my_garage_loop") == tracks / "my_garage_loop.npy"


@pytest.mark.parametrize("name", ["../reinvent_base", "routes/reinvent_base", "..", "",
                                  "a..b", "C:\\tracks\\x", "reinvent_base.npy"])
def test_path_like_names_are_rejected(cache: Path, name: str) -> None:
    with pytest.raises(ValueError, match="track name"):
        resolve_route_file(name)


def test_cache_folder_follows_the_environment_at_call_time(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TRACKS_CACHE", str(tmp_path / "first"))
    assert cache_dir() == tmp_path / "first"
    monkeypatch.delenv("DR_TRACKS_CACHE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "deepracer-workshop" / "tracks"
    assert cache_dir().parts[-2:] == ("deepracer-workshop", "tracks")


@pytest.mark.skipif(
    not OFFICIAL_FILES_DIR.is_dir(),
    reason=f"optional: no official route files in {OFFICIAL_FILES_DIR} (set DR_TRACKS_DIR)",
)
def test_reference_workshop_tracks_resolve_from_dr_tracks_dir(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    present = [name for name in WORKSHOP_TRACKS if (OFFICIAL_FILES_DIR / f"{name}.npy").is_file()]
    if not present:
        pytest.skip("no workshop track files in the reference folder")
    monkeypatch.setenv("DR_TRACKS_DIR", str(OFFICIAL_FILES_DIR))
    for name in present:
        path = resolve_route_file(name)
        assert path == OFFICIAL_FILES_DIR / f"{name}.npy"
        route = np.load(path, allow_pickle=False)
        assert route.ndim == 2 and route.shape[1] == 6
        assert np.array_equal(route[0], route[-1])
