"""The DeepRacer racetrack as a Gymnasium environment, following the simapp's step contract.

One ``step(a_t)`` (docs/simulator-contract.md §1.2): compute the reward params and reset rules
on the pose in which ``a_t`` was chosen, with ``a_t``'s commanded values; call the reward function
(RUN phase only); advance the calibrated car model by 1/15 s; render the next observation. Every
episode starts with a PREPARE step that does not move the car and pays 0.

OBJECT_AVOIDANCE and HEAD_TO_BOT races add obstacles or bot cars (``objects.TrackObjects``):
they are re-placed on every reset, bot cars move with simulated time, a collision is the reset
rule ``crashed`` (a bot car that runs into the agent pauses instead), and the object keys of the
params, the sensors and the top-down view all see them. Without objects none of this runs.

Head-to-head races add the other racers with ``set_other_cars``: bot-car sized objects after the
race's own, seen and collided with like bot cars. Running into one from behind is this car's
crash (it waits where it stands for COLLISION_PENALTY); being run into from behind is not.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from markov.environment import dynamics
from markov.environment.car_geometry import front_point
from markov.environment.episode_rules import ResetRules, compute_progress, distance_moved
from markov.environment.episode_status import RESET_STATUSES, EpisodeStatus
from markov.environment.extra_params import extra_params, load_extensions
from markov.environment.model_metadata import (
    ModelMetadata,
    default_model_metadata,
    load_model_metadata,
)
from markov.environment.objects import TrackObjects, lane_pose
from markov.environment.reward_function import RewardFunction, load_reward_function
from markov.environment.reward_params import (
    CarPose,
    build_reward_params,
    copy_reward_params,
    frustum_camera_offsets,
    pose_from_origin,
)
from markov.environment.sensors import (
    CAMERA_SENSORS,
    DISCRETIZED_SECTOR_LIDAR,
    LIDAR,
    SECTOR_LIDAR,
    Scene,
    SensorSuite,
    TopDownRenderer,
)
from markov.environment.sensors.lidar import LIDAR_CLIP_HIGH, SECTOR_LIDAR_CLIPPING_DIST
from markov.environment.world_config import WorldConfig
from markov.rewards.default import reward_function as default_reward_function
from markov.tracks import Track, load_track

PREPARE, RUN, PAUSE = EpisodeStatus.PREPARE, "run", EpisodeStatus.PAUSE
"""The phases of an episode; PREPARE and PAUSE steps have the phase as their status."""
DEFAULT_TRACK = "Workshop_Oval"


@dataclass(slots=True)
class _Command:
    """An action's commanded values (what the reward params show) and the executed command
    (noise added, clipped to what the car can do) that the dynamics get."""

    steering: float
    speed: float
    physical: tuple[float, float]


@dataclass(slots=True)
class _Judgement:
    """What a step found on the pose in which its action was chosen."""

    car: dynamics.CarState
    phase: str
    pose: CarPose
    progress: float
    status: EpisodeStatus
    collided: int
    pause_shown: float
    sim_time: float


class DeepRacerRacetrackEnv(gym.Env):
    """A DeepRacer car on a track, with DeepRacer's reward params, reset rules and sensors.

    Args:
        world_name: a track name (built-in or official) or a path to a ``.npy`` route file.
        model_metadata: dict or path of ``model_metadata.json`` (sensors and action space).
        reward_function: a callable or a path to a ``.py`` file defining ``reward_function``.
        params: training_params.yaml keys (``CHANGE_START_POSITION``, ``REVERSE_DIR``, ...).
        render_mode: ``None`` or ``"rgb_array"`` (a top-down view of track and car).
        evaluation: use evaluation defaults for ``params`` and do not advance the start.
        sensors: override the observation sensors of the metadata (benchmarks, experiments).
        camera_noise_std: Gaussian noise on camera images, in grey levels (0 = off).
        steering_noise_std_deg, speed_noise_std: Gaussian noise on the EXECUTED command
            (the reward params still show the commanded values), 0 = off.
            The three noises default to the ``params`` keys CAMERA_NOISE_STD,
            STEERING_NOISE_STD_DEG and SPEED_NOISE_STD (a training YAML's settings).
        wall_clock: the clock for the simtrace ``wall_clock`` column (a seam for tests).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        world_name: str | os.PathLike[str] | Track = DEFAULT_TRACK,
        model_metadata: Mapping[str, Any] | str | os.PathLike[str] | ModelMetadata | None = None,
        reward_function: Callable[[dict], Any] | str | os.PathLike[str] | None = None,
        params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        *,
        evaluation: bool = False,
        sensors: Sequence[str] | None = None,
        camera_noise_std: float | None = None,
        steering_noise_std_deg: float | None = None,
        speed_noise_std: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode is {render_mode!r}; use None or 'rgb_array'.")
        self.render_mode = render_mode
        self.forward_track = world_name if isinstance(world_name, Track) else load_track(world_name)
        if isinstance(model_metadata, ModelMetadata):
            self.model_metadata = model_metadata
        elif model_metadata is None:
            self.model_metadata = default_model_metadata()
        else:
            self.model_metadata = load_model_metadata(model_metadata)
        self.reward_fn: RewardFunction = load_reward_function(
            reward_function if reward_function is not None else default_reward_function
        )
        self.evaluation = evaluation
        self.config = WorldConfig.from_params(params, evaluation=evaluation)
        load_extensions()
        camera_noise_std, self.steering_noise_std_deg, self.speed_noise_std = _noise_settings(
            self.config,
            camera_noise_std=camera_noise_std,
            steering_noise_std_deg=steering_noise_std_deg,
            speed_noise_std=speed_noise_std,
        )
        self._wall_clock = wall_clock
        self.actions = self.model_metadata.action_space
        self.action_space = self.actions.gym_space
        self._set_up_sensing(sensors, camera_noise_std)
        self._set_up_episodes()

    def _set_up_sensing(self, sensors: Sequence[str] | None, camera_noise_std: float) -> None:
        """Sensor suites, scenes and objects per driving direction (built on first use), and
        what the sensors can see of the objects."""
        self.sensor_names = tuple(self.model_metadata.sensors if sensors is None else sensors)
        lidar_config = self.model_metadata.lidar_config
        self._lidar_config = None if lidar_config is None else lidar_config.to_dict()
        self._camera_noise_std = camera_noise_std
        self._tracks = {False: self.forward_track}
        self._scenes: dict[bool, Scene] = {}
        self._suites: dict[bool, SensorSuite] = {}
        self._topdown: dict[bool, TopDownRenderer] = {}
        self.observation_space = self._suite(self.config.reverse_dir).observation_space
        self._track_objects: dict[bool, TrackObjects] = {}
        self._has_objects = self.config.obstacle_count + self.config.bot_car_count > 0
        if self._has_objects:
            self._objects_for(self.config.reverse_dir)  # a layout that does not fit fails here
        self._camera_offsets = frustum_camera_offsets(self.sensor_names)
        self._sees_with_camera = any(name in CAMERA_SENSORS for name in self.sensor_names)
        self._lidar_reach = max(
            (_lidar_reach(name, self._lidar_config) for name in self.sensor_names), default=0.0
        )

    def _set_up_episodes(self) -> None:
        """The clock, the start position and the state of an environment before its first
        reset."""
        self._objects: TrackObjects | None = None
        self._other_cars: list[tuple[float, ...]] = []
        self._in_episode = False
        self.sim_time = 0.0
        self.episode_index = 0
        self.start_ndist = self.config.start_position_offset
        self.reverse_dir = self.config.reverse_dir
        self._rules = ResetRules(self.config.number_of_reverse_counts)
        self._episode_started = False
        self._episode_is_training = not self.evaluation
        self._done = True
        self._car = dynamics.CarState(0.0, 0.0, 0.0)
        self._trail: list[tuple[float, float]] = []

    # ----------------------------------------------------------------- gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; a seeded reset also restarts the start position and the clock.

        ``options``: ``{"evaluation": bool}`` marks an evaluation episode (the start position is
        not advanced after it); ``{"episode": int}`` sets the simtrace episode number;
        ``{"start_index": n}`` starts where the n-th training episode after a seeded reset
        starts, so environments stepped together share one round-robin sequence.
        """
        super().reset(seed=seed)
        self._count_episode(seed, dict(options or {}))
        self._start_episode()
        observation = self._observe()
        info = {
            "start_ndist": self.start_ndist,
            "is_reversed": self.reverse_dir,
            "episode": self.episode_index,
        }
        return observation, info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Advance one 1/15 s step; see the module docstring for the order of events."""
        if self._done:
            raise RuntimeError("The episode has ended: call reset() before step().")
        command = self._act(action)
        judged = self._judge()
        params, reward = self._reward(judged, command)
        observation, terminated, truncated = self._advance(judged, command)
        info = self._record(action, command, judged, params, reward)
        return observation, float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """Top-down RGB view of the track, the car and its path this episode."""
        if self.render_mode != "rgb_array":
            return None
        renderer = self._topdown.get(self.reverse_dir)
        if renderer is None:
            renderer = TopDownRenderer(self._scene(self.reverse_dir))
            self._topdown[self.reverse_dir] = renderer
        car = self._car
        objects = () if self._objects is None else self._objects.boxes
        return renderer.render(car.x, car.y, car.yaw, objects, trail=np.asarray(self._trail))

    @property
    def objects(self) -> TrackObjects | None:
        """This episode's obstacles, bot cars and other racers (None when there are none)."""
        return self._objects

    def set_other_cars(self, poses: Sequence[tuple[float, float, float, float]]) -> None:
        """The other racers of a head-to-head race, as ``(x, y, yaw, speed)`` of each car's
        origin (metres, radians, m/s); an empty sequence removes them.

        They replace the previous ones and stay, through resets too, until the next call: a race
        calls this before every step. They become objects after the race's own obstacles and bot
        cars (bot-car footprint, params, sensors, top-down view).
        """
        checked = []
        for index, pose in enumerate(poses):
            try:
                values = tuple(float(value) for value in pose)
            except (TypeError, ValueError):
                values = ()
            if len(values) != 4 or not all(map(math.isfinite, values)):
                raise ValueError(
                    f"set_other_cars: pose {index} is {pose!r}; give (x, y, yaw, speed) as four "
                    "finite numbers (metres, radians, m/s)"
                )
            checked.append(values)
        self._other_cars = checked
        if self._in_episode:
            self._place_other_cars()

    @property
    def car(self) -> dynamics.CarState:
        """The car's current state (origin pose, speed, steering)."""
        return self._car

    def place_car(self, x: float, y: float, yaw: float) -> None:
        """Put the car at rest at a pose (scripted demos and tests); rules see no motion."""
        self._car = dynamics.CarState(x, y, yaw)
        self._previous_origin = (x, y)

    # ----------------------------------------------------------------- episode logic
    def _count_episode(self, seed: int | None, options: dict[str, Any]) -> None:
        """The episode number, start position and direction of the new episode: back to the
        first after a seeded reset, else the next after a training episode (or as ``options``
        say)."""
        if seed is not None:
            self.sim_time = 0.0
            self.episode_index = 0
            self.start_ndist = self.config.start_position_offset
            self.reverse_dir = self.config.reverse_dir
        elif self._episode_started:
            self.episode_index += 1
            if self._episode_is_training:
                self._advance_start()
        unknown = set(options) - {"evaluation", "episode", "start_index"}
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; use 'evaluation', 'episode', "
                "'start_index'"
            )
        if "start_index" in options:
            self._start_at_index(int(options["start_index"]))
        self._episode_is_training = not bool(options.get("evaluation", self.evaluation))
        if "episode" in options:
            self.episode_index = int(options["episode"])
        for suite in self._suites.values():
            suite.rng = self.np_random

    def _start_episode(self) -> None:
        """Place the objects and the car for a new episode and clear its counters."""
        self.track = self._track(self.reverse_dir)
        self.reward_fn.new_episode()
        self._in_episode = True
        self._objects = None
        if self._has_objects:
            self._objects = self._objects_for(self.reverse_dir)
            self._objects.reset(self.np_random)
        if self._other_cars:
            self._place_other_cars()
        self._episode_start_time = self.sim_time
        self._obstacle_crash_counter = 0
        self._mercy_obstacle = -1
        x, y, yaw = self._start_pose()
        self._car = dynamics.CarState(x, y, yaw)
        self._phase = PREPARE
        self._steps = 0
        self._prev_progress = 0.0
        self._laps = 0
        self._resets_used = 0
        self._pause_remaining = 0.0
        self._rules.clear()
        self._previous_origin = (x, y)
        self._episode_started = False
        self._done = False
        self._trail = [front_point(x, y, yaw)]

    def _act(self, action: Any) -> _Command:
        """Decode the action into its commanded values and, while running, the executed
        (noisy, clipped) command; the car stands still in every other phase."""
        self._episode_started = True
        steering, speed = self.actions.command(action)
        self._steps += 1
        if self._phase == RUN:
            physical = self._executed_command(steering, speed)
        else:
            physical = (0.0, 0.0)
        return _Command(steering, speed, physical)

    def _judge(self) -> _Judgement:
        """Measure the pose in which the action was chosen and apply the reset rules to it:
        lap complete, crashed, off track, reversed, immobilized or in progress (RUN phase only;
        the other phases are their own status)."""
        car, track, phase = self._car, self.track, self._phase
        pose = pose_from_origin(track, car.x, car.y, car.yaw)
        geometry = pose.geometry
        progress = compute_progress(geometry.ndist, self.start_ndist, self._prev_progress)
        moved = distance_moved(*self._previous_origin, car.x, car.y)
        self._previous_origin = (car.x, car.y)
        collided = -1
        if phase == RUN:
            if self._objects is not None:
                elapsed = self.sim_time - self._episode_start_time
                collided = self._objects.crash(car.x, car.y, car.yaw, geometry.ndist, elapsed)
            status = self._rules.evaluate(
                progress=progress,
                prev_progress=self._prev_progress,
                off_track=pose.is_offtrack,
                crashed=collided >= 0,
                moved_m=moved,
            )
        else:
            status = phase
        return _Judgement(
            car=car,
            phase=phase,
            pose=pose,
            progress=progress,
            status=status,
            collided=collided,
            pause_shown=self._pause_remaining if phase == PAUSE else 0.0,
            sim_time=self.sim_time,
        )

    def _reward(self, judged: _Judgement, command: _Command) -> tuple[dict[str, Any], float]:
        """The reward params of the judged pose with the commanded values, and the reward
        function's answer to them (RUN phase only; 0 otherwise)."""
        params = build_reward_params(
            self.track,
            judged.pose,
            progress=judged.progress,
            steps=self._steps,
            speed=command.speed,
            steering_angle=command.steering,
            sim_time=self.sim_time,
            is_crashed=judged.status == EpisodeStatus.CRASHED,
            objects=self._objects,
            camera_offsets=self._camera_offsets,
        )
        params.update(extra_params(params, self))
        if judged.phase != RUN:
            return params, 0.0
        return params, self.reward_fn(copy_reward_params(params), private=True)

    def _advance(
        self, judged: _Judgement, command: _Command
    ) -> tuple[dict[str, np.ndarray], bool, bool]:
        """Apply the status (laps, resets, respawn, pause, step cap), move the car 1/15 s and
        the bot cars with it, and observe; returns the observation, terminated, truncated."""
        status, progress = judged.status, judged.progress
        previous_progress = self._prev_progress
        self._prev_progress = 0.0 if progress >= 100.0 else progress
        # a crash respawns from this step's progress, the other rules from the previous one's
        respawn_progress = progress if status == EpisodeStatus.CRASHED else previous_progress
        terminated = self._apply_status(status, respawn_progress, judged.collided)
        truncated = not terminated and self._steps >= self.config.max_episode_steps
        self._done = terminated or truncated
        car = judged.car
        if self._phase == RUN and judged.phase == RUN and self._car is car:
            self._car = dynamics.step(car, *command.physical)
        elif self._phase == RUN:  # starting to run, or respawned without a pause
            self._car = dynamics.step(_at_rest(self._car), 0.0, 0.0)
        self.sim_time += dynamics.STEP_S
        if self._objects is not None:
            self._objects.advance(self.sim_time - self._episode_start_time)
        self._trail.append(front_point(self._car.x, self._car.y, self._car.yaw))
        return self._observe(), terminated, truncated

    def _record(
        self,
        action: Any,
        command: _Command,
        judged: _Judgement,
        params: dict[str, Any],
        reward: float,
    ) -> dict[str, Any]:
        """The step's info: its reward params, its simtrace row (docs/file-formats.md §7), its
        status and the episode's laps and resets so far."""
        geometry = judged.pose.geometry
        simtrace = {
            "episode": self.episode_index,
            "steps": float(self._steps),
            "X": geometry.front_x,
            "Y": geometry.front_y,
            "yaw": params["heading"],
            "steer": command.steering,
            "throttle": command.speed,
            "action": self.actions.simtrace_action(action),
            "reward": reward,
            "done": self._done,
            "all_wheels_on_track": judged.pose.all_wheels_on_track,
            "progress": judged.progress,
            "closest_waypoint": geometry.closest_waypoint,
            "track_len": self.track.length,
            "tstamp": judged.sim_time,
            "episode_status": judged.status,
            "pause_duration": judged.pause_shown,
            "obstacle_crash_counter": self._obstacle_crash_counter,
            "wall_clock": self._wall_clock(),
        }
        if self._done:
            self._obstacle_crash_counter = 0
        return {
            "params": params,
            "simtrace": simtrace,
            "episode_status": judged.status,
            "laps": self._laps,
            "resets": self._resets_used,
        }

    def _apply_status(self, status: EpisodeStatus, respawn_progress: float, collided: int) -> bool:
        """Update phase, laps and resets for this step's status; True when the episode ends."""
        if self._phase == PREPARE:
            self._phase = RUN
            return False
        if self._phase == PAUSE:
            self._pause_remaining -= dynamics.STEP_S
            if self._pause_remaining <= 1e-9:
                self._pause_remaining = 0.0
                self._phase = RUN
            return False
        if status == EpisodeStatus.LAP_COMPLETE:
            self._laps += 1
            return not (self.config.is_continuous and self._laps < self.config.number_of_trials)
        if status in RESET_STATUSES:
            if self._resets_used >= self.config.number_of_resets:
                return True
            self._resets_used += 1
            if status == EpisodeStatus.CRASHED and self._objects.is_bot(collided):
                self._rules.clear()  # rear-ended a bot car: wait where the car stands
            else:
                self._respawn(respawn_progress)
            penalty = self.config.penalty_for(status)
            if penalty > 0:
                self._phase = PAUSE
                self._pause_remaining = penalty
        return False

    def _start_pose(self) -> tuple[float, float, float]:
        """Start on the centre line, or in training on the lane opposite an object that stands
        within 1 m of the start (§6.1)."""
        x, y, yaw = self.track.start_pose(self.start_ndist)
        objects = self._objects
        if objects is not None and self._episode_is_training:
            arc = self.start_ndist * self.track.length
            near = objects.nearest(arc, obstacles_only=False)
            if near >= 0:
                x, y, yaw = lane_pose(self.track, arc, inner=not objects.inner[near])
        return x, y, yaw

    def _respawn(self, progress: float) -> None:
        """Put the car back on the nearer lane at the centre-line distance of ``progress``, or
        RESET_BEHIND_DIST behind a static obstacle near that point, on the other lane (§6.4)."""
        track = self.track
        arc = (self.start_ndist + progress / 100.0) * track.length
        objects = self._objects
        near = -1 if objects is None else objects.nearest(arc, obstacles_only=True)
        if near >= 0:
            arc = objects.distances[near] + self._respawn_offset(near)
            x, y, yaw = lane_pose(track, arc, inner=not objects.inner[near])
        else:
            cx, cy = track.center.interpolate(arc)
            car = self._car
            best = None
            for lane in (track.inner_lane, track.outer_lane):
                point = lane.project(cx, cy)
                gap = math.hypot(car.x - point.x, car.y - point.y)
                if best is None or gap < best[0]:
                    best = (gap, point.x, point.y, lane.direction_at(point.arc_length))
            _, x, y, yaw = best
        self._car = dynamics.CarState(x, y, yaw)
        self._previous_origin = (x, y)
        self._rules.clear()

    def _respawn_offset(self, obstacle: int) -> float:
        """Metres from an obstacle to the respawn point: behind it, or ahead of it on the
        MAX_RESETS_AFTER_CRASH-th reset at the same obstacle when ENABLE_MERCY_RESET is on."""
        config = self.config
        if not config.enable_mercy_reset:
            return -config.reset_behind_dist
        if obstacle != self._mercy_obstacle:
            self._mercy_obstacle = obstacle
            self._obstacle_crash_counter = 1
        else:
            self._obstacle_crash_counter += 1
        if self._obstacle_crash_counter == config.max_resets_after_crash:
            self._obstacle_crash_counter = 0
            return config.reset_ahead_dist
        return -config.reset_behind_dist

    def _place_other_cars(self) -> None:
        """Put the other racers into this episode's objects; without them and without the
        race's own objects there are none, so a step costs what it did before."""
        objects = self._objects
        if self._other_cars:
            if objects is None:
                objects = self._objects_for(self.reverse_dir)
                objects.reset(self.np_random)
                self._objects = objects
            objects.set_other_cars(self._other_cars)
        elif self._has_objects:
            objects.set_other_cars(())
        else:
            self._objects = None

    def _start_at_index(self, index: int) -> None:
        """The start of the index-th training episode after a seeded reset (same arithmetic)."""
        self.start_ndist = self.config.start_position_offset
        self.reverse_dir = self.config.reverse_dir
        for _ in range(index):
            self._advance_start()

    def _advance_start(self) -> None:
        """Round-robin start and direction alternation after a training episode (§6.2)."""
        if self.config.change_start_position:
            self.start_ndist = (self.start_ndist + self.config.round_robin_advance_dist) % 1.0
        if self.config.alternate_driving_direction:
            self.reverse_dir = not self.reverse_dir

    def _executed_command(self, steering_deg: float, speed: float) -> tuple[float, float]:
        if self.steering_noise_std_deg > 0:
            steering_deg += float(self.np_random.normal(0.0, self.steering_noise_std_deg))
        if self.speed_noise_std > 0:
            speed += float(self.np_random.normal(0.0, self.speed_noise_std))
        return dynamics.clip_physical_command(steering_deg, speed)

    # ----------------------------------------------------------------- caches
    def _track(self, reverse: bool) -> Track:
        if reverse not in self._tracks:
            self._tracks[reverse] = self.forward_track.reversed()
        return self._tracks[reverse]

    def _scene(self, reverse: bool) -> Scene:
        if reverse not in self._scenes:
            center, inner, outer = self._track(reverse).lines()
            self._scenes[reverse] = Scene.from_track(
                center, inner, outer, self.forward_track.closed
            )
        return self._scenes[reverse]

    def _suite(self, reverse: bool) -> SensorSuite:
        if reverse not in self._suites:
            self._suites[reverse] = SensorSuite(
                self._scene(reverse),
                self.sensor_names,
                self._lidar_config,
                self.np_random,
                camera_noise_std=self._camera_noise_std,
            )
        return self._suites[reverse]

    def _objects_for(self, reverse: bool) -> TrackObjects:
        if reverse not in self._track_objects:
            self._track_objects[reverse] = TrackObjects(self.config, self._track(reverse))
        return self._track_objects[reverse]

    def _observe(self) -> dict[str, np.ndarray]:
        car = self._car
        suite = self._suite(self.reverse_dir)
        if self._objects is None or not (self._sees_with_camera or self._lidar_reach):
            return suite.observe(car.x, car.y, car.yaw)
        seen = self._objects.boxes_seen(
            car.x, car.y, car.yaw, self._sees_with_camera, self._lidar_reach
        )
        return suite.observe(car.x, car.y, car.yaw, seen)


def _noise_settings(
    config: WorldConfig,
    *,
    camera_noise_std: float | None,
    steering_noise_std_deg: float | None,
    speed_noise_std: float | None,
) -> tuple[float, float, float]:
    """The three noise standard deviations: the arguments, else the ``params`` settings;
    each must be finite and >= 0."""
    if camera_noise_std is None:
        camera_noise_std = config.camera_noise_std
    if steering_noise_std_deg is None:
        steering_noise_std_deg = config.steering_noise_std_deg
    if speed_noise_std is None:
        speed_noise_std = config.speed_noise_std
    for name, value in [
        ("camera_noise_std", camera_noise_std),
        ("steering_noise_std_deg", steering_noise_std_deg),
        ("speed_noise_std", speed_noise_std),
    ]:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} is {value}; use a standard deviation >= 0 (0 = off).")
    return camera_noise_std, steering_noise_std_deg, speed_noise_std


def _lidar_reach(sensor: str, lidar_config: Mapping[str, Any] | None) -> float:
    """Metres within which objects can change a lidar sensor's observation (0: not a lidar)."""
    if sensor == LIDAR:
        return LIDAR_CLIP_HIGH
    if sensor == SECTOR_LIDAR:
        return SECTOR_LIDAR_CLIPPING_DIST
    if sensor == DISCRETIZED_SECTOR_LIDAR:
        return float((lidar_config or {}).get("clipping_dist", 2.0))
    return 0.0


def _at_rest(state: dynamics.CarState) -> dynamics.CarState:
    return dynamics.CarState(state.x, state.y, state.yaw)
