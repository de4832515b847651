"""Track geometry: projection, interpolation, direction, waypoints and route validation."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LinearRing, LineString
from track_fixtures import circle_route, kidney_route, official_route, straight_route

from markov.tracks import RouteFileError, Track, load_track, validate_route
from markov.tracks.geometry import Polyline


def test_projection_and_interpolation_match_shapely() -> None:
    route = circle_route(radius=2.0, points=37)
    line = Polyline(route[:, :2], closed=True)
    ring = LinearRing(route[:-1, :2])
    rng = np.random.default_rng(0)
    for x, y in rng.uniform(-3, 3, size=(200, 2)):
        ours = line.project(x, y)
        theirs = ring.project(ring.interpolate(ring.project(_pt(x, y))))
        assert ours.arc_length == pytest.approx(theirs % line.length, abs=1e-9) or (
            abs(ours.arc_length - theirs) == pytest.approx(line.length, abs=1e-9)
        )
        assert ours.distance == pytest.approx(ring.distance(_pt(x, y)), abs=1e-9)
    for s in np.linspace(0, line.length, 50, endpoint=False):
        p = ring.interpolate(s)
        assert line.interpolate(s) == pytest.approx((p.x, p.y), abs=1e-9)


def test_open_line_clamps_and_projects_like_shapely() -> None:
    route = straight_route(length=5.0)
    line = Polyline(route[:, :2], closed=False)
    reference = LineString(route[:, :2])
    assert line.project(-1.0, 0.3).arc_length == 0.0
    assert line.project(7.0, 0.0).arc_length == pytest.approx(5.0)
    assert line.project(2.5, 0.4).arc_length == pytest.approx(reference.project(_pt(2.5, 0.4)))
    assert line.interpolate(99.0) == pytest.approx((5.0, 0.0))


def test_direction_and_reversal() -> None:
    ccw = Track(circle_route(), "circle")
    assert ccw.is_ccw and not ccw.reverse
    back = ccw.reversed()
    assert back.reverse and not back.is_ccw
    assert back.waypoints == ccw.waypoints[::-1]
    assert back.length == pytest.approx(ccw.length)
    cw = Track(circle_route(clockwise=True), "cw")
    assert not cw.is_ccw
    assert cw.reversed().is_ccw
    assert Track(straight_route(), "open").is_ccw  # open tracks always count as ccw


def test_waypoints_keep_raw_rows_including_closing_point() -> None:
    route = circle_route(points=21)
    route = np.insert(route, 5, route[5], axis=0)  # a repeated centre point, like Spain_track
    track = Track(route, "dup")
    assert len(track.waypoints) == len(route)
    assert track.waypoints[0] == track.waypoints[-1]
    assert track.waypoints[5] == track.waypoints[6]
    assert track.length == pytest.approx(Track(circle_route(points=21), "c").length)


@pytest.mark.parametrize(
    "route",
    [circle_route(points=21), kidney_route(), kidney_route(clockwise=True)],
    ids=["circle", "kidney-ccw", "kidney-cw"],
)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_closest_waypoints_follow_the_bisect_rule(route: np.ndarray, reverse: bool) -> None:
    track = Track(route, "c", reverse=reverse)
    count = len(track.waypoints)
    ndists = [track.center.project(*w).arc_length / track.length for w in track.waypoints[:-1]]
    ndists.append(1.0)
    for ndist in np.linspace(0.0, 0.999, 97):
        prev, nxt = track.closest_waypoints(float(ndist))
        expected_next = next(i for i, d in enumerate(ndists) if d > ndist)
        assert nxt == expected_next % count
        assert prev == (expected_next - 1) % count
    assert track.closest_waypoints(0.0) == [0, 1]


def test_track_width_and_start_pose_on_a_circle() -> None:
    track = Track(circle_route(radius=3.0, width=1.067, points=721), "c")
    x, y, yaw = track.start_pose(0.25)
    assert np.hypot(x, y) == pytest.approx(3.0, abs=1e-3)
    assert np.cos(yaw) == pytest.approx(-1.0, abs=1e-3)  # a quarter lap on a ccw circle faces -x
    assert track.width_at(x, y).width == pytest.approx(1.067, abs=1e-3)


def test_road_polygon_contains_the_road_only() -> None:
    track = Track(circle_route(radius=3.0, width=1.0), "c")
    inside = track.points_on_road(np.array([[3.0, 0.0], [0.0, -3.4], [2.0, 0.0], [4.0, 0.0]]))
    assert inside.tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 4)), "shape (N, 6)"),
        (np.array([[0.0] * 6, [np.nan] * 6, [1.0] * 6, [2.0] * 6]), "rows 1"),
        (np.array([["a"] * 6] * 4), "must be numbers"),
        (np.zeros((2, 6)), "at least 3 rows"),
    ],
)
def test_bad_route_arrays_are_rejected_with_the_reason(array: np.ndarray, message: str) -> None:
    with pytest.raises(RouteFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_route(array, "my_track.npy")


def test_route_files_load_by_path_and_report_problems(tmp_path) -> None:
    good = tmp_path / "my_loop.npy"
    np.save(good, circle_route())
    assert load_track(good).name == "my_loop"
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(RouteFileError, match=r"bad\.npy"):
        load_track(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.npy"):
        load_track(tmp_path / "missing.npy")


@pytest.mark.parametrize("clockwise", [False, True], ids=["ccw", "cw"])
def test_official_like_track_direction_length_and_width(clockwise: bool) -> None:
    route = kidney_route(clockwise=clockwise)
    track = Track(route, "kidney")
    assert track.is_ccw is not clockwise  # the direction follows the file order
    back = track.reversed()
    assert back.is_ccw is clockwise and back.waypoints == track.waypoints[::-1]
    segments = np.hypot(*np.diff(route[:, :2], axis=0).T)
    assert track.length == pytest.approx(segments.sum()) and back.length == pytest.approx(
        track.length
    )
    x, y, yaw = track.start_pose(0.0)
    assert (x, y) == pytest.approx(tuple(route[0, :2]))
    first_leg = route[1, :2] - route[0, :2]
    assert (np.cos(yaw), np.sin(yaw)) == pytest.approx(
        tuple(first_leg / np.linalg.norm(first_leg)), abs=0.05
    )
    assert track.width_at(x, y).width == pytest.approx(1.067, abs=0.01)


def test_official_files_direction_and_width() -> None:
    spain = Track(official_route("Spain_track"), "Spain_track")
    assert not spain.is_ccw  # Spain_track runs clockwise in file order
    base = Track(official_route("reinvent_base"), "reinvent_base")
    assert base.is_ccw
    x, y, _ = base.start_pose(0.0)
    assert base.width_at(x, y).width == pytest.approx(0.762, abs=0.02)


def _pt(x: float, y: float):
    from shapely.geometry import Point

    return Point(x, y)
