"""Sensors: scene raster, pinhole camera, stereo, lidar + preprocessing, sensor suite, top-down."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from markov.environment.sensors import (
    CAMERA_PITCH,
    CAMERA_X,
    CAMERA_Z,
    LIDAR_SAMPLES,
    PALETTE,
    SENSOR_NAMES,
    BoxObject,
    Camera,
    Lidar,
    Scene,
    SensorSuite,
    StereoCamera,
    TopDownRenderer,
    bot_car,
    box_obstacle,
    build_observation_space,
    car_frame_angles,
    discretized_sector_lidar_observation,
    focal_length,
    lidar_observation,
    luma,
    sector_lidar_observation,
)
from markov.environment.sensors import scene as scene_mod
from markov.environment.sensors.lidar import LIDAR_X

WIDTH = 1.067
HALF = WIDTH / 2
ROAD, WHITE_MONO, WHITE_601, FIELD, ORANGE, WALL = 63, 222, 223, 123, 151, 61


def circle_track(radius=3.0, n=201):
    """CCW circle, closed (last row == first row); inner border on the left."""
    a = np.linspace(0.0, 2.0 * np.pi, n)
    a[-1] = 0.0
    unit = np.stack([np.cos(a), np.sin(a)], axis=1)
    return unit * radius, unit * (radius - HALF), unit * (radius + HALF), True


def straight_track(length=6.0, n=31):
    """Open strip along +x from (0, 0); inner border (y = +HALF) on the driver's left."""
    x = np.linspace(0.0, length, n)
    z = np.zeros_like(x)
    return (
        np.stack([x, z], axis=1),
        np.stack([x, z + HALF], axis=1),
        np.stack([x, z - HALF], axis=1),
        False,
    )


@pytest.fixture(scope="module")
def straight():
    return Scene.from_track(*straight_track())


@pytest.fixture(scope="module")
def circle():
    return Scene.from_track(*circle_track())


def pixel_of(dx, dy, dz=-CAMERA_Z):
    """(col, row) of a point at (dx ahead, dy left, dz up) of a centred, pitched camera,
    computed here independently of the camera module."""
    sp, cp = math.sin(CAMERA_PITCH), math.cos(CAMERA_PITCH)
    f = 80.0 / math.tan(0.565)
    zc = dx * cp - dz * sp
    xc = -dy
    yc = -dx * sp - dz * cp
    return 80.0 + f * xc / zc, 60.0 + f * yc / zc


# ---------------------------------------------------------------------------------- scene


def test_luma_truncates_like_the_simapp():
    assert luma((64, 63, 61)) == ROAD
    assert luma((126, 133, 65)) == FIELD
    assert luma((225, 143, 0)) == ORANGE
    assert luma((36, 70, 81)) == WALL
    # 0.2989 + 0.5870 + 0.1140 = 0.9999: a white of 223 truncates to 222 on the mono cameras,
    # while the stereo path (PIL convert('L'), ITU-R 601 rounded) gives 223.
    assert luma((223, 223, 223)) == WHITE_MONO
    assert luma((223, 223, 223), "itu601") == WHITE_601
    assert luma((255, 255, 255)) == 254
    assert list(luma(np.array([[64, 63, 61], [0, 0, 0]]))) == [ROAD, 0]


def test_scene_surfaces_and_cache(straight):
    s = straight
    assert s.surface_at(1.0, -0.2) == scene_mod.ROAD
    assert s.surface_at(1.0, HALF - 0.03) == scene_mod.BORDER
    assert s.surface_at(1.0, -HALF + 0.07) == scene_mod.BORDER
    assert s.surface_at(1.0, HALF - 0.09) == scene_mod.ROAD
    assert s.surface_at(1.0, HALF + 0.02) == scene_mod.FIELD  # lines are inside the road
    assert s.surface_at(1.0, HALF + 0.7) == scene_mod.FIELD
    assert s.surface_at(1.0, HALF + 0.8) == scene_mod.WALL  # beyond the field: wall ring
    x0, y0, x1, y1 = s.bounds
    assert x0 == pytest.approx(-0.75) and y0 == pytest.approx(-HALF - 0.75)
    assert x1 == pytest.approx(6.75, abs=0.01) and y1 == pytest.approx(HALF + 0.75, abs=0.01)
    # the centre line is dashed: both orange and road along y = 0
    along = s.surface_at(np.linspace(0.5, 5.5, 500), np.zeros(500))
    assert {scene_mod.CENTRE_LINE, scene_mod.ROAD} <= set(along.tolist())
    # chequered start line at waypoint 0
    start = s.surface_at(np.full(40, 0.01), np.linspace(-0.4, 0.4, 40))
    assert {scene_mod.CHECKER_DARK, scene_mod.CHECKER_LIGHT} <= set(start.tolist())
    # cache: same geometry -> same object and rasters; rasters are read-only
    first = Scene.from_track(*straight_track())
    assert Scene.from_track(*straight_track()) is first
    assert Scene.from_track(*straight_track(length=5.0)) is not first
    np.testing.assert_array_equal(first.class_map, s.class_map)
    assert not s.grey().flags.writeable
    with pytest.raises(ValueError, match="center"):
        Scene.from_track(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), False)


def test_circle_scene_road_between_borders(circle):
    for r, expected in [
        (3.0 + 0.1, scene_mod.ROAD),
        (3.0 - HALF + 0.03, scene_mod.BORDER),
        (3.0 + HALF - 0.03, scene_mod.BORDER),
        (3.0 - HALF - 0.05, scene_mod.FIELD),
        (3.0 + HALF + 0.05, scene_mod.FIELD),
        (0.0, scene_mod.FIELD),
    ]:
        ang = np.linspace(0.3, 6.0, 50)
        got = circle.surface_at(r * np.cos(ang), r * np.sin(ang))
        assert np.all(got == expected), (r, expected, np.unique(got))


def test_scene_build_is_fast_for_a_40m_track():
    import time

    center, inner, outer, closed = circle_track(radius=6.4, n=268)  # about 40 m
    Scene.clear_cache()
    t = time.perf_counter()
    Scene.from_track(center, inner, outer, closed)
    assert time.perf_counter() - t < 5.0  # about 0.1 s on a laptop core


# --------------------------------------------------------------------------------- camera


def test_camera_intrinsics_and_coverage(straight):
    cam = Camera(straight)
    assert cam.focal == pytest.approx(126.2, abs=0.05)
    x, _ = cam.ground_point(119, 80)
    assert x == pytest.approx(0.30, abs=0.01)  # bottom row sees the ground ~0.30 m ahead
    assert 20 <= cam.horizon_row <= 30  # top row is ~10 deg above the horizon


def test_camera_sees_road_borders_and_walls(straight):
    cam = Camera(straight)
    car_y = -0.2
    img = cam.render(1.0, car_y, 0.0)
    assert img.shape == (120, 160) and img.dtype == np.uint8
    # bottom rows around the centre: road grey
    assert np.all(img[110:, 40:120] == ROAD)
    # border lines: pinhole prediction 1.5 m ahead of the camera
    for border_y in (HALF - 0.038, -HALF + 0.038):
        col, row = pixel_of(1.5, border_y - car_y)
        assert 3 < col < 157
        assert img[int(row), int(col)] == WHITE_MONO, (border_y, col, row)
    # the field beyond the left border
    col, row = pixel_of(1.5, HALF + 0.2 - car_y)
    assert img[int(row), int(col)] == FIELD
    # top rows: wall or sky, never road
    sky = cam.sky_grey
    assert set(np.unique(img[:3]).tolist()) <= {WALL, sky}
    assert cam.wall_grey == WALL


def test_camera_unique_values_are_palette_greys(circle):
    cam = Camera(circle)
    greys = set(luma(PALETTE).tolist())
    for k in range(0, 200, 25):
        a = 2 * np.pi * k / 200
        img = cam.render(3.0 * math.cos(a), 3.0 * math.sin(a), a + np.pi / 2)
        assert set(np.unique(img).tolist()) <= greys
    img = cam.render(3.0, 0.0, np.pi / 2)
    assert {ROAD, WHITE_MONO} <= set(np.unique(img).tolist())
    # centre of a CCW circle: inner border on the left half, outer on the right half
    assert np.any(img[:, :80] == WHITE_MONO) and np.any(img[:, 80:] == WHITE_MONO)
    assert np.all(img[112:, 20:50] == ROAD) and np.all(img[112:, 100:140] == ROAD)


def test_camera_pose_dependence_and_determinism(circle):
    cam = Camera(circle)
    a = cam.render(3.0, 0.0, np.pi / 2)
    b = cam.render(3.0, 0.0, np.pi / 2)
    np.testing.assert_array_equal(a, b)
    outwards = cam.render(3.0, 0.0, 0.0)  # 90 deg off the road direction
    inwards = cam.render(3.0, 0.0, np.pi)
    assert np.mean(a != outwards) > 0.1 and np.mean(a != inwards) > 0.1
    # facing the near wall (1.3 m away) it fills more of the view than along the road
    assert np.sum(outwards == WALL) > np.sum(a == WALL)
    # facing across the loop, the far wall is low: more sky is visible
    assert np.sum(inwards == cam.sky_grey) > np.sum(a == cam.sky_grey)


def test_stereo_pair_is_similar_but_not_identical(circle):
    stereo = StereoCamera(circle)
    img = stereo.render(3.0, 0.0, np.pi / 2)
    assert img.shape == (120, 160, 2) and img.dtype == np.uint8
    left, right = img[..., 0], img[..., 1]
    diff = np.mean(left != right)
    assert 0.0 < diff < 0.2
    # left channel is the +0.03 m camera
    np.testing.assert_array_equal(left, Camera(circle, 0.03, luma_mode="itu601").render(
        3.0, 0.0, np.pi / 2))
    greys601 = set(luma(PALETTE, "itu601").tolist())
    assert set(np.unique(img).tolist()) <= greys601
    assert WHITE_601 in set(np.unique(img).tolist())


def test_objects_in_front_show_and_behind_do_not(straight):
    cam = Camera(straight)
    base = cam.render(1.0, -0.2, 0.0)
    box = box_obstacle(2.0, -0.2, 0.0)
    grey = luma(box.rgb)
    assert grey not in set(np.unique(base).tolist())
    img = cam.render(1.0, -0.2, 0.0, [box])
    assert np.sum(img == grey) > 200
    # its footprint projects where the pinhole model says
    col, row = pixel_of(2.0 - 0.2 - CAMERA_X, 0.0, 0.25 - CAMERA_Z)  # near top edge, centre
    assert img[int(row) + 1, int(col)] == grey
    behind = cam.render(1.0, -0.2, 0.0, [box_obstacle(0.3, -0.2, 0.0)])
    np.testing.assert_array_equal(behind, base)
    # a nearer bot car occludes the box
    car = bot_car(1.6, -0.2, 0.0)
    both = cam.render(1.0, -0.2, 0.0, [box, car])
    assert np.sum(both == luma(car.rgb)) > 200
    assert np.sum(both == grey) < np.sum(img == grey)
    # order of the objects does not matter
    np.testing.assert_array_equal(both, cam.render(1.0, -0.2, 0.0, [car, box]))


# ---------------------------------------------------------------------------------- lidar


def test_lidar_ray_geometry():
    ang = np.degrees(car_frame_angles())
    assert ang.shape == (LIDAR_SAMPLES,)
    assert ang[0] == pytest.approx(30.0, abs=0.01)  # first ray: front-left
    assert ang[-1] == pytest.approx(-30.0, abs=0.01)  # last ray: front-right
    assert np.all(np.abs(ang) >= 29.99)  # the +-30 deg wedge ahead is not scanned
    wrapped = np.mod(ang, 360.0)
    assert np.all(np.diff(wrapped) > 0)  # counter-clockwise through left, rear, right


def test_lidar_rear_wall_distance(straight):
    lidar = Lidar(straight, np.random.default_rng(1))
    x0 = straight.bounds[0]
    car_x = -0.2
    expected = (car_x + LIDAR_X) - x0  # laser to the wall behind
    true = lidar.true_ranges(car_x, 0.0, 0.0)
    step = (2 * 2.61799) / 63
    for i in (31, 32):  # the two rays around straight back (laser +-step/2)
        assert true[i] == pytest.approx(expected / math.cos(step / 2), abs=1e-9)
    scan = lidar.scan(car_x, 0.0, 0.0)
    assert scan.shape == (64,) and scan.dtype == np.float64
    assert abs(scan[31] - expected) < 0.05 and abs(scan[32] - expected) < 0.05
    # resolution 0.01 m
    np.testing.assert_allclose(scan * 100, np.round(scan * 100), atol=1e-6)
    assert np.all(scan >= 0.15)


def test_lidar_blind_wedge_and_ray_order(straight):
    lidar = Lidar(straight, np.random.default_rng(0))
    pose = (2.0, 0.0, 0.0)
    free = lidar.true_ranges(*pose)
    ahead = box_obstacle(2.5, 0.0, 0.0)  # 0.5 m straight ahead: inside the blind wedge
    np.testing.assert_array_equal(lidar.true_ranges(*pose, [ahead]), free)
    left = box_obstacle(2.0, 0.45, 0.0)
    seen = np.nonzero(lidar.true_ranges(*pose, [left]) < free)[0]
    assert seen.size and np.all(seen < 32)
    right = box_obstacle(2.0, -0.45, 0.0)
    seen = np.nonzero(lidar.true_ranges(*pose, [right]) < free)[0]
    assert seen.size and np.all(seen >= 32)
    # a box touching the car reads the minimum range
    touching = BoxObject(1.9, 0.17, 0.0, 0.4, 0.1, 0.25, (200, 150, 100))
    assert np.min(lidar.scan(*pose, [touching])) == pytest.approx(0.15)


def test_lidar_far_rays_are_inf_and_processed_values_clip():
    scene = Scene.from_track(*straight_track(length=30.0, n=151))
    lidar = Lidar(scene, np.random.default_rng(3))
    scan = lidar.scan(0.5, 0.0, np.pi)  # facing -x: the laser looks down the 30 m strip
    assert np.isinf(scan[31]) and np.isinf(scan[32])
    assert np.all(scan[np.isfinite(scan)] <= 12.0)
    obs = lidar_observation(scan)
    assert obs.dtype == np.float32 and obs.shape == (64,)
    assert obs.min() >= np.float32(0.15) and obs.max() <= np.float32(1.0)
    assert obs[31] == np.float32(1.0)
    np.testing.assert_array_equal(
        lidar_observation(np.array([0.0, 0.1, 0.5, 1.5, np.inf])),
        np.array([0.15, 0.15, 0.5, 1.0, 1.0], dtype=np.float32),
    )


def test_lidar_noise_is_seeded():
    scene = Scene.from_track(*straight_track())
    a = Lidar(scene, np.random.default_rng(7)).scan(2.0, 0.0, 0.3)
    b = Lidar(scene, np.random.default_rng(7)).scan(2.0, 0.0, 0.3)
    c = Lidar(scene, np.random.default_rng(8)).scan(2.0, 0.0, 0.3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sector_lidar_binary():
    r = np.full(64, np.inf)
    r[0:8] = 0.3
    r[8:16] = 0.5  # not below 0.5
    r[16:24] = 2.0
    r[20] = 0.49
    r[63] = 0.15
    out = sector_lidar_observation(r)
    assert out.dtype == np.float32 and out.shape == (8,)
    np.testing.assert_array_equal(out, [1, 0, 1, 0, 0, 0, 0, 1])


def test_discretized_sector_lidar_one_hot():
    r = np.full(64, np.inf)
    sector_mins = [0.3, 0.5, 0.49, 1.99, 2.0, 5.0, np.inf, 0.15]
    for k, m in enumerate(sector_mins):
        r[8 * k : 8 * k + 8] = np.maximum(m, 3.0)
        r[8 * k + 3] = m
    out = discretized_sector_lidar_observation(r)
    assert out.dtype == np.float32 and out.shape == (64,)
    table = out.reshape(8, 8)
    expected_bins = [1, 2, 1, 7, None, None, None, 0]  # bin width 2.0 / 8 = 0.25 m
    for k, b in enumerate(expected_bins):
        if b is None:
            assert not table[k].any(), k  # nothing within the clipping distance: dropped bin
        else:
            assert table[k].sum() == 1 and table[k, b] == 1, (k, table[k])
    small = discretized_sector_lidar_observation(
        r, num_sectors=4, num_values_per_sector=2, clipping_dist=1.0
    )
    # sectors of 16 rays: mins 0.3, 0.49, 2.0, 0.15 -> bins 0, 0, dropped, 0 (width 0.5 m)
    np.testing.assert_array_equal(small, [1, 0, 1, 0, 0, 0, 1, 0])


# --------------------------------------------------------------------------------- suite


def test_observation_space_contains_every_combination(straight):
    cams = [[], ["FRONT_FACING_CAMERA"], ["LEFT_CAMERA"], ["observation"], ["STEREO_CAMERAS"]]
    lidars = [[], ["LIDAR"], ["SECTOR_LIDAR"], ["DISCRETIZED_SECTOR_LIDAR"]]
    combos = [c + li for c, li in itertools.product(cams, lidars)] + [list(SENSOR_NAMES)]
    objects = [box_obstacle(2.0, 0.3, 0.0), bot_car(1.0, -0.4, 0.2)]
    for sensors in combos:
        suite = SensorSuite(straight, sensors, None, np.random.default_rng(0))
        assert list(suite.observation_space.spaces) == sensors
        for pose in [(1.0, -0.2, 0.0), (3.0, 0.1, 1.0), (5.5, 0.0, 3.0)]:
            obs = suite.observe(*pose, objects)
            assert list(obs) == sensors
            assert suite.observation_space.contains(obs), sensors
    space = build_observation_space(
        ["STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"],
        {"num_sectors": 16, "num_values_per_sector": 4, "clipping_dist": 1.0},
    )
    assert space["STEREO_CAMERAS"].shape == (120, 160, 2)
    assert space["DISCRETIZED_SECTOR_LIDAR"].shape == (64,)
    assert build_observation_space(["FRONT_FACING_CAMERA"])["FRONT_FACING_CAMERA"].shape == (
        120, 160, 1)


def test_suite_camera_matches_camera_and_noise_option(straight):
    pose = (1.0, -0.2, 0.0)
    plain = SensorSuite(straight, ["FRONT_FACING_CAMERA"], None, np.random.default_rng(0))
    img = plain.observe(*pose)["FRONT_FACING_CAMERA"]
    np.testing.assert_array_equal(img[..., 0], Camera(straight).render(*pose))
    noisy = SensorSuite(
        straight, ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"], None, np.random.default_rng(0),
        camera_noise_std=8.0,
    )
    obs = noisy.observe(*pose)
    n = obs["FRONT_FACING_CAMERA"]
    assert n.dtype == np.uint8 and noisy.observation_space.contains(obs)
    assert np.mean(n != img) > 0.5
    assert abs(float(np.mean(n.astype(float) - img)) ) < 1.0
    assert np.mean(obs["STEREO_CAMERAS"] != StereoCamera(straight).render(*pose)) > 0.5
    # saturates instead of wrapping
    loud = SensorSuite(straight, ["observation"], None, np.random.default_rng(0), 500.0)
    vals = np.unique(loud.observe(*pose)["observation"])
    assert vals.min() == 0 and vals.max() == 255


def test_suite_lidar_shares_one_scan(straight):
    suite = SensorSuite(
        straight,
        ["LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR"],
        {"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0},
        np.random.default_rng(0),
    )
    obs = suite.observe(0.0, 0.0, 0.0)
    scan = suite.last_scan
    np.testing.assert_array_equal(obs["LIDAR"], lidar_observation(scan))
    np.testing.assert_array_equal(obs["SECTOR_LIDAR"], sector_lidar_observation(scan))
    np.testing.assert_array_equal(
        obs["DISCRETIZED_SECTOR_LIDAR"], discretized_sector_lidar_observation(scan)
    )
    assert SensorSuite(straight, [], None, None).observe(0.0, 0.0, 0.0) == {}


@pytest.mark.parametrize(
    ("sensors", "config", "match"),
    [
        (["FRONT_CAMERA"], None, r"unknown sensor 'FRONT_CAMERA'.*FRONT_FACING_CAMERA"),
        ("FRONT_FACING_CAMERA", None, "list of sensor names"),
        (["LIDAR", "LIDAR"], None, "more than once"),
        (["LIDAR"], {"num_sectors": 3}, r"num_sectors.*1, 2, 4, 8, 16, 32, 64"),
        (["LIDAR"], {"num_sectors": "8"}, "num_sectors"),
        (["LIDAR"], {"num_values_per_sector": 0}, "num_values_per_sector"),
        (["LIDAR"], {"num_values_per_sector": 2.5}, "num_values_per_sector"),
        (["LIDAR"], {"clipping_dist": 20.0}, r"clipping_dist.*0.15, 12.0"),
        (["LIDAR"], {"clipping_dist": True}, "clipping_dist"),
        (["LIDAR"], {"num_sector": 8}, r"unknown key.*num_sectors"),
    ],
)
def test_suite_rejects_bad_configuration(straight, sensors, config, match):
    with pytest.raises(ValueError, match=match):
        SensorSuite(straight, sensors, config, np.random.default_rng(0))


def test_suite_rejects_bad_noise(straight):
    for bad in (-1.0, float("nan"), "loud"):
        with pytest.raises(ValueError, match="camera_noise_std"):
            SensorSuite(straight, ["observation"], None, None, camera_noise_std=bad)


# ------------------------------------------------------------------------------ top-down


def test_topdown_render(circle):
    td = TopDownRenderer(circle, 640, 480)
    img = td.render(3.0, 0.0, np.pi / 2, [box_obstacle(-3.0, 0.0, np.pi / 2)],
                    trail=np.array([[3.0, -1.0], [3.0, -0.3]]))
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert scene_mod.ROAD_RGB in colours and scene_mod.FIELD_RGB in colours
    assert scene_mod.BORDER_RGB in colours
    col, row = td.world_to_pixel([[3.0, 0.0]])[0]
    assert tuple(img[int(row), int(col)]) == td.car_rgb
    ncol, nrow = td.world_to_pixel([[3.0, 0.12]])[0]  # nose points along +y
    assert tuple(img[int(nrow), int(ncol)]) == td.heading_rgb
    bcol, brow = td.world_to_pixel([[-3.0, 0.0]])[0]
    assert tuple(img[int(brow), int(bcol)]) == scene_mod.BOX_OBSTACLE_RGB
    tcol, trow = td.world_to_pixel([[3.0, -0.7]])[0]
    assert tuple(img[int(trow), int(tcol)]) == td.trail_rgb
    # the background is untouched between frames
    again = td.render(-3.0, 0.0, -np.pi / 2)
    assert tuple(again[int(row), int(col)]) != td.car_rgb
    thumb = td.thumbnail((160, 120))
    assert thumb.shape == (120, 160, 3) and thumb.dtype == np.uint8
    assert not np.any(np.all(thumb == td.car_rgb, axis=-1))


def test_topdown_keeps_aspect(straight):
    td = TopDownRenderer(straight, 640, 480)
    (c0, r0), (c1, r1) = td.world_to_pixel([[0.0, 0.0], [1.0, 1.0]])
    assert c1 - c0 == pytest.approx(r0 - r1)  # same pixels per metre on both axes; y up
    x0, y0, x1, y1 = straight.bounds
    corners = td.world_to_pixel([[x0, y0], [x1, y1]])
    assert corners[:, 0].min() >= -1e-6 and corners[:, 0].max() <= 640 + 1e-6
    assert corners[:, 1].min() >= -1e-6 and corners[:, 1].max() <= 480 + 1e-6


def test_focal_length():
    assert focal_length() == pytest.approx(80.0 / math.tan(0.565))
