"""Trainer: gathers the rollout workers' episodes, runs Clipped PPO, publishes checkpoints.

Run as ``python -m markov.workers.training`` with a store (``MODEL_STORE_URL`` or
``SAGEMAKER_SHARED_S3_BUCKET``) and ``SAGEMAKER_SHARED_S3_PREFIX``. It publishes checkpoint 0,
then for each iteration k waits for every worker's batch of iteration k (SYNC; a worker that
does not deliver within ``ROLLOUT_TIMEOUT_S`` of the first batch is left out), caps the
transitions, updates the policy and publishes checkpoint k+1. It stops on
``term_cond_max_episodes`` (iterations), ``term_cond_avg_score``, ``MAX_TRAINING_TIME_S`` or
``STOP_ON_EVAL_PROGRESS`` (an in-training evaluation episode reaching that progress), then
writes ``.finished``. Restarted on the same prefix, it resumes from the last complete
checkpoint. The update runs on CUDA when available (``TRAINER_DEVICE``: auto, cpu or cuda),
with every usable core (``TRAINER_THREADS`` overrides; the workers wait during a SYNC update)
and bf16 autocast where the hardware has native bf16 (``TRAINER_PRECISION``: auto, fp32, bf16).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from markov.agents.clipped_ppo import ClippedPPOAgent, Episode
from markov.agents.restore import (
    build_agent,
    checkpoint_files,
    checkpoint_info,
    export_archives,
    load_trainer_state,
    load_weights,
    save_trainer_state,
    validate_checkpoint_files,
)
from markov.agents.update_options import UpdateOptions
from markov.formats.checkpoints import (
    CheckpointBook,
    CheckpointPublisher,
    CheckpointReader,
    CheckpointRef,
    find_resume_point,
    parse_checkpoint_name,
)
from markov.formats.episodes import CorruptEpisodeFile, EpisodeArrays, load_episode_batch
from markov.formats.layout import RunLayout
from markov.formats.metrics import read_training_metrics
from markov.formats.run_inputs import (
    read_hyperparameters,
    read_model_metadata,
    read_params,
)
from markov.presets.preset import Hyperparameters, SyncType, max_memory_steps
from markov.store import ModelStore, open_store
from markov.workers.config import (
    exit_with_parent,
    float_variable,
    int_variable,
    setup_logging,
    store_location,
    sync_type,
)
from markov.workers.failure import report_deterministic_failure
from markov.workers.polling import Backoff, plan_for

log = setup_logging("trainer")
KEEP_NEWEST = 1
"""Checkpoints kept besides the best and the last evaluated (retention; see the README)."""
MAX_REPLAYS = 3
"""Times an iteration whose batches were all unusable is replayed before the trainer gives up."""


class TrainerError(RuntimeError):
    """Training cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class TrainerSettings:
    """How long to wait and when to stop, from the environment."""

    num_workers: int
    sync: SyncType
    rollout_timeout_s: float
    max_training_time_s: float | None
    stop_on_eval_progress: float | None
    seed: int
    num_threads: int
    device: str
    update_options: UpdateOptions

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
            num_threads=int_variable(env, "TRAINER_THREADS", 0) or usable_cores(),
            device=env.get("TRAINER_DEVICE", "auto"),
            update_options=UpdateOptions.from_environ(env),
        )


class Trainer:
    """The training worker of one run."""

    def __init__(self, store: ModelStore, prefix: str, env_vars: Mapping[str, str]) -> None:
        self.store = store
        self.prefix = prefix
        self.layout = RunLayout(prefix)
        yaml_key = env_vars.get("S3_YAML_NAME") or self.layout.training_params
        self.params = read_params(store, yaml_key)
        self.settings = TrainerSettings.from_environ(
            env_vars, int(self.params.get("NUM_WORKERS", "1") or 1)
        )
        self.model_metadata = read_model_metadata(
            store, self.params.get("MODEL_METADATA_FILE_S3_KEY") or self.layout.model_metadata
        )
        self.hyperparameters: Hyperparameters = read_hyperparameters(store, prefix)
        self.memory_cap = max_memory_steps(self.model_metadata.neural_network, env_vars)
        self.publisher = CheckpointPublisher(store, prefix, keep=KEEP_NEWEST)
        self.metrics_key = (
            self.params.get("METRICS_S3_OBJECT_KEY") or self.layout.training_metrics(0)
        )
        self.evaluates = int(self.params.get("MIN_EVAL_TRIALS", "5") or 5) > 0
        self._previous: CheckpointRef | None = None
        self._evaluating: list[str] = []
        """Checkpoints worker 0 may still be evaluating when the newest was published."""

    def run(self) -> int:
        """Train until a stop condition holds; returns the process exit code."""
        started = time.monotonic()
        agent = self._build_agent()
        iteration, steps, history = self._start(agent)
        first_iteration = iteration
        workers = min(self.settings.num_workers, self.hyperparameters.num_episodes_between_training)
        log.info("training with %d rollout worker(s), sync=%s", workers, self.settings.sync.name)
        finished = self._should_stop(iteration, history, started)
        while not finished:
            record = self._train_iteration(agent, iteration, workers, started)
            if record is None:
                break
            history.append(record)
            steps += record["transitions"]
            iteration += 1
            finished = self._should_stop(iteration, history, started)
            if finished:
                # .finished before the last checkpoint: no worker starts an iteration for it
                self.publisher.mark_finished()
            self._publish(agent, CheckpointRef(iteration, steps), history)
        self.publisher.mark_finished()
        self._require_an_iteration(first_iteration, iteration, started)
        self._keep_what_a_finished_run_needs()
        for key in export_archives(self.store, self.prefix, agent, self.model_metadata):
            log.info("exported %s", key)
        log.info("finished after %d iterations (%.0f s)", iteration, time.monotonic() - started)
        return 0

    def _build_agent(self) -> ClippedPPOAgent:
        agent = build_agent(
            self.model_metadata,
            self.hyperparameters,
            device=self.settings.device,
            seed=self.settings.seed,
            num_threads=self.settings.num_threads,
            update_options=self.settings.update_options,
        )
        log.info(
            "updating the policy on %s with %d thread(s), %s",
            agent.device,
            self.settings.num_threads,
            "bf16 autocast" if agent.update_dtype is not None else "fp32",
        )
        return agent

    def _train_iteration(
        self, agent: ClippedPPOAgent, iteration: int, workers: int, started: float
    ) -> dict[str, Any] | None:
        """Gather an iteration's episodes, update the policy on them, and return the iteration's
        record for metrics/trainer.json (None when the time ran out while waiting)."""
        rollout_started = time.monotonic()
        gathered = self._gather(iteration, workers, started)
        if gathered is None:
            return None
        episodes, idle_seconds = gathered
        kept = cap_transitions(episodes, self.memory_cap)
        update_started = time.monotonic()
        stats = agent.update(
            [_to_agent_episode(e) for e in kept], stop=lambda: self._out_of_time(started)
        )
        update_seconds = time.monotonic() - update_started
        print(
            f"Policy training> Surrogate loss={stats['surrogate_loss']:.4f}, "
            f"KL divergence={stats['kl_divergence']:.4f}, Entropy={stats['entropy']:.4f}, "
            f"training epoch={self.hyperparameters.num_epochs - 1}, "
            f"learning_rate={stats['learning_rate']}",
            flush=True,
        )
        workers_idle = workers_idle_seconds(episodes)
        print(
            f"Iteration> {iteration}: trainer idle {idle_seconds:.1f} s, update "
            f"{update_seconds:.1f} s, rollout workers idle "
            + (", ".join(f"{w}: {s:.1f} s" for w, s in workers_idle.items()) or "-"),
            flush=True,
        )
        return {
            "iteration": iteration,
            "episodes": len(episodes),
            "episodes_used": len(kept),
            "transitions": sum(e.num_steps for e in kept),
            "mean_reward": float(np.mean([_total(e) for e in episodes])),
            "mean_progress": float(np.mean([_progress(e) for e in episodes])),
            "rollout_seconds": update_started - rollout_started,
            "update_seconds": update_seconds,
            "trainer_idle_seconds": idle_seconds,
            "workers_idle_seconds": {str(w): s for w, s in workers_idle.items()},
            "time": time.time(),
            **{k: float(v) for k, v in stats.items()},
        }

    def _require_an_iteration(self, first_iteration: int, iteration: int, started: float) -> None:
        """No silent success: a training that finished no iteration fails with its cause."""
        if iteration == first_iteration and self._out_of_time(started):
            raise TrainerError(
                f"no training iteration finished: MAX_TRAINING_TIME_S "
                f"({self.settings.max_training_time_s:g} s) ran out while the trainer waited for "
                f"the episodes of iteration {iteration}. Allow more time, or play fewer episodes "
                "per iteration (num_episodes_between_training); the rollout logs show whether "
                "the workers played at all."
            )
        if iteration == 0:
            raise TrainerError(
                "no training iteration finished: a stop condition held before the first one; "
                "check term_cond_max_episodes and term_cond_avg_score in hyperparameters.json."
            )

    def _start(self, agent: ClippedPPOAgent) -> tuple[int, int, list[dict]]:
        """Resume from the newest checkpoint that loads, or publish checkpoint 0; then .ready.

        Everything a worker reads (ip/hyperparameters.json, the pointer naming a checkpoint
        whose files load) exists before .ready, which workers wait for.
        """
        self.publisher.clear_run_flags()
        self.publisher.write_ip_files(self.hyperparameters.to_json_dict())
        started = self._resume(agent)
        self.publisher.mark_ready()
        return started

    def _resume(self, agent: ClippedPPOAgent) -> tuple[int, int, list[dict]]:
        resume = find_resume_point(self.store, self.prefix, validate_checkpoint_files)
        history_key = self.layout.trainer_log
        history = self.store.get_json(history_key) if self.store.exists(history_key) else []
        if resume is None:
            self._publish(agent, CheckpointRef(0, 0), [])
            return 0, 0, []
        self.publisher.repair_pointer(resume)
        self._previous = resume
        files = CheckpointReader(self.store, self.prefix).load(resume)
        load_weights(agent, files)
        restored = load_trainer_state(self.store, self.prefix, agent, resume.name)
        missing = [part for part in ("value network", "optimizer") if part not in restored]
        log.info(
            "resuming from %s (%s)",
            resume.name,
            "; ".join(
                [*(f"{part} restored" for part in restored)]
                + [f"no saved {part} for it: starting that afresh" for part in missing]
            ),
        )
        info = checkpoint_info(files)
        history = [h for h in history if h["iteration"] < resume.number]
        return resume.number, info.get("steps", resume.steps), history

    def _publish(self, agent: ClippedPPOAgent, ref: CheckpointRef, history: list[dict]) -> None:
        info = {"iteration": ref.number, "steps": ref.steps}
        # Workers start on the new checkpoint while the (larger) Adam state is written.
        self._evaluating = self._in_evaluation()
        self.publisher.publish(
            ref.number, ref.steps, checkpoint_files(agent, info), protect=self._evaluating
        )
        save_trainer_state(self.store, self.prefix, agent, ref.name)
        self._previous = ref
        self.store.put_json(self.layout.trainer_log, history)
        print(f"Checkpoint> Saving in path={self.layout.model_file(ref.name)}", flush=True)

    def _keep_what_a_finished_run_needs(self) -> None:
        """Retention at a normal finish: the checkpoints the publisher keeps (the pointer's
        target, the best and the last evaluated, with any worker 0 may still be evaluating),
        applied again now that evaluation may have moved on. The trainer's state (value network
        and Adam's moments, the largest file of a run) only serves to resume an interrupted
        training, so it goes (README, "Memory and disk")."""
        if self._previous is not None:
            self.publisher.retire_old_checkpoints(self._previous, protect=self._evaluating)
        self.store.delete(self.layout.trainer_state)

    def _in_evaluation(self) -> list[str]:
        """The previous checkpoint while worker 0 may still evaluate it (it could become best)."""
        previous = self._previous
        if previous is None or not self.evaluates:
            return []
        last = CheckpointBook(self.store, self.prefix).read().last
        evaluated = None if last is None else parse_checkpoint_name(last.name)
        if evaluated is not None and evaluated.number >= previous.number:
            return []
        return [previous.name]

    def _gather(
        self, iteration: int, workers: int, started: float
    ) -> tuple[list[EpisodeArrays], float] | None:
        """The episodes of ``iteration`` (SYNC) or of any pending batches (ASYNC), and the
        seconds spent waiting for them. Each batch is loaded as soon as it arrives, so only the
        last one is loaded after the wait; when every batch is unusable the workers are asked
        to replay the iteration, a bounded number of times."""
        first_arrival = None
        backoff = Backoff(plan_for(self.store))  # slower on S3, where each LIST is billed
        episodes_wanted = self.hyperparameters.num_episodes_between_training
        share = max(episodes_wanted // workers, 1)  # episodes in one worker's batch (ASYNC)
        episodes: list[EpisodeArrays] = []
        arrived, busy_seconds, waiting_since = 0, 0.0, time.monotonic()
        unusable_rounds = 0
        while True:
            keys = self._pending_batches(iteration)
            loading_started = time.monotonic()
            episodes.extend(self._load(keys))
            busy_seconds += time.monotonic() - loading_started
            arrived += len(keys)
            complete = (
                arrived >= workers
                if self.settings.sync is SyncType.SYNC
                else arrived * share >= episodes_wanted
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
                        arrived,
                        workers,
                        self.settings.rollout_timeout_s,
                    )
                if episodes:
                    if unusable_rounds:
                        self.publisher.clear_replay()
                    return episodes, now - waiting_since - busy_seconds
                unusable_rounds += 1
                self._replay(iteration, unusable_rounds)
                first_arrival, arrived = None, 0
            if self._out_of_time(started):
                return None
            time.sleep(backoff.next_wait(len(keys)))

    def _replay(self, iteration: int, attempt: int) -> None:
        """Every batch of ``iteration`` was unusable: have it played again, a bounded number of
        times (ASYNC workers keep playing anyway)."""
        if attempt > MAX_REPLAYS:
            raise TrainerError(
                f"every episode batch of iteration {iteration} was unusable {attempt} times in "
                f"a row (see the warnings above for why); the store at {self.store.url} may be "
                "damaged or full. Check its free space, then restart the training: it resumes "
                "from the last checkpoint."
            )
        log.warning(
            "iteration %d: no usable episode batch; asking the workers to replay it "
            "(attempt %d of %d)",
            iteration,
            attempt,
            MAX_REPLAYS,
        )
        if self.settings.sync is SyncType.SYNC:
            self.publisher.request_replay(iteration, attempt)

    def _pending_batches(self, iteration: int) -> list[str]:
        if self.settings.sync is SyncType.SYNC:
            return self.store.list(self.layout.episode_iteration_folder(iteration))
        return self.store.list(self.layout.episodes_folder)

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


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def workers_idle_seconds(episodes: list[EpisodeArrays]) -> dict[int, float]:
    """Seconds each rollout worker waited for the checkpoint it played (episode metadata)."""
    idle: dict[int, float] = {}
    for episode in episodes:
        if "idle_seconds" in episode.metadata:
            worker = int(episode.metadata.get("worker", 0))
            idle[worker] = float(episode.metadata["idle_seconds"])
    return dict(sorted(idle.items()))


def cap_transitions(episodes: list[EpisodeArrays], cap: int) -> list[EpisodeArrays]:
    """Episodes in order until the next one would exceed ``cap`` transitions
    (docs/simulator-contract.md §6.5).

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
    try:
        return Trainer(open_store(location.url), location.prefix, os.environ).run()
    except TrainerError as error:
        return report_deterministic_failure(str(error))


if __name__ == "__main__":
    sys.exit(main())
