"""Rollout worker: plays episodes with the current policy and hands them to the trainer.

Run as ``python -m markov.workers.rollout`` with the simapp's environment variables
(``ROLLOUT_IDX``, ``NUM_WORKERS``, ``S3_YAML_NAME``, ``WORLD_NAME``, ...) and a store
(``MODEL_STORE_URL``; see ``markov.workers.config``). Each iteration k it waits for checkpoint k
(SYNC) or takes the newest (ASYNC), plays its share of ``num_episodes_between_training``
episodes, uploads them as one compressed batch, writes its simtrace and training metrics, and,
on worker 0, runs ``MIN_EVAL_TRIALS`` evaluation episodes that pick the best checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from markov.agents.clipped_ppo import ClippedPPOAgent
from markov.agents.restore import build_agent, load_weights
from markov.agents.update_options import rollout_precision
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.episode_status import EpisodeStatus
from markov.environment.model_metadata import require_trainable
from markov.environment.objects import check_objects_fit
from markov.environment.reward_function import reward_function_from_source
from markov.environment.reward_watchdog import RewardLimits
from markov.environment.world_config import WorldConfig
from markov.formats.checkpoints import CheckpointBook, CheckpointReader, TrainingFinished
from markov.formats.episodes import EpisodeArrays, save_episode_batch
from markov.formats.layout import REWARD_FUNCTION_NAME, RunLayout, worker_metrics_key
from markov.formats.metrics import TrainingMetricsWriter
from markov.formats.run_inputs import (
    read_model_metadata,
    read_params,
    read_reward_source,
)
from markov.formats.simtrace import SimtraceWriter
from markov.presets.preset import Hyperparameters, SyncType, load_hyperparameters
from markov.store import ModelStore, open_store
from markov.workers.config import (
    exit_with_parent,
    float_variable,
    int_variable,
    setup_logging,
    store_location,
    sync_type,
)
from markov.workers.errors import DETERMINISTIC_ERRORS, report_failure
from markov.workers.live_frames import LiveFramePublisher
from markov.workers.polling import plan_for
from markov.workers.vector_rollout import (
    EpisodeRecord,
    episode_arrays,
    num_envs_setting,
    play_episodes_lockstep,
    publish_live_frame,
)

log = setup_logging("rollout")


def episodes_for_worker(num_episodes: int, num_workers: int, worker: int) -> int:
    """Worker i plays floor(n / w) episodes, plus one if i < n mod w (0 beyond the episodes)."""
    workers = min(num_workers, num_episodes)
    if worker >= workers:
        return 0
    return num_episodes // workers + (1 if worker < num_episodes % workers else 0)


@dataclass
class _Session:
    """What a worker keeps from one iteration to the next."""

    envs: list[DeepRacerRacetrackEnv]
    agent: ClippedPPOAgent
    share: int
    simtrace: SimtraceWriter
    metrics: TrainingMetricsWriter
    live: LiveFramePublisher | None
    episode_count: int
    resumed_at: int
    total_steps: int = 0


@dataclass(frozen=True)
class EvaluationPoint:
    """Where worker 0 stands when it evaluates a checkpoint: what the evaluation's metrics rows,
    log lines and best-checkpoint record say."""

    checkpoint_name: str
    iteration: int
    episode: int
    share: int
    total_steps: int


class RolloutWorker:
    """One rollout worker of a training run."""

    def __init__(self, store: ModelStore, prefix: str, env_vars: Mapping[str, str]) -> None:
        self.store = store
        self.prefix = prefix
        self.worker = int_variable(env_vars, "ROLLOUT_IDX", 0)
        layout = RunLayout(prefix)
        yaml_key = env_vars.get("S3_YAML_NAME") or layout.training_params
        self.params = read_params(store, yaml_key)
        self.num_workers = int_variable(
            env_vars, "NUM_WORKERS", int(self.params.get("NUM_WORKERS", "1") or 1), minimum=1
        )
        self.world_name = env_vars.get("WORLD_NAME") or self.params.get("WORLD_NAME", "")
        # every setting is checked before the first episode, not when an episode needs it
        check_objects_fit(WorldConfig.from_params(self.params), self.world_name)
        self.sync = sync_type(env_vars)
        self.ready_timeout_s = float_variable(env_vars, "READY_TIMEOUT_S", 600.0)
        self.checkpoint_timeout_s = float_variable(env_vars, "CHECKPOINT_TIMEOUT_S", None)
        self.min_eval_trials = int(self.params.get("MIN_EVAL_TRIALS", "5") or 5)
        self.best_model_metric = self.params.get("BEST_MODEL_METRIC", "progress") or "progress"
        self.seed = int_variable(env_vars, "SEED", 0) + 1000 * self.worker
        self.publish_live = env_vars.get("LIVE_FRAMES", "true").lower() != "false"
        self.num_envs = num_envs_setting(env_vars, self.params)
        self.acting_precision = rollout_precision(env_vars)

        self.model_metadata = read_model_metadata(
            store, self.params.get("MODEL_METADATA_FILE_S3_KEY") or layout.model_metadata
        )
        require_trainable(self.model_metadata)
        source = read_reward_source(
            store, self.params.get("REWARD_FILE_S3_KEY") or layout.reward_function
        )
        self.reward_limits = RewardLimits.from_environment(env_vars)
        # one guarded copy per environment: each episode has its own reward-time budget
        self.reward_functions = [self._guarded_reward(source) for _ in range(self.num_envs)]
        self.reward_function = self.reward_functions[0]
        self.reader = CheckpointReader(store, prefix)
        self.poll = plan_for(store, env_vars)

    def _guarded_reward(self, source: str):
        reward = reward_function_from_source(source, REWARD_FUNCTION_NAME)
        reward.guard(self.reward_limits, hard_stop=True)
        return reward

    def run(self) -> int:
        """Play iterations until the trainer finishes; returns the process exit code."""
        hyperparameters = self._wait_until_ready()
        if hyperparameters is None:
            return 0
        share = self._share(hyperparameters)
        if share == 0:
            return 0
        session = self._open_session(hyperparameters, share)
        first = self.reader.latest()
        iteration = first.number if first is not None else 0
        while True:
            waiting_since = time.monotonic()
            try:
                ref = self._checkpoint_for(iteration)
            except TrainingFinished:
                break
            idle_seconds = time.monotonic() - waiting_since
            ref, files = self.reader.load_usable(ref)
            load_weights(session.agent, files)
            iteration = ref.number  # SYNC: the same, or an iteration the trainer asked to replay
            self._play_iteration(session, iteration, idle_seconds)
            if self.worker == 0 and self.min_eval_trials > 0:
                point = EvaluationPoint(
                    ref.name, iteration, session.episode_count, share, session.total_steps
                )
                # env 0 also plays worker 0's evaluation episodes
                self._evaluate(session.envs[0], session.agent, point, session.metrics, session.live)
            iteration += 1
        log.info("training finished after %d episodes", session.episode_count)
        return 0

    def _wait_until_ready(self) -> Hyperparameters | None:
        """The run's hyperparameters once the trainer is ready; None when it already finished."""
        try:
            # .ready comes after ip/hyperparameters.json and a checkpoint whose files load
            self.reader.wait_until_ready(self.ready_timeout_s, poll_s=self.poll.wait_poll_s)
        except TrainingFinished:
            log.info("training already finished; nothing to do")
            return None
        return load_hyperparameters(self.store.get_json(RunLayout(self.prefix).ip_hyperparameters))

    def _share(self, hyperparameters: Hyperparameters) -> int:
        """The episodes this worker plays per iteration (0: none, it says so)."""
        share = episodes_for_worker(
            hyperparameters.num_episodes_between_training, self.num_workers, self.worker
        )
        if share == 0:
            log.info(
                "worker %d has no episodes: %d episodes per iteration over %d workers",
                self.worker,
                hyperparameters.num_episodes_between_training,
                self.num_workers,
            )
        return share

    def _open_session(self, hyperparameters: Hyperparameters, share: int) -> _Session:
        """Environments (seeded), agent, simtrace and metrics writers and live frames of this
        worker; a restarted worker counts on from the episodes its metrics already hold."""
        active_workers = min(self.num_workers, hyperparameters.num_episodes_between_training)
        envs = [
            DeepRacerRacetrackEnv(
                self.world_name,
                self.model_metadata,
                reward,
                params=self.params,
                render_mode="rgb_array",
            )
            for reward in self.reward_functions[: min(self.num_envs, share)]
        ]
        agent = build_agent(
            self.model_metadata,
            hyperparameters,
            seed=self.seed,
            num_threads=1,
            acting_precision=self.acting_precision,
        )
        simtrace = SimtraceWriter(
            self.store, RunLayout(self.prefix).training_simtrace(self.worker, active_workers)
        )
        metrics_key = (
            self.params.get("METRICS_S3_OBJECT_KEY") or RunLayout(self.prefix).training_metrics(0)
        )
        metrics = TrainingMetricsWriter(
            self.store,
            worker_metrics_key(metrics_key, self.worker),
            self.best_model_metric,
            keep_existing=True,
        )
        live = (
            LiveFramePublisher(self.store, self.prefix, self.worker, self.poll.live_frame_s)
            if self.publish_live
            else None
        )
        episode_count = sum(1 for m in metrics.entries if m["phase"] == "training")
        for index, each in enumerate(envs):
            each.reset(seed=self.seed + index)
        # envs are seeded here: round-robin starts count from resumed_at
        return _Session(envs, agent, share, simtrace, metrics, live, episode_count, episode_count)

    def _play_iteration(self, session: _Session, iteration: int, idle_seconds: float) -> None:
        """Play this worker's share of an iteration and hand it over: episode batch, simtrace
        rows and training metrics, one log line per episode."""
        batch = []
        played = play_episodes_lockstep(
            session.envs,
            session.agent,
            session.episode_count,
            session.share,
            first_start=session.episode_count - session.resumed_at,
            live=session.live,
            status={"iteration": iteration, "worker": self.worker},
        )
        for trial, record in enumerate(played, start=1):
            for row in record.simtrace_rows:
                session.simtrace.add_row(row)
            session.episode_count += 1
            session.total_steps += record.steps
            batch.append(
                _with_metadata(record, self.worker, iteration, session.episode_count, idle_seconds)
            )
            session.metrics.add_episode(
                record.total_reward,
                record.start_time,
                record.end_time,
                session.episode_count,
                trial,
                "training",
                max(record.progress, 0.0),
                record.status,
            )
            print(
                f"Training> Name=main_level/agent, Worker={self.worker}, "
                f"Episode={session.episode_count}, Total reward={record.total_reward:.2f}, "
                f"Steps={session.total_steps}, Training iteration={iteration}",
                flush=True,
            )
        save_episode_batch(
            self.store, RunLayout(self.prefix).episode_batch(iteration, self.worker), batch
        )
        session.simtrace.flush(iteration)

    def _checkpoint_for(self, iteration: int):
        if self.sync is SyncType.ASYNC:
            if self.reader.is_finished():
                raise TrainingFinished("the trainer wrote .finished")
            number = 0
        else:
            number = iteration
        return self.reader.wait_for(
            number, timeout_s=self.checkpoint_timeout_s, poll_s=self.poll.wait_poll_s
        )

    def _evaluate(
        self,
        env: DeepRacerRacetrackEnv,
        agent: ClippedPPOAgent,
        point: EvaluationPoint,
        metrics: TrainingMetricsWriter,
        live: LiveFramePublisher | None,
    ) -> None:
        """Worker 0's in-training evaluation of the checkpoint it just played (best model)."""
        iteration, episode, total_steps = point.iteration, point.episode, point.total_steps
        results = []
        for _ in range(self.min_eval_trials):
            record = play_episode(
                env,
                agent,
                deterministic=True,
                evaluation=True,
                live=live,
                status={
                    "iteration": iteration,
                    "worker": self.worker,
                    "episode": max(episode, 1),
                    "phase": "evaluation",
                },
            )
            results.append(record)
            metrics.add_episode(
                record.total_reward,
                record.start_time,
                record.end_time,
                max(episode, 1),
                point.share,
                "evaluation",
                max(record.progress, 0.0),
                record.status,
            )
            print(
                f"Testing> Name=main_level/agent, Worker={self.worker}, Episode={episode}, "
                f"Total reward={record.total_reward:.2f}, Steps={total_steps}, "
                f"Training iteration={iteration}",
                flush=True,
            )
        metric = _eval_metric(results, self.best_model_metric)
        CheckpointBook(self.store, self.prefix).record(
            point.checkpoint_name, metric, self.best_model_metric
        )


def play_episode(
    env: DeepRacerRacetrackEnv,
    agent: ClippedPPOAgent,
    *,
    deterministic: bool,
    evaluation: bool = False,
    live: LiveFramePublisher | None = None,
    status: Mapping[str, Any] | None = None,
    simtrace: SimtraceWriter | None = None,
    episode_number: int | None = None,
) -> EpisodeRecord:
    """Play one episode with ``agent``; training episodes advance the round-robin start.

    ``episode_number`` is the simtrace ``episode`` column (0-based training episode count).
    """
    options: dict[str, Any] = {"evaluation": evaluation}
    if episode_number is not None:
        options["episode"] = episode_number
    observation, _ = env.reset(options=options)
    start_time = env.sim_time
    observations: dict[str, list[np.ndarray]] = {name: [] for name in observation}
    actions, rewards = [], []
    total, info = 0.0, {}
    while True:
        action = agent.act_one(observation, deterministic=deterministic)
        for name, value in observation.items():
            observations[name].append(value)
        acted_on = observation
        observation, reward, terminated, truncated, info = env.step(action)
        actions.append(action)
        rewards.append(reward)
        total += reward
        if simtrace is not None:
            simtrace.add_row(info["simtrace"])
        finished = terminated or truncated
        # Each episode's end is always published: after training it is the frame shown. The
        # camera then shows the last frame the network acted on (the terminal frame, often a
        # view of the grass after leaving the track, is never an input).
        if live is not None and (finished or live.due()):
            shown = acted_on if finished else observation
            publish_live_frame(live, env, shown, info, status, len(rewards))
        if finished:
            break
    return EpisodeRecord(
        arrays=episode_arrays(observations, actions, rewards),
        total_reward=total,
        progress=info["params"]["progress"],
        status=info["episode_status"],
        steps=len(rewards),
        start_time=start_time,
        end_time=env.sim_time,
        laps=info.get("laps", 0),
    )


def _with_metadata(
    record: EpisodeRecord,
    worker: int,
    iteration: int,
    episode: int,
    idle_seconds: float = 0.0,
) -> EpisodeArrays:
    """The episode's arrays tagged with where it comes from, how it ended and how long the
    worker waited for the checkpoint it was played with."""
    return dataclasses.replace(
        record.arrays,
        metadata={
            "worker": worker,
            "iteration": iteration,
            "episode": episode,
            "total_reward": record.total_reward,
            "progress": record.progress,
            "status": record.status,
            "idle_seconds": idle_seconds,
        },
    )


def _eval_metric(results: list[EpisodeRecord], metric: str) -> float | None:
    """Mean evaluation progress or reward; mean lap time of completed laps (None if none)."""
    if metric == "reward":
        return float(np.mean([r.total_reward for r in results]))
    if metric == "laptime":
        laps = [
            r.end_time - r.start_time for r in results if r.status == EpisodeStatus.LAP_COMPLETE
        ]
        return float(np.mean(laps)) if laps else None
    return float(np.mean([max(r.progress, 0.0) for r in results]))


def main() -> int:
    """Run one rollout worker; a failure a restart cannot fix ends it with the failure block
    (markov.workers.failure) and exit status 3."""
    exit_with_parent()
    name = f"rollout worker {os.environ.get('ROLLOUT_IDX') or 0}"
    try:
        location = store_location()
        worker = RolloutWorker(open_store(location.url), location.prefix, os.environ)
        code = worker.run()
    except DETERMINISTIC_ERRORS as error:
        return report_failure(name, error)
    for reward in worker.reward_functions:
        reward.flush_output_report()
    return code


if __name__ == "__main__":
    sys.exit(main())
