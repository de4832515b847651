"""Speed of the sensors: camera and stereo frames/s, lidar scans/s, top-down frames/s.

Prints figures only (no thresholds). Uses a built-in 40 m stadium-shaped loop, or a track file
given as the first argument (a .npy route with columns centre x, y, inner x, y, outer x, y).

    python bench/camera_render.py [route.npy]
"""

from __future__ import annotations

import sys
import time
import timeit

import numpy as np

from markov.environment.sensors import (
    Camera,
    Lidar,
    Scene,
    SensorSuite,
    StereoCamera,
    TopDownRenderer,
    bot_car,
    box_obstacle,
)


def stadium(straight=8.0, radius=3.0, width=1.067, step=0.15):
    """Closed CCW loop: two straights joined by half circles (about 2*8 + 2*pi*3 = 34.8 m)."""
    pts = []
    n_s = int(straight / step)
    n_c = int(np.pi * radius / step)
    for i in range(n_s):
        pts.append((-straight / 2 + i * step, -radius, 0.0))
    for i in range(n_c):
        a = -np.pi / 2 + np.pi * i / n_c
        pts.append((straight / 2 + radius * np.cos(a), radius * np.sin(a), a + np.pi / 2))
    for i in range(n_s):
        pts.append((straight / 2 - i * step, radius, np.pi))
    for i in range(n_c):
        a = np.pi / 2 + np.pi * i / n_c
        pts.append((-straight / 2 + radius * np.cos(a), radius * np.sin(a), a + np.pi / 2))
    pts.append(pts[0])
    p = np.array(pts)
    c = p[:, :2]
    left = np.stack([-np.sin(p[:, 2]), np.cos(p[:, 2])], axis=1)
    return c, c + left * width / 2, c - left * width / 2, True


def load(path):
    a = np.load(path)
    closed = bool(np.allclose(a[0], a[-1]))
    return a[:, 0:2], a[:, 2:4], a[:, 4:6], closed


def rate(fn, poses, repeat=3):
    def run():
        for p in poses:
            fn(*p)

    run()
    best = min(timeit.repeat(run, number=1, repeat=repeat))
    return len(poses) / best, best / len(poses) * 1e6


def main() -> None:
    track = load(sys.argv[1]) if len(sys.argv) > 1 else stadium()
    center = track[0]
    length = float(np.sum(np.hypot(*np.diff(center, axis=0).T)))
    Scene.clear_cache()
    t = time.perf_counter()
    scene = Scene.from_track(*track)
    build = time.perf_counter() - t
    print(f"track: {len(center)} waypoints, {length:.1f} m; {scene}")
    print(f"scene build: {build * 1e3:.0f} ms (cached afterwards)")

    rng = np.random.default_rng(0)
    k = np.arange(len(center) - 1)
    d = np.diff(center, axis=0)
    yaw = np.arctan2(d[:, 1], d[:, 0])
    jitter = rng.normal(0, 0.1, (len(k), 2))
    poses = [(center[i, 0] + jitter[i, 0], center[i, 1] + jitter[i, 1], yaw[i]) for i in k]

    def objects_for(n):
        idx = np.linspace(5, len(center) - 6, n).astype(int) if n else []
        out = []
        for j, i in enumerate(idx):
            make = box_obstacle if j % 2 == 0 else bot_car
            out.append(make(center[i, 0], center[i, 1], yaw[i]))
        return out

    cam = Camera(scene)
    stereo = StereoCamera(scene)
    lidar = Lidar(scene, rng)
    for n in (0, 3, 6):
        objs = objects_for(n)
        fps, us = rate(lambda x, y, a, o=objs: cam.render(x, y, a, o), poses)
        print(f"camera, {n} objects: {fps:8.0f} frames/s ({us:6.1f} us/frame)")
    fps, us = rate(lambda x, y, a: stereo.render(x, y, a), poses)
    print(f"stereo, 0 objects: {fps:8.0f} frames/s ({us:6.1f} us/frame)")
    for n in (0, 6):
        objs = objects_for(n)
        fps, us = rate(lambda x, y, a, o=objs: lidar.scan(x, y, a, o), poses)
        print(f"lidar,  {n} objects: {fps:8.0f} scans/s  ({us:6.1f} us/scan)")
    suite = SensorSuite(scene, ["FRONT_FACING_CAMERA", "LIDAR"], None, rng)
    fps, us = rate(lambda x, y, a: suite.observe(x, y, a), poses)
    print(f"suite FRONT_FACING_CAMERA+LIDAR: {fps:8.0f} obs/s ({us:6.1f} us/obs)")
    noisy = SensorSuite(scene, ["FRONT_FACING_CAMERA"], None, rng, camera_noise_std=5.0)
    fps, us = rate(lambda x, y, a: noisy.observe(x, y, a), poses)
    print(f"suite camera with noise: {fps:8.0f} obs/s ({us:6.1f} us/obs)")
    t = time.perf_counter()
    top = TopDownRenderer(scene)
    print(f"top-down background 640x480: {(time.perf_counter() - t) * 1e3:.0f} ms")
    trail = center[:40]
    objs = objects_for(6)
    fps, us = rate(lambda x, y, a: top.render(x, y, a, objs, trail), poses[:60])
    print(f"top-down frame, 6 objects + trail: {fps:8.0f} frames/s ({us:6.1f} us/frame)")


if __name__ == "__main__":
    main()
