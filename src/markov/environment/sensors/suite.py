"""The sensors of one car, as named in ``model_metadata.json``: observation space and frames.

Keys of the observation dict are the sensor names; values are what the network sees after the
simapp's input filters (docs/simulator-contract.md §7.1):

=============================  =====================================  =======
sensor                         array                                  dtype
=============================  =====================================  =======
FRONT_FACING_CAMERA,           (120, 160, 1) truncated luma            uint8
LEFT_CAMERA, observation
STEREO_CAMERAS                 (120, 160, 2), channel 0 = left         uint8
LIDAR                          (64,) clipped to [0.15, 1.0] m          float32
SECTOR_LIDAR                   (8,) binary                             float32
DISCRETIZED_SECTOR_LIDAR       (num_sectors * num_values_per_sector,)  float32
=============================  =====================================  =======

All mono cameras render the same centre camera (LEFT_CAMERA uses the front camera's topic in
the simapp). Several lidar sensors share one scan per observation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from gymnasium import spaces

from .camera import IMAGE_HEIGHT, IMAGE_WIDTH, Camera, StereoCamera
from .lidar import (
    DEFAULT_LIDAR_CONFIG,
    LIDAR_CLIP_HIGH,
    LIDAR_CLIP_LOW,
    LIDAR_MAX_RANGE,
    LIDAR_MIN_RANGE,
    LIDAR_SAMPLES,
    NUMBER_OF_LIDAR_SECTORS,
    Lidar,
    discretized_sector_lidar_observation,
    lidar_observation,
    sector_lidar_observation,
)
from .scene import BoxObject, Scene

FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
LEFT_CAMERA = "LEFT_CAMERA"
OBSERVATION = "observation"
STEREO_CAMERAS = "STEREO_CAMERAS"
LIDAR = "LIDAR"
SECTOR_LIDAR = "SECTOR_LIDAR"
DISCRETIZED_SECTOR_LIDAR = "DISCRETIZED_SECTOR_LIDAR"

MONO_CAMERA_SENSORS = (FRONT_FACING_CAMERA, LEFT_CAMERA, OBSERVATION)
CAMERA_SENSORS = (*MONO_CAMERA_SENSORS, STEREO_CAMERAS)
LIDAR_SENSORS = (LIDAR, SECTOR_LIDAR, DISCRETIZED_SECTOR_LIDAR)
SENSOR_NAMES = (*CAMERA_SENSORS, *LIDAR_SENSORS)

_ALLOWED_SECTORS = tuple(n for n in range(1, LIDAR_SAMPLES + 1) if LIDAR_SAMPLES % n == 0)


def _as_int(field: str, value, allowed: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"lidar_config.{field} must be an integer ({allowed}), got {value!r}")
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ValueError(f"lidar_config.{field} must be an integer ({allowed}), got {value!r}")
    return int(value)


def validate_lidar_config(lidar_config: Mapping | None) -> dict:
    """Checked copy of ``lidar_config`` with defaults filled in.

    ``num_sectors``: a divisor of 64 (1, 2, 4, 8, 16, 32, 64), default 8;
    ``num_values_per_sector``: an integer >= 1, default 8;
    ``clipping_dist``: metres in [0.15, 12.0], default 2.0.
    """
    cfg = dict(DEFAULT_LIDAR_CONFIG)
    if lidar_config is None:
        return cfg
    if not isinstance(lidar_config, Mapping):
        raise ValueError(
            "lidar_config must be a mapping with keys num_sectors, num_values_per_sector, "
            f"clipping_dist; got {type(lidar_config).__name__}"
        )
    unknown = sorted(set(lidar_config) - set(DEFAULT_LIDAR_CONFIG))
    if unknown:
        raise ValueError(
            f"lidar_config has unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(DEFAULT_LIDAR_CONFIG)}"
        )
    allowed_sectors = ", ".join(map(str, _ALLOWED_SECTORS))
    if "num_sectors" in lidar_config:
        n = _as_int("num_sectors", lidar_config["num_sectors"], f"one of {allowed_sectors}")
        if n not in _ALLOWED_SECTORS:
            raise ValueError(
                f"lidar_config.num_sectors must divide {LIDAR_SAMPLES}: one of "
                f"{allowed_sectors}; got {n}"
            )
        cfg["num_sectors"] = n
    if "num_values_per_sector" in lidar_config:
        n = _as_int("num_values_per_sector", lidar_config["num_values_per_sector"], ">= 1")
        if n < 1:
            raise ValueError(f"lidar_config.num_values_per_sector must be >= 1, got {n}")
        cfg["num_values_per_sector"] = n
    if "clipping_dist" in lidar_config:
        v = lidar_config["clipping_dist"]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"lidar_config.clipping_dist must be a number of metres in "
                f"[{LIDAR_MIN_RANGE}, {LIDAR_MAX_RANGE}], got {v!r}"
            )
        v = float(v)
        if not (LIDAR_MIN_RANGE <= v <= LIDAR_MAX_RANGE):
            raise ValueError(
                f"lidar_config.clipping_dist must be in [{LIDAR_MIN_RANGE}, {LIDAR_MAX_RANGE}] "
                f"m, got {v}"
            )
        cfg["clipping_dist"] = v
    return cfg


def validate_sensors(sensors: Sequence[str]) -> tuple[str, ...]:
    """The sensor names as a tuple; ValueError for unknown or repeated names."""
    if isinstance(sensors, str) or not isinstance(sensors, Sequence):
        raise ValueError(
            f"sensors must be a list of sensor names (allowed: {', '.join(SENSOR_NAMES)}), "
            f"got {sensors!r}"
        )
    out = []
    for name in sensors:
        if name not in SENSOR_NAMES:
            raise ValueError(
                f"unknown sensor {name!r}; allowed: {', '.join(SENSOR_NAMES)}"
            )
        if name in out:
            raise ValueError(f"sensor {name!r} is listed more than once")
        out.append(name)
    return tuple(out)


def build_observation_space(
    sensors: Sequence[str], lidar_config: Mapping | None = None
) -> spaces.Dict:
    """The gymnasium Dict observation space of a sensor list (no scene needed)."""
    names = validate_sensors(sensors)
    cfg = validate_lidar_config(lidar_config)
    items = {}
    for name in names:
        if name in MONO_CAMERA_SENSORS:
            items[name] = spaces.Box(0, 255, (IMAGE_HEIGHT, IMAGE_WIDTH, 1), np.uint8)
        elif name == STEREO_CAMERAS:
            items[name] = spaces.Box(0, 255, (IMAGE_HEIGHT, IMAGE_WIDTH, 2), np.uint8)
        elif name == LIDAR:
            items[name] = spaces.Box(
                LIDAR_CLIP_LOW, LIDAR_CLIP_HIGH, (LIDAR_SAMPLES,), np.float32
            )
        elif name == SECTOR_LIDAR:
            items[name] = spaces.Box(
                0.0, 1.0, (LIDAR_SAMPLES // NUMBER_OF_LIDAR_SECTORS,), np.float32
            )
        else:  # DISCRETIZED_SECTOR_LIDAR
            n = cfg["num_sectors"] * cfg["num_values_per_sector"]
            items[name] = spaces.Box(0.0, 1.0, (n,), np.float32)
    return spaces.Dict(items, sort_keys=False)  # keys in the model_metadata order


class SensorSuite:
    """All sensors of one car. ``observe(x, y, yaw, objects)`` returns a dict inside
    ``observation_space``.

    ``camera_noise_std`` (grey levels, 0 = off) adds Gaussian noise from ``rng`` to every camera
    frame, then rounds and clips to uint8.
    """

    def __init__(
        self,
        scene: Scene,
        sensors: Sequence[str],
        lidar_config: Mapping | None = None,
        rng: np.random.Generator | None = None,
        camera_noise_std: float = 0.0,
    ):
        self.scene = scene
        self.sensors = validate_sensors(sensors)
        self.lidar_config = validate_lidar_config(lidar_config)
        try:
            noise = float(camera_noise_std)
        except (TypeError, ValueError):
            noise = math.nan
        if not (math.isfinite(noise) and noise >= 0.0):
            raise ValueError(
                f"camera_noise_std must be a finite number of grey levels >= 0 (0 = off), "
                f"got {camera_noise_std!r}"
            )
        self.camera_noise_std = noise
        self.rng = np.random.default_rng(rng)
        self.observation_space = build_observation_space(self.sensors, self.lidar_config)

        self.camera = (
            Camera(scene) if any(s in MONO_CAMERA_SENSORS for s in self.sensors) else None
        )
        self.stereo = StereoCamera(scene) if STEREO_CAMERAS in self.sensors else None
        self.lidar = (
            Lidar(scene, self.rng) if any(s in LIDAR_SENSORS for s in self.sensors) else None
        )
        self.last_scan: np.ndarray | None = None

    def _noisy(self, img: np.ndarray) -> np.ndarray:
        if self.camera_noise_std <= 0.0:
            return img
        noise = self.rng.standard_normal(img.shape, dtype=np.float32)
        noise *= self.camera_noise_std
        noise += img
        np.rint(noise, out=noise)
        np.clip(noise, 0, 255, out=noise)
        return noise.astype(np.uint8)

    def observe(
        self, x: float, y: float, yaw: float, objects: Sequence[BoxObject] = ()
    ) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        mono = None
        ranges = None
        for name in self.sensors:
            if name in MONO_CAMERA_SENSORS:
                if mono is None:
                    mono = self._noisy(self.camera.render(x, y, yaw, objects))[:, :, None]
                    obs[name] = mono
                else:
                    obs[name] = mono.copy()
            elif name == STEREO_CAMERAS:
                obs[name] = self._noisy(self.stereo.render(x, y, yaw, objects))
            else:
                if ranges is None:
                    ranges = self.lidar.scan(x, y, yaw, objects)
                    self.last_scan = ranges
                if name == LIDAR:
                    obs[name] = lidar_observation(ranges)
                elif name == SECTOR_LIDAR:
                    obs[name] = sector_lidar_observation(ranges)
                else:
                    obs[name] = discretized_sector_lidar_observation(ranges, **self.lidar_config)
        return obs
