"""Trainer: gathers the rollout workers' episodes, runs Clipped PPO, publishes checkpoints.

Run as ``python -m markov.training_worker`` with a store (``MODEL_STORE_URL`` or
``SAGEMAKER_SHARED_S3_BUCKET``) and ``SAGEMAKER_SHARED_S3_PREFIX``. It publishes checkpoint 0,
then for each iteration k waits for every worker's batch of iteration k (SYNC; a worker that
does not deliver within ``ROLLOUT_TIMEOUT_S`` of the first batch is left out), caps the
transitions, updates the policy and publishes checkpoint k+1. It stops on
``term_cond_max_episodes`` (iterations), ``term_cond_avg_score``, ``MAX_TRAINING_TIME_S`` or
``STOP_ON_EVAL_PROGRESS`` (an in-training evaluation episode reaching that progress), then
writes ``.finished``. Restarted on the same prefix, it resumes from the last complete
checkpoint. The update runs on CUDA when available (``TRAINER_DEVICE``: auto, cpu or cuda).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from markov.agents.clipped_ppo import ClippedPPOAgent, Episode
from markov.checkpoints import (
    build_agent,
    checkpoint_files,
    checkpoint_info,
    export_archives,
    load_trainer_state,
    load_weights,
    save_trainer_state,
)
from markov.episodes import CorruptEpisodeFile, EpisodeArrays, load_episode_batch
from markov.metrics import read_training_metrics, training_metrics_key
from markov.polling import Backoff, plan_for
from markov.presets.preset import Hyperparameters, SyncType, max_memory_steps
from markov.run_inputs import (
    MODEL_METADATA,
    TRAINING_PARAMS,
    read_hyperparameters,
    read_model_metadata,
    read_params,
)
from markov.store import ModelStore, open_store
from markov.sync import CheckpointPublisher, CheckpointReader, CheckpointRef, find_resume_point
from markov.worker_config import (
    exit_with_parent,
    float_variable,
    int_variable,
    setup_logging,
    store_location,
    sync_type,
)

log = setup_logging("trainer")
TRAINER_LOG = "metrics/trainer.json"


@dataclass(frozen=True)
class TrainerSettings:
    """How long to wait and when to stop, from the environment."""

    num_workers: int
    sync: SyncType
    rollout_timeout_s: float
    max_training_time_s: float | None
    stop_on_eval_progress: float | None
    seed: int
    num_threads: int | None
    device: str

    @classmethod
    def from_environ(cls, env: Mapping[str, str], yaml_workers: int) -> TrainerSettings:
        """Read the trainer's environment variables (see the module docstring)."""
        return cls(
            num_workers=int_variable(env, "NUM_WORKERS", yaml_workers, minimum=1),
            sync=sync_type(env),
            rollout_timeout_s=float_variable(env, "ROLLOUT_TIMEOUT_S", 300.0) or 300.0,
            max_training_time_s=float_variable(env, "MAX_TRAINING_TIME_S", None),
            stop_on_eval_progress=float_variable(env, "STOP_ON_EVAL_PROGRESS", None),
            seed=int_variable(env, "SEED", 0),
            num_threads=int_variable(env, "TRAINER_THREADS", 0) or None,
            device=env.get("TRAINER_DEVICE", "auto"),
        )


class Trainer:
    """The training worker of one run."""

    def __init__(self, store: ModelStore, prefix: str, env_vars: Mapping[str, str]) -> None:
        self.store = store
        self.prefix = prefix
        yaml_key = env_vars.get("S3_YAML_NAME") or f"{prefix}/{TRAINING_PARAMS}"
        self.params = read_params(store, yaml_key)
        self.settings = TrainerSettings.from_environ(
            env_vars, int(self.params.get("NUM_WORKERS", "1") or 1)
        )
        self.model_metadata = read_model_metadata(
            store, self.params.get("MODEL_METADATA_FILE_S3_KEY") or f"{prefix}/{MODEL_METADATA}"
        )
        self.hyperparameters: Hyperparameters = read_hyperparameters(store, prefix)
        self.memory_cap = max_memory_steps(self.model_metadata.neural_network, env_vars)
        self.publisher = CheckpointPublisher(store, prefix)
        self.metrics_key = self.params.get("METRICS_S3_OBJECT_KEY") or training_metrics_key(
            prefix, 0
        )

    def run(self) -> int:
        """Train until a stop condition holds; returns the process exit code."""
        started = time.monotonic()
        agent = build_agent(
            self.model_metadata,
            self.hyperparameters,
            device=self.settings.device,
            seed=self.settings.seed,
            num_threads=self.settings.num_threads,
        )
        log.info("updating the policy on %s", agent.device)
        iteration, steps, history = self._start(agent)
        self.publisher.write_ip_files(self.hyperparameters.to_json_dict())
        self.publisher.mark_ready()
        workers = min(self.settings.num_workers, self.hyperparameters.num_episodes_between_training)
        log.info("training with %d rollout worker(s), sync=%s", workers, self.settings.sync.name)
        finished = self._should_stop(iteration, history, started)
        while not finished:
            rollout_started = time.monotonic()
            episodes = self._gather(iteration, workers, started)
            if episodes is None:
                break
            kept = cap_transitions(episodes, self.memory_cap)
            update_started = time.monotonic()
            stats = agent.update([_to_agent_episode(e) for e in kept])
            update_seconds = time.monotonic() - update_started
            print(
                f"Policy training> Surrogate loss={stats['surrogate_loss']:.4f}, "
                f"KL divergence={stats['kl_divergence']:.4f}, Entropy={stats['entropy']:.4f}, "
                f"training epoch={self.hyperparameters.num_epochs - 1}, "
                f"learning_rate={stats['learning_rate']}",
                flush=True,
            )
            transitions = sum(e.num_steps for e in kept)
            steps += transitions
            iteration += 1
            history.append(
                {
                    "iteration": iteration - 1,
                    "episodes": len(episodes),
                    "episodes_used": len(kept),
                    "transitions": transitions,
                    "mean_reward": float(np.mean([_total(e) for e in episodes])),
                    "mean_progress": float(np.mean([_progress(e) for e in episodes])),
                    "rollout_seconds": update_started - rollout_started,
                    "update_seconds": update_seconds,
                    "time": time.time(),
                    **{k: float(v) for k, v in stats.items()},
                }
            )
            finished = self._should_stop(iteration, history, started)
            if finished:
                # .finished before the last checkpoint: no worker starts an iteration for it
                self.publisher.mark_finished()
            self._publish(agent, CheckpointRef(iteration, steps), history)
        self.publisher.mark_finished()
        for key in export_archives(self.store, self.prefix, agent, self.model_metadata):
            log.info("exported %s", key)
        log.info("finished after %d iterations (%.0f s)", iteration, time.monotonic() - started)
        return 0

    def _start(self, agent: ClippedPPOAgent) -> tuple[int, int, list[dict]]:
        """Resume from the last complete checkpoint, or publish checkpoint 0."""
        self.publisher.clear_run_flags()
        resume = find_resume_point(self.store, self.prefix)
        history_key = f"{self.prefix}/{TRAINER_LOG}"
        history = self.store.get_json(history_key) if self.store.exists(history_key) else []
        if resume is None:
            self._publish(agent, CheckpointRef(0, 0), [])
            return 0, 0, []
        files = CheckpointReader(self.store, self.prefix).load(resume)
        load_weights(agent, files)
        restored = load_trainer_state(self.store, self.prefix, agent, resume.name)
        log.info(
            "resuming from %s (optimizer state %s)",
            resume.name,
            "restored" if restored else "not found: starting Adam afresh",
        )
        info = checkpoint_info(files)
        history = [h for h in history if h["iteration"] < resume.number]
        return resume.number, info.get("steps", resume.steps), history

    def _publish(self, agent: ClippedPPOAgent, ref: CheckpointRef, history: list[dict]) -> None:
        save_trainer_state(self.store, self.prefix, agent, ref.name)
        info = {"iteration": ref.number, "steps": ref.steps}
        self.publisher.publish(ref.number, ref.steps, checkpoint_files(agent, info))
        self.store.put_json(f"{self.prefix}/{TRAINER_LOG}", history)
        print(f"Checkpoint> Saving in path={self.prefix}/model/{ref.name}", flush=True)

    def _gather(self, iteration: int, workers: int, started: float) -> list[EpisodeArrays] | None:
        """The episodes of ``iteration`` (SYNC) or of any pending batches (ASYNC)."""
        first_arrival = None
        backoff = Backoff(plan_for(self.store))  # slower on S3, where each LIST is billed
        episodes_wanted = self.hyperparameters.num_episodes_between_training
        share = max(episodes_wanted // workers, 1)  # episodes in one worker's batch (ASYNC)
        while True:
            keys = self._pending_batches(iteration)
            complete = (
                len(keys) >= workers
                if self.settings.sync is SyncType.SYNC
                else len(keys) * share >= episodes_wanted
            )
            now = time.monotonic()
            if keys and first_arrival is None:
                first_arrival = now
            timed_out = (
                first_arrival is not None and now - first_arrival > self.settings.rollout_timeout_s
            )
            if complete or timed_out:
                if timed_out:
                    log.warning(
                        "iteration %d: %d of %d worker batches arrived within %.0f s; "
                        "training on what arrived",
                        iteration,
                        len(keys),
                        workers,
                        self.settings.rollout_timeout_s,
                    )
                episodes = self._load(keys)
                if episodes:
                    return episodes
                first_arrival = None
            if self._out_of_time(started):
                return None
            time.sleep(backoff.next_wait(len(keys)))

    def _pending_batches(self, iteration: int) -> list[str]:
        base = f"{self.prefix}/episodes"
        if self.settings.sync is SyncType.SYNC:
            return self.store.list(f"{base}/iteration-{iteration}")
        return self.store.list(base)

    def _load(self, keys: list[str]) -> list[EpisodeArrays]:
        episodes: list[EpisodeArrays] = []
        for key in keys:
            try:
                episodes.extend(load_episode_batch(self.store, key))
            except CorruptEpisodeFile as error:
                log.warning("skipping episode batch %s: %s", key, error)
            self.store.delete(key)
        return episodes

    def _should_stop(self, iteration: int, history: list[dict], started: float) -> bool:
        if iteration >= self.hyperparameters.term_cond_max_episodes:
            log.info("stop: %d iterations (term_cond_max_episodes)", iteration)
            return True
        if history and history[-1]["mean_reward"] >= self.hyperparameters.term_cond_avg_score:
            log.info("stop: mean reward reached term_cond_avg_score")
            return True
        if self._out_of_time(started):
            log.info("stop: MAX_TRAINING_TIME_S reached")
            return True
        target = self.settings.stop_on_eval_progress
        if target is not None and iteration > 0 and self._best_eval_progress() >= target:
            log.info("stop: an evaluation episode reached %.0f %% progress", target)
            return True
        return False

    def _out_of_time(self, started: float) -> bool:
        limit = self.settings.max_training_time_s
        return limit is not None and time.monotonic() - started >= limit

    def _best_eval_progress(self) -> float:
        if not self.store.exists(self.metrics_key):
            return 0.0
        entries = read_training_metrics(self.store, self.metrics_key).metrics
        evaluations = [m["completion_percentage"] for m in entries if m["phase"] == "evaluation"]
        return float(max(evaluations, default=0.0))


def cap_transitions(episodes: list[EpisodeArrays], cap: int) -> list[EpisodeArrays]:
    """Episodes in order until the next one would exceed ``cap`` transitions (§6.5).

    The first episode is always kept, so an iteration never trains on nothing.
    """
    kept, total = [], 0
    for episode in episodes:
        if total + episode.num_steps > cap:
            break
        kept.append(episode)
        total += episode.num_steps
    return kept or episodes[:1]


def _to_agent_episode(episode: EpisodeArrays) -> Episode:
    return Episode(episode.observations, episode.actions, episode.rewards)


def _total(episode: EpisodeArrays) -> float:
    return float(episode.metadata.get("total_reward", float(episode.rewards.sum())))


def _progress(episode: EpisodeArrays) -> float:
    return float(episode.metadata.get("progress", 0.0))


def main() -> int:
    exit_with_parent()
    location = store_location()
    return Trainer(open_store(location.url), location.prefix, os.environ).run()


if __name__ == "__main__":
    sys.exit(main())
