"""Peak resident memory of a local training as a notebook runs it: kernel + trainer + N workers.

This process plays the Jupyter kernel: it imports what the notebooks import (torch, pandas,
matplotlib, ipywidgets, the workshop helpers), then runs a local training with the default
workshop model and hyperparameters for a fixed wall time while sampling the resident set size
(RSS) of itself and every descendant process. Usage:
``python bench/memory_peak.py [--workers 1 2 4] [--seconds 150]``.

The figure to compare with a machine's memory is the peak of the sum; JupyterLab's own server
(about 100-150 MiB) comes on top.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field

import ipywidgets  # noqa: F401 - imported as in a notebook kernel, it counts
import matplotlib.pyplot as plt  # noqa: F401
import pandas  # noqa: F401
import psutil
import torch  # noqa: F401

import workshop_helpers.training  # noqa: F401
from markov.runners.local import LocalTrainingRun, prepare_default_inputs

MIB = 1024 * 1024
SAMPLE_S = 0.2


@dataclass
class Peaks:
    """Peak RSS (bytes) of the whole tree and of each role seen."""

    total: int = 0
    by_role: dict[str, int] = field(default_factory=dict)


def role_of(process: psutil.Process, root: int) -> str:
    """'kernel' (this process), 'trainer', 'worker-<pid>' or 'other'."""
    if process.pid == root:
        return "kernel"
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    if "markov.workers.training" in command:
        return "trainer"
    if "markov.workers.rollout" in command:
        return f"worker-{process.pid}"
    return "other"


def sample_tree(peaks: Peaks, stop: threading.Event) -> None:
    """Add up the RSS of this process and its descendants until ``stop`` is set."""
    me = psutil.Process()
    while not stop.is_set():
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            role = role_of(process, me.pid)
            peaks.by_role[role] = max(peaks.by_role.get(role, 0), rss)
        peaks.total = max(peaks.total, total)
        time.sleep(SAMPLE_S)


def measure(workers: int, seconds: float, track: str) -> Peaks:
    """Peak memory of a ``seconds``-long local training with ``workers`` rollout workers."""
    with tempfile.TemporaryDirectory(prefix="dr-memory-") as store:
        prefix = f"memory-{workers}"
        prepare_default_inputs(store, prefix, workers, track)
        run = LocalTrainingRun(
            store,
            prefix,
            workers,
            extra_env={"MAX_TRAINING_TIME_S": str(seconds)},
            printer=lambda _line: None,
        )
        peaks, stop = Peaks(), threading.Event()
        sampler = threading.Thread(target=sample_tree, args=(peaks, stop), daemon=True)
        sampler.start()
        try:
            run.run()
        finally:
            stop.set()
            sampler.join()
        return peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=150.0, help="training time per run")
    parser.add_argument("--track", default="Workshop_Oval")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB; "
          f"{args.seconds:.0f} s of training per run, default workshop model")
    print("workers  peak total  kernel  trainer  largest worker   (MiB)")
    for workers in args.workers:
        peaks = measure(workers, args.seconds, args.track)
        worker_peaks = [v for k, v in peaks.by_role.items() if k.startswith("worker-")]
        print(
            f"{workers:7d}  {peaks.total / MIB:10.0f}  {peaks.by_role.get('kernel', 0) / MIB:6.0f}"
            f"  {peaks.by_role.get('trainer', 0) / MIB:7.0f}"
            f"  {max(worker_peaks, default=0) / MIB:14.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
