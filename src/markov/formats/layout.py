"""Where every file of a run lives in the model store: the one home of the store layout.

A run's files sit under its prefix in DeepRacer-for-Cloud's layout (docs/file-formats.md §8.1,
§8.3, §9), so that deepracer-utils loads a run folder unchanged; the product adds a few files of its
own (episode batches, live frames, the trainer's log, the local runner's result, ONNX exports).
`RunLayout(prefix)` names each of them; nothing else in the package spells a store key.

The file names are module constants because the experiment's input folder (``runs/<id>/``)
uses the same names before they are uploaded under the prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markov.store.base import normalize_prefix

TRAINING_PARAMS_NAME = "training_params.yaml"
EVALUATION_PARAMS_NAME = "evaluation_params.yaml"
REWARD_FUNCTION_NAME = "reward_function.py"
MODEL_METADATA_NAME = "model_metadata.json"
HYPERPARAMETERS_NAME = "hyperparameters.json"

CHECKPOINT_MANIFEST_SUFFIX = ".manifest.json"
"""Added to a checkpoint name: the file listing that checkpoint's files and their sizes."""

_WORKER_PARAMS = re.compile(r"^training_params_(\d+)\.yaml$")
_TIMESTAMP = re.compile(r"^\d{14}$")


def worker_params_number(file_name: str) -> int | None:
    """The worker of a per-worker ``training_params_<i>.yaml`` file name, else None."""
    match = _WORKER_PARAMS.match(file_name)
    return int(match.group(1)) if match else None


def format_run_timestamp(timestamp: datetime | str) -> str:
    """The 14-digit YYYYmmddHHMMSS stamp DRfC puts in evaluation folder and file names."""
    stamp = timestamp.strftime("%Y%m%d%H%M%S") if isinstance(timestamp, datetime) else timestamp
    if not isinstance(stamp, str) or not _TIMESTAMP.match(stamp):
        raise ValueError(
            f"evaluation timestamp {timestamp!r} must be a datetime or 14 digits YYYYmmddHHMMSS"
        )
    return stamp


def simtrace_iteration_key(simtrace_prefix: str, iteration: int) -> str:
    """`<simtrace_prefix>/<k>-iteration.csv`, one simtrace file (§7.1) under any simtrace prefix.

    The prefix may come from a YAML file (``SIMTRACE_S3_PREFIX``), so it is not always a run's.
    """
    _check_index("simtrace iteration", iteration)
    return f"{normalize_prefix(simtrace_prefix)}/{iteration}-iteration.csv"


def worker_metrics_key(metrics_key: str, worker: int) -> str:
    """Worker i > 0's training metrics: ``_<i>`` inserted before the extension (§9).

    ``metrics_key`` is worker 0's (``METRICS_S3_OBJECT_KEY``, possibly set by a YAML file).
    """
    _check_index("worker", worker)
    if worker == 0:
        return metrics_key
    stem, dot, extension = metrics_key.rpartition(".")
    return f"{stem}_{worker}.{extension}" if dot else f"{metrics_key}_{worker}"


def _check_index(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class RunLayout:
    """The store keys of one run, all under ``prefix`` ('' = the store's root)."""

    prefix: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", normalize_prefix(self.prefix))

    def key(self, relative: str) -> str:
        """``relative`` (a '/'-separated path) under the run's prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    # -- run inputs (§1, §3, §8.1) -------------------------------------------------------------

    @property
    def training_params(self) -> str:
        """The run's main simulation YAML (``S3_YAML_NAME``)."""
        return self.key(TRAINING_PARAMS_NAME)

    def worker_training_params(self, worker: int) -> str:
        """Worker ``i``'s own simulation YAML (DRfC multi-config: ``training_params_<i>.yaml``)."""
        return self.key(f"training_params_{worker}.yaml")

    def evaluation_params(self, evaluation_id: str) -> str:
        """The simulation YAML of one evaluation request."""
        return self.key(f"evaluation_params_{evaluation_id}.yaml")

    @property
    def reward_function(self) -> str:
        """The reward function source (``REWARD_FILE_S3_KEY``)."""
        return self.key(REWARD_FUNCTION_NAME)

    @property
    def hyperparameters(self) -> str:
        """The learner's hyperparameters as uploaded with the run inputs."""
        return self.key(HYPERPARAMETERS_NAME)

    @property
    def code_bundle(self) -> str:
        """The packaged engine an AWS job installs (``BUNDLE_S3_KEY``)."""
        return self.key("build/output.tar.gz")

    @property
    def sagemaker_output(self) -> str:
        """SageMaker's ``OutputDataConfig`` folder (``train-output/<job>/output/``)."""
        return self.key("train-output")

    # -- model/ (§2, §4, §12) ------------------------------------------------------------------

    @property
    def model_folder(self) -> str:
        """``model/``: metadata, checkpoints, the pointer, the book and the sync flags."""
        return self.key("model")

    def model_file(self, name: str) -> str:
        """The file ``name`` directly inside ``model/``."""
        return f"{self.model_folder}/{name}"

    @property
    def model_metadata(self) -> str:
        """``model/model_metadata.json`` (``MODEL_METADATA_FILE_S3_KEY``)."""
        return self.model_file(MODEL_METADATA_NAME)

    @property
    def checkpoint_pointer(self) -> str:
        """``model/.coach_checkpoint``: the name of the current checkpoint."""
        return self.model_file(".coach_checkpoint")

    @property
    def legacy_checkpoint_index(self) -> str:
        """``model/checkpoint``: TensorFlow's index, kept for older tools."""
        return self.model_file("checkpoint")

    @property
    def checkpoint_book(self) -> str:
        """``model/deepracer_checkpoints.json``: the best and the last checkpoint."""
        return self.model_file("deepracer_checkpoints.json")

    def checkpoint_file(self, checkpoint_name: str, suffix: str) -> str:
        """One file of a checkpoint, e.g. ``model/3_Step-2231.ckpt.safetensors``."""
        return self.model_file(checkpoint_name + suffix)

    def checkpoint_manifest(self, checkpoint_name: str) -> str:
        """A checkpoint's manifest, written once its files read back intact."""
        return self.checkpoint_file(checkpoint_name, CHECKPOINT_MANIFEST_SUFFIX)

    @property
    def trainer_state(self) -> str:
        """The optimiser state a restarted trainer resumes with."""
        return self.model_file("trainer_state.pt")

    @property
    def lock_flag(self) -> str:
        """``model/.lock``: the trainer is publishing a checkpoint."""
        return self.model_file(".lock")

    @property
    def ready_flag(self) -> str:
        """``model/.ready``: the trainer is up and checkpoint 0 exists."""
        return self.model_file(".ready")

    @property
    def finished_flag(self) -> str:
        """``model/.finished``: training is over."""
        return self.model_file(".finished")

    @property
    def replay_flag(self) -> str:
        """``model/.replay``: the trainer asks the workers to play an iteration again."""
        return self.model_file(".replay")

    @property
    def run_flags(self) -> tuple[str, ...]:
        """The flags a new run clears: lock, ready, finished and replay."""
        return (self.lock_flag, self.ready_flag, self.finished_flag, self.replay_flag)

    # -- ip/ (§12) ---------------------------------------------------------------------------

    @property
    def ip_hyperparameters(self) -> str:
        """``ip/hyperparameters.json``: the resolved hyperparameters the workers read."""
        return self.key(f"ip/{HYPERPARAMETERS_NAME}")

    @property
    def ip_address(self) -> str:
        """``ip/ip.json``: which host runs the trainer."""
        return self.key("ip/ip.json")

    @property
    def ip_done(self) -> str:
        """``ip/done``: written last, after the other ip/ files."""
        return self.key("ip/done")

    # -- metrics/ (§5, §6) -------------------------------------------------------------------

    @property
    def metrics_folder(self) -> str:
        """``metrics/``: training and evaluation metrics, and the trainer's log."""
        return self.key("metrics")

    def training_metrics(self, worker: int) -> str:
        """``metrics/TrainingMetrics.json``, with ``_<i>`` before ``.json`` for worker i > 0."""
        return worker_metrics_key(f"{self.metrics_folder}/TrainingMetrics.json", worker)

    def evaluation_metrics(self, evaluation_id: datetime | str) -> str:
        """``metrics/EvaluationMetrics-<YYYYmmddHHMMSS>.json`` (the DRfC name)."""
        stamp = format_run_timestamp(evaluation_id)
        return f"{self.metrics_folder}/EvaluationMetrics-{stamp}.json"

    @property
    def trainer_log(self) -> str:
        """``metrics/trainer.json``: one entry per training iteration (losses, times)."""
        return f"{self.metrics_folder}/trainer.json"

    # -- simtrace and videos (§7.1, §8.3, §9) --------------------------------------------------

    def training_simtrace(self, worker: int, num_workers: int) -> str:
        """Where a training worker's simtrace files go.

        With one worker: ``training-simtrace``; with more, every worker (worker 0 included)
        writes to ``<worker>/training-simtrace``.
        """
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise ValueError(f"num_workers must be an integer >= 1, got {num_workers!r}")
        if isinstance(worker, bool) or not isinstance(worker, int) or not 0 <= worker < num_workers:
            raise ValueError(
                f"worker must be an integer in 0..{num_workers - 1} for {num_workers} workers, "
                f"got {worker!r}"
            )
        folder = f"{worker}/training-simtrace" if num_workers > 1 else "training-simtrace"
        return self.key(folder)

    def evaluation_folder(self, evaluation_id: datetime | str) -> str:
        """``evaluation-<YYYYmmddHHMMSS>``: one evaluation's ``SIMTRACE_S3_PREFIX``."""
        return self.key(f"evaluation-{format_run_timestamp(evaluation_id)}")

    def evaluation_simtrace(self, evaluation_id: datetime | str) -> str:
        """``evaluation-<YYYYmmddHHMMSS>/evaluation-simtrace``: one evaluation's simtrace files."""
        return f"{self.evaluation_folder(evaluation_id)}/evaluation-simtrace"

    @property
    def training_video_folder(self) -> str:
        """``iteration-data/training``: training videos (workshop ``MP4_S3_OBJECT_PREFIX``)."""
        return self.key("iteration-data/training")

    @property
    def evaluation_video_folder(self) -> str:
        """``mp4/``: evaluation videos (DRfC's ``MP4_S3_OBJECT_PREFIX``)."""
        return self.key("mp4")

    def evaluation_video(self, evaluation_id: str) -> str:
        """``mp4/evaluation-<id>.mp4``: the video of one evaluation."""
        return f"{self.evaluation_video_folder}/evaluation-{evaluation_id}.mp4"

    # -- the product's own files ---------------------------------------------------------------

    @property
    def episodes_folder(self) -> str:
        """``episodes/``: episode batches on their way from the workers to the trainer."""
        return self.key("episodes")

    def episode_iteration_folder(self, iteration: int) -> str:
        """``episodes/iteration-<k>``: the batches of one iteration."""
        _check_index("iteration", iteration)
        return f"{self.episodes_folder}/iteration-{iteration}"

    def episode_batch(self, iteration: int, worker: int) -> str:
        """``episodes/iteration-<k>/worker-<i>.npz``: one worker's batch of one iteration."""
        _check_index("worker", worker)
        return f"{self.episode_iteration_folder(iteration)}/worker-{worker}.npz"

    def live_file(self, worker: int, file_name: str) -> str:
        """``live/worker-<i>/<file_name>``: one of a rollout worker's live frames."""
        return self.key(f"live/worker-{worker}/{file_name}")

    def live_camera(self, worker: int) -> str:
        """The worker's latest camera frame (PNG)."""
        return self.live_file(worker, "camera.png")

    def live_topdown(self, worker: int) -> str:
        """The worker's latest top-down frame (PNG)."""
        return self.live_file(worker, "topdown.png")

    def live_status(self, worker: int) -> str:
        """The worker's latest status (iteration, episode, step, progress, time)."""
        return self.live_file(worker, "status.json")

    def export_archive(self, label: str) -> str:
        """``export/<label>-model.tar.gz``: a policy packed as ONNX for import elsewhere."""
        return self.key(f"export/{label}-model.tar.gz")

    @property
    def logs_folder(self) -> str:
        """``logs/``: the output of a local run's trainer and rollout workers."""
        return self.key("logs")

    def process_log(self, process: str) -> str:
        """``logs/<process>.log``, e.g. ``logs/trainer.log`` or ``logs/rollout-1.log``."""
        return f"{self.logs_folder}/{process}.log"

    @property
    def runner_result(self) -> str:
        """How a local run ended (iterations, time, exit code), for detached notebooks."""
        return self.key("runner_result.json")

    @property
    def runner_marker(self) -> str:
        """The local runner's marker (process id, start time) while it runs."""
        return self.key("runner.json")

    @property
    def write_probe(self) -> str:
        """An empty file written and deleted to check that the store is writable."""
        return self.key(".write-test")
