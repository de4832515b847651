"""Top-down RGB view of a track with the car, objects and a trail (env ``rgb_array``, videos).

The background (field, road, lines, start line; wall colour in the letterbox) is rendered once
per renderer by supersampling the scene's class raster; a frame copies it and draws the trail,
the objects and the car (an oriented 0.32 x 0.20 m rectangle with a heading triangle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .scene import PALETTE, BoxObject, Scene

CAR_LENGTH = 0.32352
CAR_WIDTH = 0.1961
CAR_RGB = (150, 40, 200)  # purple body
HEADING_RGB = (255, 215, 0)  # yellow nose triangle
TRAIL_RGB = (0, 170, 255)
OBJECT_OUTLINE_RGB = (20, 20, 20)


def _fill_convex(img: np.ndarray, pts: np.ndarray, rgb) -> None:
    """Fill a convex polygon given in pixel coordinates (col, row floats); a pixel is inside
    when its centre is. Polygons smaller than a pixel still paint the pixel of their centroid."""
    h, w = img.shape[:2]
    j0 = max(math.floor(pts[:, 0].min()), 0)
    j1 = min(math.ceil(pts[:, 0].max()) + 1, w)
    i0 = max(math.floor(pts[:, 1].min()), 0)
    i1 = min(math.ceil(pts[:, 1].max()) + 1, h)
    if j1 <= j0 or i1 <= i0:
        return
    xs = (np.arange(j0, j1) + 0.5)[None, :]
    ys = (np.arange(i0, i1) + 0.5)[:, None]
    pos = np.ones((i1 - i0, j1 - j0), dtype=bool)
    neg = pos.copy()
    n = len(pts)
    for k in range(n):
        ax, ay = pts[k]
        bx, by = pts[(k + 1) % n]
        e = (bx - ax) * (ys - ay) - (by - ay) * (xs - ax)
        pos &= e >= 0
        neg &= e <= 0
    inside = pos | neg
    sub = img[i0:i1, j0:j1]
    if inside.any():
        sub[inside] = rgb
    else:
        cj, ci = pts.mean(axis=0)
        if 0 <= cj < w and 0 <= ci < h:
            img[int(ci), int(cj)] = rgb


def _draw_polyline(img: np.ndarray, pts: np.ndarray, rgb, thickness: int = 2) -> None:
    """Polyline through pixel coordinates (N, 2) as (col, row), sampled every half pixel."""
    if len(pts) == 0:
        return
    h, w = img.shape[:2]
    if len(pts) == 1:
        samples = pts
    else:
        seg = np.diff(pts, axis=0)
        n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) * 2.0).astype(np.int64), 1)
        idx = np.repeat(np.arange(len(seg)), n)
        frac = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
        samples = pts[idx] + seg[idx] * frac[:, None]
        samples = np.vstack([samples, pts[-1:]])
    cols = np.floor(samples[:, 0]).astype(np.int64)
    rows = np.floor(samples[:, 1]).astype(np.int64)
    lo = -(thickness // 2)
    for di in range(lo, lo + thickness):
        for dj in range(lo, lo + thickness):
            r, c = rows + di, cols + dj
            ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            img[r[ok], c[ok]] = rgb


class TopDownRenderer:
    """``render(x, y, yaw, objects, trail)`` -> (height, width, 3) uint8 RGB of the whole track."""

    car_rgb = CAR_RGB
    heading_rgb = HEADING_RGB
    trail_rgb = TRAIL_RGB

    def __init__(self, scene: Scene, width: int = 640, height: int = 480):
        width, height = int(width), int(height)
        if width < 8 or height < 8:
            raise ValueError(f"top-down image must be at least 8 x 8 pixels, got {width}x{height}")
        self.scene = scene
        self.width, self.height = width, height
        self._scale, self._ox, self._oy = self._fit(width, height)
        self.background = self._render_background(width, height)
        self.background.flags.writeable = False

    # -- geometry --------------------------------------------------------------------------
    def _fit(self, width: int, height: int):
        x0, y0, x1, y1 = self.scene.bounds
        scale = min(width / (x1 - x0), height / (y1 - y0))  # pixels per metre
        ox = 0.5 * (width - scale * (x1 - x0))
        oy = 0.5 * (height - scale * (y1 - y0))
        return scale, ox, oy

    @property
    def pixels_per_metre(self) -> float:
        return self._scale

    def world_to_pixel(self, xy) -> np.ndarray:
        """World points (N, 2) -> pixel coordinates (N, 2) as (col, row) floats."""
        p = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        x0, _, _, y1 = self.scene.bounds
        col = self._ox + (p[:, 0] - x0) * self._scale
        row = self._oy + (y1 - p[:, 1]) * self._scale
        return np.stack([col, row], axis=1)

    def _render_background(self, width: int, height: int) -> np.ndarray:
        scale, ox, oy = self._fit(width, height)
        x0, _, _, y1 = self.scene.bounds
        # Supersample k x k per pixel so thin lines blend instead of aliasing.
        k = int(min(max(math.ceil(1.0 / (scale * self.scene.resolution) / 2.0), 1), 4))
        sub = (np.arange(k) + 0.5) / k
        cols = (np.arange(width)[:, None] + sub[None, :]).reshape(-1)
        rows = (np.arange(height)[:, None] + sub[None, :]).reshape(-1)
        wx = x0 + (cols - ox) / scale
        wy = y1 - (rows - oy) / scale
        cls = self.scene.class_map
        r_idx, _ = self.scene.cell_of(np.zeros_like(wy), wy)
        _, c_idx = self.scene.cell_of(wx, np.zeros_like(wx))
        samples = cls[r_idx[:, None], c_idx[None, :]]  # (height*k, width*k)
        rgb = PALETTE[samples].astype(np.uint16)
        rgb = rgb.reshape(height, k, width, k, 3).sum(axis=(1, 3))
        return ((rgb + (k * k) // 2) // (k * k)).astype(np.uint8)

    # -- frames ------------------------------------------------------------------------------
    def render(
        self,
        x: float,
        y: float,
        yaw: float,
        objects: Sequence[BoxObject] = (),
        trail: np.ndarray | None = None,
    ) -> np.ndarray:
        img = self.background.copy()
        if trail is not None and len(trail):
            pts = self.world_to_pixel(np.asarray(trail, dtype=np.float64)[:, :2])
            _draw_polyline(img, pts, self.trail_rgb, thickness=2)
        for obj in objects:
            _fill_convex(img, self.world_to_pixel(obj.corners()), obj.rgb)
        self._draw_car(img, x, y, yaw)
        return img

    def _draw_car(self, img: np.ndarray, x: float, y: float, yaw: float) -> None:
        c, s = math.cos(yaw), math.sin(yaw)
        hl, hw = 0.5 * CAR_LENGTH, 0.5 * CAR_WIDTH
        rot = np.array([[c, s], [-s, c]])
        body = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]]) @ rot + (x, y)
        _fill_convex(img, self.world_to_pixel(body), self.car_rgb)
        nose = np.array([[hl, 0.0], [0.45 * hl, 0.8 * hw], [0.45 * hl, -0.8 * hw]]) @ rot + (x, y)
        _fill_convex(img, self.world_to_pixel(nose), self.heading_rgb)

    def thumbnail(self, size: tuple[int, int] = (160, 120)) -> np.ndarray:
        """The empty track fitted into ``size`` = (width, height): (height, width, 3) uint8."""
        w, h = int(size[0]), int(size[1])
        if w < 8 or h < 8:
            raise ValueError(f"thumbnail must be at least 8 x 8 pixels, got {w}x{h}")
        if (w, h) == (self.width, self.height):
            return self.background.copy()
        return TopDownRenderer(self.scene, w, h).background.copy()
