"""64-ray planar lidar and the simapp's lidar preprocessing (docs/simulator-contract.md §7.1, §7.3).

The laser sits at x = +0.02913 m on the car (its height is ignored: the scan is a 2D ray cast)
and is yawed by pi, so it faces backwards. Its 64 rays span laser angles -150 deg ... +150 deg
(Gazebo spacing: min + i (max - min) / (samples - 1)), which is car-frame +30 deg (front-left),
counter-clockwise through the left, the rear and the right to -30 deg (front-right); the +-30 deg
wedge straight ahead is not scanned. Rays hit the four walls of the field and the objects
(rectangles). Range 0.15-12 m, Gaussian noise sigma 0.01 m, resolution 0.01 m, inf when nothing
is within 12 m. A hit closer than 0.15 m reads 0.15 m (a choice; such an object nearly touches
the car).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .scene import BoxObject, Scene

LIDAR_X = 0.02913  # m, relative to the car origin
LIDAR_YAW = math.pi
LIDAR_SAMPLES = 64
LIDAR_MIN_ANGLE = -2.61799
LIDAR_MAX_ANGLE = 2.61799
LIDAR_MIN_RANGE = 0.15
LIDAR_MAX_RANGE = 12.0
LIDAR_NOISE_STD = 0.01
LIDAR_RESOLUTION = 0.01

# Preprocessing constants (markov/environments/constants.py, sensors/constants.py)
LIDAR_CLIP_LOW = 0.15
LIDAR_CLIP_HIGH = 1.0
NUMBER_OF_LIDAR_SECTORS = 8
SECTOR_LIDAR_CLIPPING_DIST = 0.5
DEFAULT_LIDAR_CONFIG = {"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0}


def laser_angles() -> np.ndarray:
    """Ray angles (64,) in the laser frame, radians, in scan order."""
    return np.linspace(LIDAR_MIN_ANGLE, LIDAR_MAX_ANGLE, LIDAR_SAMPLES)


def car_frame_angles() -> np.ndarray:
    """Ray angles (64,) in the car frame (0 = straight ahead, +pi/2 = left), in scan order,
    wrapped to (-pi, pi]."""
    a = laser_angles() + LIDAR_YAW
    return np.arctan2(np.sin(a), np.cos(a))


class Lidar:
    """Planar lidar of a car in a ``Scene``; ``scan(x, y, yaw, objects)`` gives raw ranges."""

    num_rays = LIDAR_SAMPLES

    def __init__(
        self,
        scene: Scene,
        rng: np.random.Generator | None = None,
        *,
        noise_std: float = LIDAR_NOISE_STD,
    ):
        self.scene = scene
        self.rng = np.random.default_rng(rng)
        self.noise_std = float(noise_std)
        ang = laser_angles() + LIDAR_YAW
        self._dirs = np.stack([np.cos(ang), np.sin(ang)])  # (2, 64) car frame
        self._bounds = scene.bounds

    def true_ranges(
        self, x: float, y: float, yaw: float, objects: Sequence[BoxObject] = ()
    ) -> np.ndarray:
        """Noise-free distances (64,) from the laser to the first wall/object hit."""
        c, s = math.cos(yaw), math.sin(yaw)
        ox = x + c * LIDAR_X
        oy = y + s * LIDAR_X
        d = np.array([[c, -s], [s, c]]) @ self._dirs
        x0, y0, x1, y1 = self._bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            tx = np.maximum((x1 - ox) * inv[0], (x0 - ox) * inv[0])
            ty = np.maximum((y1 - oy) * inv[1], (y0 - oy) * inv[1])
            t = np.minimum(tx, ty)
            t[~(t >= 0.0)] = np.inf  # origin outside the field or NaN: no wall hit
            if objects:
                np.minimum(t, _nearest_box_hits(ox, oy, d, objects), out=t)
        return t

    def scan(
        self, x: float, y: float, yaw: float, objects: Sequence[BoxObject] = ()
    ) -> np.ndarray:
        """Raw ranges (64,) float64 in scan order: noisy, quantised to 0.01 m, clamped to
        [0.15, 12] m, inf where nothing is within 12 m."""
        t = self.true_ranges(x, y, yaw, objects)
        noise = self.rng.normal(0.0, self.noise_std, LIDAR_SAMPLES) if self.noise_std else 0.0
        far = t > LIDAR_MAX_RANGE
        r = np.round((t + noise) / LIDAR_RESOLUTION) * LIDAR_RESOLUTION
        np.clip(r, LIDAR_MIN_RANGE, LIDAR_MAX_RANGE, out=r)
        r[far] = np.inf
        return r


# ------------------------------------------------------------------------------------------
# Preprocessing (network inputs)
# ------------------------------------------------------------------------------------------


def _ranges(ranges) -> np.ndarray:
    r = np.asarray(ranges, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"lidar ranges must be a 1-D array, got shape {r.shape}")
    return r


def lidar_observation(ranges) -> np.ndarray:
    """LIDAR: ranges clipped to [0.15, 1.0] m (inf -> 1.0), float32."""
    return np.clip(_ranges(ranges), LIDAR_CLIP_LOW, LIDAR_CLIP_HIGH).astype(np.float32)


def sector_lidar_observation(ranges) -> np.ndarray:
    """SECTOR_LIDAR: minimum of each group of 8 consecutive rays, 1.0 where it is below 0.5 m
    (``ObservationBinarySectorFilter``; inf counts as far). (8,) float32 for 64 rays."""
    r = _ranges(ranges)
    if r.size % NUMBER_OF_LIDAR_SECTORS:
        raise ValueError(
            f"the number of lidar rays ({r.size}) must be divisible by {NUMBER_OF_LIDAR_SECTORS}"
        )
    m = np.min(r.reshape(-1, NUMBER_OF_LIDAR_SECTORS), axis=1)
    return (m < SECTOR_LIDAR_CLIPPING_DIST).astype(np.float32)


def discretized_sector_lidar_observation(
    ranges,
    num_sectors: int = 8,
    num_values_per_sector: int = 8,
    clipping_dist: float = 2.0,
) -> np.ndarray:
    """DISCRETIZED_SECTOR_LIDAR (``ObservationSectorDiscretizeFilter``).

    Per sector of consecutive rays: the minimum range, clipped to ``clipping_dist`` (itself
    clamped to [0.15, 12] m), binned into ``floor(min / (clip / num_values_per_sector))`` and
    one-hot encoded over ``num_values_per_sector + 1`` bins; the last bin ("nothing within the
    clipping distance") is dropped, so such a sector is all zeros.
    Returns (num_sectors * num_values_per_sector,) float32.
    """
    r = _ranges(ranges)
    num_sectors = max(int(num_sectors), 1)
    nv = max(int(num_values_per_sector), 1)
    clip = max(min(float(clipping_dist), LIDAR_MAX_RANGE), LIDAR_MIN_RANGE)
    if r.size % num_sectors:
        raise ValueError(
            f"the number of lidar rays ({r.size}) must be divisible by num_sectors ({num_sectors})"
        )
    m = np.min(r.reshape(num_sectors, -1), axis=1)
    np.minimum(m, clip, out=m)
    idx = np.floor(m / (clip / nv)).astype(np.int64)
    np.clip(idx, 0, nv, out=idx)
    one_hot = np.zeros((num_sectors, nv + 1), dtype=np.float32)
    one_hot[np.arange(num_sectors), idx] = 1.0
    return one_hot[:, :nv].reshape(-1)


def _nearest_box_hits(ox: float, oy: float, d: np.ndarray, objects: Sequence[BoxObject]):
    """Distance along each ray (2, R) to the nearest box rectangle, all boxes at once (2D slabs).

    Call inside ``np.errstate(divide="ignore", invalid="ignore")``: axis-parallel rays divide
    by zero on purpose.
    """
    poses = np.array([(o.x, o.y, o.yaw, o.length, o.width) for o in objects])
    cb, sb = np.cos(poses[:, 2:3]), np.sin(poses[:, 2:3])
    px, py = ox - poses[:, 0:1], oy - poses[:, 1:2]
    oxb, oyb = cb * px + sb * py, cb * py - sb * px
    ix = 1.0 / (cb * d[0] + sb * d[1])
    iy = 1.0 / (cb * d[1] - sb * d[0])
    hl, hw = 0.5 * poses[:, 3:4], 0.5 * poses[:, 4:5]
    ax, bx = (-hl - oxb) * ix, (hl - oxb) * ix
    ay, by = (-hw - oyb) * iy, (hw - oyb) * iy
    tnear = np.maximum(np.minimum(ax, bx), np.minimum(ay, by))
    tfar = np.minimum(np.maximum(ax, bx), np.maximum(ay, by))
    hit = (tnear <= tfar) & (tfar >= 0.0)
    return np.where(hit, np.maximum(tnear, 0.0), np.inf).min(axis=0)
