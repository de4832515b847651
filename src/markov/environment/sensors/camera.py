"""Pinhole front camera rendered straight into 160 x 120 greyscale
(docs/simulator-contract.md §7.2).

The camera is rigid on the car and the ground is flat, so every pixel below the horizon meets
the ground at a fixed point of the car frame. Those points are precomputed (in raster-cell
units); a frame is one 2 x 2 rotation of them, a clip onto the raster (points beyond the field
land on the raster's wall ring) and one gather from the scene's grey raster (nearest sampling,
so every ground pixel is exactly one palette grey). Pixels above the horizon intersect the four
wall planes: wall up to 1 m, sky above. Boxes (obstacles, bot cars) are ray-cast against their
3D box (slab test) inside their projected bounding rectangle; the nearest surface wins.

Differences from the simapp, by design: no lighting, shading or texture noise; no 640 x 480
render + bilinear resize (distant thin features alias instead of blurring).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from .scene import LUMA_TRUNCATE, SKY, WALL, BoxObject, Scene, luma

IMAGE_WIDTH = 160
IMAGE_HEIGHT = 120
HORIZONTAL_FOV = 1.13  # rad
CAMERA_PITCH = 0.2618  # rad, pitched down
CAMERA_X = 0.14529  # m ahead of the car origin
CAMERA_Z = 0.13033  # m above the ground
STEREO_OFFSET = 0.03  # m; left camera at +0.03 (car +y), right at -0.03
NEAR_CLIP = 0.02  # m
_GROUND_CAP = 1000.0  # m; farther ground hits are pulled in (they land beyond the walls anyway)


@functools.lru_cache(maxsize=256)
def _object_grey(rgb: tuple[int, int, int], mode: str) -> int:
    return luma(rgb, mode)


def focal_length(width: int = IMAGE_WIDTH, hfov: float = HORIZONTAL_FOV) -> float:
    """fx = fy in pixels: (W/2) / tan(HFOV/2) (126.2 px at 160 wide)."""
    return (width / 2.0) / math.tan(hfov / 2.0)


def pixel_rays(
    width: int = IMAGE_WIDTH,
    height: int = IMAGE_HEIGHT,
    hfov: float = HORIZONTAL_FOV,
    pitch: float = CAMERA_PITCH,
) -> np.ndarray:
    """Unnormalised ray directions (3, H, W) of the pixel centres in the car frame.

    Car frame: x forward, y left, z up. Image: column j to the right, row i downwards, principal
    point at the image centre, square pixels.
    """
    f = focal_length(width, hfov)
    xc = (np.arange(width) + 0.5 - width / 2.0) / f  # right
    yc = (np.arange(height) + 0.5 - height / 2.0) / f  # down
    xc, yc = np.meshgrid(xc, yc)
    sp, cp = math.sin(pitch), math.cos(pitch)
    # forward F = (cp, 0, -sp); right R = (0, -1, 0); down D = (-sp, 0, -cp)
    dx = cp - yc * sp
    dy = -xc
    dz = -sp - yc * cp
    return np.stack([dx, dy, dz])


class Camera:
    """The front camera (or one of the stereo pair) of a car in a ``Scene``.

    ``render(x, y, yaw, objects)`` takes the car origin pose (base_link: on the ground,
    mid-wheelbase) and returns a (120, 160) uint8 greyscale image.
    """

    width = IMAGE_WIDTH
    height = IMAGE_HEIGHT

    def __init__(
        self, scene: Scene, lateral_offset: float = 0.0, *, luma_mode: str = LUMA_TRUNCATE
    ):
        self.scene = scene
        self.lateral_offset = float(lateral_offset)
        self.luma_mode = luma_mode
        self.position = (CAMERA_X, self.lateral_offset, CAMERA_Z)
        self.focal = focal_length()

        grey = scene.grey(luma_mode)
        self._flat = grey.reshape(-1)
        self._rows, self._cols = grey.shape
        lut = scene.grey_lut(luma_mode)
        self.wall_grey = int(lut[WALL])
        self.sky_grey = int(lut[SKY])
        x0, y0, x1, y1 = scene.bounds
        self._bounds = (x0, y0, x1, y1)
        self._inv_res = 1.0 / scene.resolution

        rays = pixel_rays()
        self._rays = rays  # (3, H, W), car frame
        self._rays32 = rays.astype(np.float32)
        with np.errstate(divide="ignore"):
            self._inv_rz32 = (1.0 / rays[2]).astype(np.float32)
        dz_row = rays[2, :, 0]
        below = np.nonzero(dz_row < 0.0)[0]
        self.horizon_row = int(below[0]) if below.size else self.height  # first ground row
        h0 = self.horizon_row

        # Ground points (car frame) of rows h0..H-1, in raster-cell units, as (2, N).
        g = rays[:, h0:, :].reshape(3, -1)
        t = CAMERA_Z / (-g[2])
        gx = t * g[0]
        gy = t * g[1]
        dist = np.hypot(gx, gy)
        scale = np.minimum(1.0, _GROUND_CAP / np.maximum(dist, 1e-9))
        gx = CAMERA_X + gx * scale
        gy = self.lateral_offset + gy * scale
        self._ground_cells = np.ascontiguousarray(np.stack([gx, gy]) * self._inv_res)

        # Sky/wall rows 0..h0-1: unit horizontal direction (2, M) and rise per metre (M,).
        w = rays[:, :h0, :].reshape(3, -1)
        hn = np.hypot(w[0], w[1])
        self._wall_dirs = np.ascontiguousarray(np.stack([w[0] / hn, w[1] / hn]))
        self._wall_slope = w[2] / hn
        self._clip_hi = np.array([[self._cols - 1], [self._rows - 1]], dtype=np.int32)

    # ------------------------------------------------------------------------------------
    def _pose(self, x: float, y: float, yaw: float):
        c, s = math.cos(yaw), math.sin(yaw)
        ox = x + c * CAMERA_X - s * self.lateral_offset
        oy = y + s * CAMERA_X + c * self.lateral_offset
        return c, s, ox, oy

    def render(
        self, x: float, y: float, yaw: float, objects: Sequence[BoxObject] = ()
    ) -> np.ndarray:
        """Greyscale (120, 160) uint8 frame of the car at (x, y, yaw)."""
        c = math.cos(yaw)
        s = math.sin(yaw)
        img = np.empty((self.height, self.width), dtype=np.uint8)
        h0 = self.horizon_row

        # Ground: rotate the fixed car-frame hit points into raster cells and gather.
        inv = self._inv_res
        x0, y0, x1, y1 = self._bounds
        rot = np.array([[c, -s], [s, c]])
        uv = rot @ self._ground_cells
        uv[0] += (x - x0) * inv + 1.0
        uv[1] += (y - y0) * inv + 1.0
        cells = uv.astype(np.int32)
        np.clip(cells, 0, self._clip_hi, out=cells)
        idx = cells[1] * self._cols
        idx += cells[0]
        np.take(self._flat, idx, out=img[h0:].reshape(-1))

        # Above the horizon: wall up to its height, sky beyond.
        if h0 > 0:
            ox = x + c * CAMERA_X - s * self.lateral_offset
            oy = y + s * CAMERA_X + c * self.lateral_offset
            wd = rot @ self._wall_dirs
            with np.errstate(divide="ignore", invalid="ignore"):
                inv_d = 1.0 / wd
            tx = np.maximum((x1 - ox) * inv_d[0], (x0 - ox) * inv_d[0])
            ty = np.maximum((y1 - oy) * inv_d[1], (y0 - oy) * inv_d[1])
            np.minimum(tx, ty, out=tx)
            tx *= self._wall_slope
            sky = tx > (self.scene.wall_height - CAMERA_Z)
            top = img[:h0].reshape(-1)
            top.fill(self.wall_grey)
            top[sky] = self.sky_grey

        if objects:
            self._draw_objects(img, x, y, yaw, objects)
        return img

    # ------------------------------------------------------------------------------------
    def _draw_objects(self, img, x, y, yaw, objects) -> None:
        """Ray-box (slab) test over each box's projected screen rectangle; nearest hit wins."""
        c, s = math.cos(yaw), math.sin(yaw)
        ox = x + c * CAMERA_X - s * self.lateral_offset
        oy = y + s * CAMERA_X + c * self.lateral_offset
        oz = CAMERA_Z
        sp, cp = math.sin(CAMERA_PITCH), math.cos(CAMERA_PITCH)
        fx, fy, fz = cp * c, cp * s, -sp  # optical axis
        rx, ry = s, -c  # image right
        dx, dy, dz = -sp * c, -sp * s, -cp  # image down
        f, half_w, half_h = self.focal, 0.5 * self.width, 0.5 * self.height
        depth = None
        with np.errstate(divide="ignore", invalid="ignore"):
            for obj in objects:
                rect = self._screen_rect(
                    obj, ox, oy, oz, (fx, fy, fz), (rx, ry), (dx, dy, dz), f, half_w, half_h
                )
                if rect is None:
                    continue
                i0, i1, j0, j1 = rect
                # ray directions: car frame -> world (yaw) -> box frame (-obj.yaw)
                ca, sa = math.cos(yaw - obj.yaw), math.sin(yaw - obj.yaw)
                r0 = self._rays32[0, i0:i1, j0:j1]
                r1 = self._rays32[1, i0:i1, j0:j1]
                cb, sb = math.cos(obj.yaw), math.sin(obj.yaw)
                px, py = ox - obj.x, oy - obj.y
                oxb, oyb = cb * px + sb * py, -sb * px + cb * py
                hl, hw = 0.5 * obj.length, 0.5 * obj.width
                ix = 1.0 / (ca * r0 - sa * r1)
                iy = 1.0 / (sa * r0 + ca * r1)
                iz = self._inv_rz32[i0:i1, j0:j1]
                ax, bx = (-hl - oxb) * ix, (hl - oxb) * ix
                ay, by = (-hw - oyb) * iy, (hw - oyb) * iy
                az, bz = -oz * iz, (obj.height - oz) * iz
                tnear = np.maximum(
                    np.maximum(np.minimum(ax, bx), np.minimum(ay, by)), np.minimum(az, bz)
                )
                tfar = np.minimum(
                    np.minimum(np.maximum(ax, bx), np.maximum(ay, by)), np.maximum(az, bz)
                )
                hit = (tnear <= tfar) & (tnear > NEAR_CLIP)
                if len(objects) > 1:
                    if depth is None:
                        depth = np.full((self.height, self.width), np.inf, dtype=np.float32)
                    dsub = depth[i0:i1, j0:j1]
                    hit &= tnear < dsub
                    dsub[hit] = tnear[hit]
                img[i0:i1, j0:j1][hit] = _object_grey(tuple(obj.rgb), self.luma_mode)

    def _screen_rect(self, obj, ox, oy, oz, forward, right, down, f, half_w, half_h):
        """Pixel rectangle (i0, i1, j0, j1) covering the box, or None when it is not in view."""
        cb, sb = math.cos(obj.yaw), math.sin(obj.yaw)
        hl, hw = 0.5 * obj.length, 0.5 * obj.width
        fx, fy, fz = forward
        rx, ry = right
        dx, dy, dz = down
        us: list[float] = []
        vs: list[float] = []
        behind = False
        for a, b in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw)):
            wx = obj.x + a * cb - b * sb - ox
            wy = obj.y + a * sb + b * cb - oy
            side = wx * rx + wy * ry
            for wz in (-oz, obj.height - oz):
                zc = wx * fx + wy * fy + wz * fz
                if zc <= NEAR_CLIP:
                    behind = True
                    continue
                us.append(half_w + f * side / zc)
                vs.append(half_h + f * (wx * dx + wy * dy + wz * dz) / zc)
        if not us:
            return None  # entirely behind the camera
        if behind:
            return 0, self.height, 0, self.width
        j0 = max(math.floor(min(us) - 0.5), 0)
        j1 = min(math.ceil(max(us) + 0.5), self.width)
        i0 = max(math.floor(min(vs) - 0.5), 0)
        i1 = min(math.ceil(max(vs) + 0.5), self.height)
        if j1 <= j0 or i1 <= i0:
            return None
        return i0, i1, j0, j1

    # ------------------------------------------------------------------------------------
    def ground_point(self, row: int, col: int) -> tuple[float, float] | None:
        """Car-frame (x, y) metres where pixel (row, col) meets the ground, or None above the
        horizon (before the far-distance cap)."""
        if row < self.horizon_row:
            return None
        r = self._rays[:, row, col]
        t = CAMERA_Z / (-r[2])
        return (CAMERA_X + t * r[0], self.lateral_offset + t * r[1])

    def project(self, x: float, y: float, yaw: float, points) -> np.ndarray:
        """Pixel coordinates (N, 2) as (col, row) floats of world points (N, 3) for the car
        pose; NaN for points behind the camera. Pixel (i, j) spans [j, j+1) x [i, i+1)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        c, s, ox, oy = self._pose(x, y, yaw)
        sp, cp = math.sin(CAMERA_PITCH), math.cos(CAMERA_PITCH)
        rel = p - (ox, oy, CAMERA_Z)
        zc = rel @ np.array([cp * c, cp * s, -sp])
        xc = rel @ np.array([s, -c, 0.0])
        yc = rel @ np.array([-sp * c, -sp * s, -cp])
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.width / 2.0 + self.focal * xc / zc
            v = self.height / 2.0 + self.focal * yc / zc
        out = np.stack([u, v], axis=1)
        out[zc <= NEAR_CLIP] = np.nan
        return out


class StereoCamera:
    """Two cameras 0.06 m apart; ``render`` returns (120, 160, 2) uint8, channel 0 = left.

    The simapp converts stereo frames with PIL's ITU-R 601 luma (rounded), not the truncated
    luma of the mono cameras; the default palette gives the same greys except white
    (223 instead of 222).
    """

    def __init__(self, scene: Scene, *, luma_mode: str = "itu601"):
        self.left = Camera(scene, +STEREO_OFFSET, luma_mode=luma_mode)
        self.right = Camera(scene, -STEREO_OFFSET, luma_mode=luma_mode)

    def render(
        self, x: float, y: float, yaw: float, objects: Sequence[BoxObject] = ()
    ) -> np.ndarray:
        out = np.empty((IMAGE_HEIGHT, IMAGE_WIDTH, 2), dtype=np.uint8)
        out[:, :, 0] = self.left.render(x, y, yaw, objects)
        out[:, :, 1] = self.right.render(x, y, yaw, objects)
        return out
