"""Static world description of one track, shared by the camera, the lidar and the top-down view.

The world is flat: a ground plane painted with the road, its border lines, a dashed centre line
and a chequered start line (docs/simulator-contract.md §8), an olive field that ends 0.75 m
beyond the road's bounding box, and 1 m high walls on that field rectangle. Everything the
sensors need is precomputed once per track geometry:

* ``class_map``: a uint8 raster of surface classes over the field rectangle, one cell per
  ``resolution`` metres (1 cm by default), surrounded by a one-cell ring of class WALL. The ring
  lets the camera clip any ground point outside the field onto the ring and read "wall": a ray
  that reaches the ground beyond the field has crossed a wall lower than the camera first.
* ``palette``: RGB per class; ``grey(mode)`` maps the class raster through the camera's luma.

Scenes are cached per geometry (a hash of the arrays), so several environments on one track in
one process share the rasters. The rasters are read-only.

Why 1 cm: the camera's nearest ground pixels (bottom rows, 0.30 m ahead) are about 3 mm wide and
8 mm deep; at 1 m ahead a pixel covers about 1 cm x 7 cm. The thinnest painted feature (the
0.025 m centre line) spans 2-3 cells, and a 40 m track needs about 1-2 M cells (1-2 MB).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# Colours and surface classes
# --------------------------------------------------------------------------------------------

FIELD = 0
ROAD = 1
BORDER = 2
CENTRE_LINE = 3
CHECKER_DARK = 4
CHECKER_LIGHT = 5
WALL = 6
SKY = 7
NUM_CLASSES = 8

ROAD_RGB = (64, 63, 61)
BORDER_RGB = (223, 223, 223)
CENTRE_LINE_RGB = (225, 143, 0)
FIELD_RGB = (126, 133, 65)
WALL_RGB = (36, 70, 81)
SKY_RGB = (190, 205, 220)  # neutral light grey-blue; the track textures do not define a sky
CHECKER_DARK_RGB = (30, 30, 30)
CHECKER_LIGHT_RGB = BORDER_RGB

PALETTE = np.array(
    [
        FIELD_RGB,
        ROAD_RGB,
        BORDER_RGB,
        CENTRE_LINE_RGB,
        CHECKER_DARK_RGB,
        CHECKER_LIGHT_RGB,
        WALL_RGB,
        SKY_RGB,
    ],
    dtype=np.uint8,
)
PALETTE.flags.writeable = False

# Geometry of the painted features (metres).
BORDER_LINE_WIDTH = 0.076
CENTRE_LINE_WIDTH = 0.025
CENTRE_DASH = 0.15
CENTRE_GAP = 0.15
CHECKER_SQUARE = 0.05  # start line: two rows of 5 cm squares across the road at waypoint 0
CHECKER_ROWS = 2
FIELD_MARGIN = 0.75
WALL_HEIGHT = 1.0
DEFAULT_RESOLUTION = 0.005

LUMA_TRUNCATE = "truncate"
LUMA_ITU601 = "itu601"
LUMA_MODES = (LUMA_TRUNCATE, LUMA_ITU601)


def luma(rgb, mode: str = LUMA_TRUNCATE):
    """Grey level(s) of RGB colour(s) as the simapp computes them.

    ``truncate`` (mono cameras, rl_coach ``ObservationRGBToYFilter`` then a uint8 cast):
    ``Y = 0.2989 R + 0.5870 G + 0.1140 B`` truncated. The coefficients sum to 0.9999, so a pure
    white 223 gives 222. ``itu601`` (STEREO_CAMERAS, PIL ``convert('L')``):
    ``(299 R + 587 G + 114 B) / 1000`` rounded to the nearest integer.

    Accepts one (r, g, b) triple (returns int) or an array (..., 3) (returns uint8 array).
    """
    arr = np.asarray(rgb)
    if arr.shape[-1:] != (3,):
        raise ValueError(f"rgb must have 3 components in its last axis, got shape {arr.shape}")
    a = arr.astype(np.float64)
    if mode == LUMA_TRUNCATE:
        y = np.floor(0.2989 * a[..., 0] + 0.5870 * a[..., 1] + 0.1140 * a[..., 2])
    elif mode == LUMA_ITU601:
        # PIL: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16, i.e. ITU-R 601-2 luma, rounded.
        ai = arr.astype(np.int64)
        y = (ai[..., 0] * 19595 + ai[..., 1] * 38470 + ai[..., 2] * 7471 + 0x8000) >> 16
    else:
        raise ValueError(f"unknown luma mode {mode!r}; allowed: {', '.join(LUMA_MODES)}")
    y = np.clip(y, 0, 255).astype(np.uint8)
    if arr.ndim == 1:
        return int(y)
    return y


# --------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxObject:
    """An upright box standing on the ground (an obstacle or a bot car).

    ``x, y`` is the centre of its footprint (metres, world frame), ``yaw`` the direction of its
    ``length`` (radians), ``width`` is across, ``height`` above the ground, ``rgb`` its colour.
    """

    x: float
    y: float
    yaw: float
    length: float
    width: float
    height: float
    rgb: tuple[int, int, int]

    def corners(self) -> np.ndarray:
        """Footprint corners (4, 2), counter-clockwise."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        hl, hw = 0.5 * self.length, 0.5 * self.width
        local = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
        return local @ np.array([[c, s], [-s, c]]) + (self.x, self.y)


BOX_OBSTACLE_SIZE = (0.4, 0.3, 0.25)  # length, width, height (docs/simulator-contract.md §9.1)
BOX_OBSTACLE_RGB = (190, 150, 100)  # light-brown cardboard
BOT_CAR_SIZE = (0.32, 0.20, 0.15)
BOT_CAR_RGB = (230, 40, 40)


def box_obstacle(x: float, y: float, yaw: float, rgb=BOX_OBSTACLE_RGB) -> BoxObject:
    """A cardboard box obstacle, 0.4 m along ``yaw`` x 0.3 m x 0.25 m high."""
    length, width, height = BOX_OBSTACLE_SIZE
    return BoxObject(float(x), float(y), float(yaw), length, width, height, tuple(rgb))


def bot_car(x: float, y: float, yaw: float, rgb=BOT_CAR_RGB) -> BoxObject:
    """A bot car drawn as a box, 0.32 m along ``yaw`` x 0.20 m x 0.15 m high."""
    length, width, height = BOT_CAR_SIZE
    return BoxObject(float(x), float(y), float(yaw), length, width, height, tuple(rgb))


# --------------------------------------------------------------------------------------------
# Raster construction
# --------------------------------------------------------------------------------------------


def _as_xy(name: str, a) -> np.ndarray:
    arr = np.array(a, dtype=np.float64, copy=True, order="C")
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be an array of shape (N, 2) with N >= 2, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


class _Grid:
    """Cell-centre coordinates of the raster; cell (i, j) has centre (x0 + (j-0.5) r, ...)."""

    def __init__(self, x0: float, y0: float, res: float, height: int, width: int):
        self.x0, self.y0, self.res = x0, y0, res
        self.height, self.width = height, width

    def window(self, xmin: float, ymin: float, xmax: float, ymax: float):
        """Index window (rows, cols slices) and the cell-centre coordinates inside it."""
        r = self.res
        j0 = max(math.floor((xmin - self.x0) / r + 0.5), 1)
        j1 = min(math.floor((xmax - self.x0) / r + 0.5) + 1, self.width - 1)
        i0 = max(math.floor((ymin - self.y0) / r + 0.5), 1)
        i1 = min(math.floor((ymax - self.y0) / r + 0.5) + 1, self.height - 1)
        if j1 <= j0 or i1 <= i0:
            return None
        xs = self.x0 + (np.arange(j0, j1) - 0.5) * r
        ys = self.y0 + (np.arange(i0, i1) - 0.5) * r
        return (slice(i0, i1), slice(j0, j1)), xs[None, :], ys[:, None]


def _fill_triangle(mask: np.ndarray, grid: _Grid, a, b, c) -> None:
    xmin = min(a[0], b[0], c[0])
    xmax = max(a[0], b[0], c[0])
    ymin = min(a[1], b[1], c[1])
    ymax = max(a[1], b[1], c[1])
    win = grid.window(xmin, ymin, xmax, ymax)
    if win is None:
        return
    sl, xs, ys = win
    # Edge functions; inside when all have the same sign (either orientation).
    e0 = (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
    e1 = (c[0] - b[0]) * (ys - b[1]) - (c[1] - b[1]) * (xs - b[0])
    e2 = (a[0] - c[0]) * (ys - c[1]) - (a[1] - c[1]) * (xs - c[0])
    inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
    mask[sl] |= inside


def _segment_band(grid: _Grid, p, q, half_width: float):
    """Cells within ``half_width`` of segment pq: (slices, inside mask, param u in [0, 1])."""
    win = grid.window(
        min(p[0], q[0]) - half_width,
        min(p[1], q[1]) - half_width,
        max(p[0], q[0]) + half_width,
        max(p[1], q[1]) + half_width,
    )
    if win is None:
        return None
    sl, xs, ys = win
    dx, dy = q[0] - p[0], q[1] - p[1]
    ll = dx * dx + dy * dy
    rx = xs - p[0]
    ry = ys - p[1]
    if ll > 0.0:
        u = np.clip((rx * dx + ry * dy) / ll, 0.0, 1.0)
    else:
        u = np.zeros(np.broadcast_shapes(rx.shape, ry.shape))
    ex = rx - u * dx
    ey = ry - u * dy
    inside = ex * ex + ey * ey <= half_width * half_width
    return sl, inside, u


MAX_CELLS = 30_000_000  # a larger field gets a coarser raster (30 MB per uint8 raster)


def _build_class_map(center, inner, outer, closed: bool, res: float):
    pts = np.vstack([inner, outer])
    x0, y0 = pts.min(axis=0) - FIELD_MARGIN
    x1, y1 = pts.max(axis=0) + FIELD_MARGIN
    area = float((x1 - x0) * (y1 - y0))
    if area / (res * res) > MAX_CELLS:
        res = math.sqrt(area / MAX_CELLS)
    w_in = math.ceil((x1 - x0) / res)
    h_in = math.ceil((y1 - y0) / res)
    height, width = h_in + 2, w_in + 2
    grid = _Grid(float(x0), float(y0), res, height, width)
    bounds = (float(x0), float(y0), float(x0 + w_in * res), float(y0 + h_in * res))

    # Road: the quad strip between the inner and the outer border (two triangles per quad).
    road = np.zeros((height, width), dtype=bool)
    n = len(inner)
    for k in range(n - 1):
        a, b, c, d = inner[k], inner[k + 1], outer[k + 1], outer[k]
        _fill_triangle(road, grid, a, b, c)
        _fill_triangle(road, grid, a, c, d)

    cls = np.full((height, width), FIELD, dtype=np.uint8)
    cls[road] = ROAD

    _paint_start_line(cls, road, grid, center, inner, outer)
    _paint_border_lines(cls, road, grid, inner, outer)
    _paint_centre_line(cls, grid, center, closed)

    # Ring of wall cells around the field.
    cls[0, :] = WALL
    cls[-1, :] = WALL
    cls[:, 0] = WALL
    cls[:, -1] = WALL
    return cls, bounds, res


def _paint_start_line(cls, road, grid, center, inner, outer) -> None:
    """Start line: chequered strip across the road at waypoint 0."""
    t = center[1] - center[0]
    tn = float(np.hypot(t[0], t[1]))
    if tn > 0.0:
        t = t / tn
        nrm = np.array([-t[1], t[0]])
        half_across = 0.5 * float(np.hypot(*(outer[0] - inner[0]))) + 0.1
        half_along = 0.5 * CHECKER_ROWS * CHECKER_SQUARE
        reach = half_across + half_along
        c0 = center[0]
        win = grid.window(c0[0] - reach, c0[1] - reach, c0[0] + reach, c0[1] + reach)
        if win is not None:
            sl, xs, ys = win
            along = (xs - c0[0]) * t[0] + (ys - c0[1]) * t[1]
            across = (xs - c0[0]) * nrm[0] + (ys - c0[1]) * nrm[1]
            band = (np.abs(along) < half_along) & (np.abs(across) <= half_across) & road[sl]
            parity = (
                np.floor((along + half_along) / CHECKER_SQUARE).astype(np.int64)
                + np.floor(across / CHECKER_SQUARE).astype(np.int64)
            ) % 2
            sub = cls[sl]
            sub[band & (parity == 0)] = CHECKER_DARK
            sub[band & (parity == 1)] = CHECKER_LIGHT


def _paint_border_lines(cls, road, grid, inner, outer) -> None:
    """Border lines: 0.076 m wide, inside the road, along both borders."""
    border = np.zeros(cls.shape, dtype=bool)
    for line in (inner, outer):
        for k in range(len(line) - 1):
            band = _segment_band(grid, line[k], line[k + 1], BORDER_LINE_WIDTH)
            if band is not None:
                sl, inside, _ = band
                border[sl] |= inside
    cls[border & road] = BORDER


def _paint_centre_line(cls, grid, center, closed: bool) -> None:
    """Dashed centre line, dash phase by arc length along the centre line."""
    seg = np.diff(center, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    s0 = np.concatenate([[0.0], np.cumsum(seg_len)])
    period = CENTRE_DASH + CENTRE_GAP
    dash = CENTRE_DASH
    if closed and s0[-1] > period:
        # Fit a whole number of dash periods into the loop so the pattern has no seam.
        period = s0[-1] / round(s0[-1] / period)
        dash = period * CENTRE_DASH / (CENTRE_DASH + CENTRE_GAP)
    half = 0.5 * CENTRE_LINE_WIDTH
    for k in range(len(center) - 1):
        band = _segment_band(grid, center[k], center[k + 1], half)
        if band is None:
            continue
        sl, inside, u = band
        s = s0[k] + u * seg_len[k]
        on = inside & (np.mod(s, period) < dash)
        sub = cls[sl]
        sub[on & (sub == ROAD)] = CENTRE_LINE


# --------------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------------

_CACHE: OrderedDict[str, Scene] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


class Scene:
    """The static world of one track in one driving direction. Build with ``from_track``."""

    def __init__(
        self,
        center: np.ndarray,
        inner: np.ndarray,
        outer: np.ndarray,
        closed: bool,
        resolution: float,
        class_map: np.ndarray,
        bounds: tuple[float, float, float, float],
        key: str,
    ):
        self.center = center
        self.inner = inner
        self.outer = outer
        self.closed = bool(closed)
        self.resolution = float(resolution)
        self.class_map = class_map
        self.class_map.flags.writeable = False
        #: field rectangle (x0, y0, x1, y1); the walls stand on its edges
        self.bounds = bounds
        self.wall_height = WALL_HEIGHT
        self.palette = PALETTE
        self.key = key
        self._grey: dict[str, np.ndarray] = {}
        self._rgb: np.ndarray | None = None
        self._lock = threading.Lock()

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_track(
        cls,
        center,
        inner,
        outer,
        closed: bool,
        *,
        resolution: float = DEFAULT_RESOLUTION,
    ) -> Scene:
        """Scene of a track given as (N, 2) centre / inner / outer polylines in metres.

        Cached per geometry: the same arrays (and resolution) give the same Scene object.
        ``resolution`` is the raster cell size in metres; a field too large for
        ``MAX_CELLS`` cells gets a coarser one (see ``Scene.resolution``).
        """
        center = _as_xy("center", center)
        inner = _as_xy("inner", inner)
        outer = _as_xy("outer", outer)
        if not (len(center) == len(inner) == len(outer)):
            raise ValueError(
                "center, inner and outer must have the same number of rows, got "
                f"{len(center)}, {len(inner)}, {len(outer)}"
            )
        resolution = float(resolution)
        if not (0.001 <= resolution <= 0.1):
            raise ValueError(f"resolution must be in [0.001, 0.1] m, got {resolution}")
        h = hashlib.blake2b(digest_size=16)
        for arr in (center, inner, outer):
            h.update(arr.tobytes())
        h.update(f"|{bool(closed)}|{resolution!r}|{len(center)}".encode())
        key = h.hexdigest()
        with _CACHE_LOCK:
            scene = _CACHE.get(key)
            if scene is not None:
                _CACHE.move_to_end(key)
                return scene
        class_map, bounds, res = _build_class_map(center, inner, outer, bool(closed), resolution)
        for arr in (center, inner, outer):
            arr.flags.writeable = False
        scene = cls(center, inner, outer, bool(closed), res, class_map, bounds, key)
        with _CACHE_LOCK:
            existing = _CACHE.get(key)
            if existing is not None:
                return existing
            _CACHE[key] = scene
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        return scene

    @staticmethod
    def clear_cache() -> None:
        with _CACHE_LOCK:
            _CACHE.clear()

    # -- rasters -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the rasters, the wall ring included."""
        return self.class_map.shape

    def grey_lut(self, mode: str = LUMA_TRUNCATE) -> np.ndarray:
        """Grey level per surface class (NUM_CLASSES,) uint8."""
        return luma(self.palette, mode)

    def grey(self, mode: str = LUMA_TRUNCATE) -> np.ndarray:
        """Greyscale ground raster (rows, cols) uint8 for a luma mode (cached, read-only)."""
        g = self._grey.get(mode)
        if g is None:
            with self._lock:
                g = self._grey.get(mode)
                if g is None:
                    lut = self.grey_lut(mode)
                    # Share one raster between modes whose palettes agree (the default palette).
                    for other_mode, other in self._grey.items():
                        if np.array_equal(self.grey_lut(other_mode), lut):
                            g = other
                            break
                    else:
                        g = lut[self.class_map]
                        g.flags.writeable = False
                    self._grey[mode] = g
        return g

    @property
    def rgb(self) -> np.ndarray:
        """RGB ground raster (rows, cols, 3) uint8 (built on first use, read-only)."""
        if self._rgb is None:
            with self._lock:
                if self._rgb is None:
                    rgb = self.palette[self.class_map]
                    rgb.flags.writeable = False
                    self._rgb = rgb
        return self._rgb

    def cell_of(self, x, y):
        """Raster indices (row, col) of world points, clipped onto the wall ring outside."""
        x0, y0, _, _ = self.bounds
        r = self.resolution
        h, w = self.class_map.shape
        col = np.clip(np.floor((np.asarray(x) - x0) / r).astype(np.int64) + 1, 0, w - 1)
        row = np.clip(np.floor((np.asarray(y) - y0) / r).astype(np.int64) + 1, 0, h - 1)
        return row, col

    def surface_at(self, x, y):
        """Surface class at world point(s) (FIELD, ROAD, BORDER, ... WALL outside the field)."""
        row, col = self.cell_of(x, y)
        return self.class_map[row, col]

    def __repr__(self) -> str:
        x0, y0, x1, y1 = self.bounds
        return (
            f"Scene({len(self.center)} waypoints, closed={self.closed}, "
            f"field=({x0:.2f}, {y0:.2f})-({x1:.2f}, {y1:.2f}) m, "
            f"raster={self.class_map.shape[1]}x{self.class_map.shape[0]} @ {self.resolution} m)"
        )
