"""Sensors of the pure-Python DeepRacer simulator: camera, stereo camera, lidar, top-down view.

Quick use::

    scene = Scene.from_track(center, inner, outer, closed)      # cached per track geometry
    suite = SensorSuite(scene, ["FRONT_FACING_CAMERA", "LIDAR"], None, rng)
    obs = suite.observe(x, y, yaw, objects=())                 # dict inside suite.observation_space
    frame = TopDownRenderer(scene).render(x, y, yaw)           # (480, 640, 3) uint8 RGB
"""

from .camera import (
    CAMERA_PITCH,
    CAMERA_X,
    CAMERA_Z,
    HORIZONTAL_FOV,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    STEREO_OFFSET,
    Camera,
    StereoCamera,
    focal_length,
)
from .lidar import (
    DEFAULT_LIDAR_CONFIG,
    LIDAR_MAX_RANGE,
    LIDAR_MIN_RANGE,
    LIDAR_SAMPLES,
    Lidar,
    car_frame_angles,
    discretized_sector_lidar_observation,
    laser_angles,
    lidar_observation,
    sector_lidar_observation,
)
from .scene import (
    BOT_CAR_RGB,
    BOT_CAR_SIZE,
    BOX_OBSTACLE_RGB,
    BOX_OBSTACLE_SIZE,
    PALETTE,
    BoxObject,
    Scene,
    bot_car,
    box_obstacle,
    luma,
)
from .suite import (
    CAMERA_SENSORS,
    DISCRETIZED_SECTOR_LIDAR,
    FRONT_FACING_CAMERA,
    LEFT_CAMERA,
    LIDAR,
    LIDAR_SENSORS,
    MONO_CAMERA_SENSORS,
    OBSERVATION,
    SECTOR_LIDAR,
    SENSOR_NAMES,
    STEREO_CAMERAS,
    SensorSuite,
    build_observation_space,
    validate_lidar_config,
    validate_sensors,
)
from .topdown import TopDownRenderer

__all__ = [
    "BOT_CAR_RGB",
    "BOT_CAR_SIZE",
    "BOX_OBSTACLE_RGB",
    "BOX_OBSTACLE_SIZE",
    "CAMERA_PITCH",
    "CAMERA_SENSORS",
    "CAMERA_X",
    "CAMERA_Z",
    "DEFAULT_LIDAR_CONFIG",
    "DISCRETIZED_SECTOR_LIDAR",
    "FRONT_FACING_CAMERA",
    "HORIZONTAL_FOV",
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "LEFT_CAMERA",
    "LIDAR",
    "LIDAR_MAX_RANGE",
    "LIDAR_MIN_RANGE",
    "LIDAR_SAMPLES",
    "LIDAR_SENSORS",
    "MONO_CAMERA_SENSORS",
    "OBSERVATION",
    "PALETTE",
    "SECTOR_LIDAR",
    "SENSOR_NAMES",
    "STEREO_CAMERAS",
    "STEREO_OFFSET",
    "BoxObject",
    "Camera",
    "Lidar",
    "Scene",
    "SensorSuite",
    "StereoCamera",
    "TopDownRenderer",
    "bot_car",
    "box_obstacle",
    "build_observation_space",
    "car_frame_angles",
    "discretized_sector_lidar_observation",
    "focal_length",
    "laser_angles",
    "lidar_observation",
    "luma",
    "sector_lidar_observation",
    "validate_lidar_config",
    "validate_sensors",
]
