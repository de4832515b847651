"""How many rollout workers this machine can run: one core each, and memory for all of them.

The memory figures fit the peaks ``bench/memory_peak.py`` measured (resident memory of a
notebook kernel, the trainer and N rollout workers during a local training with the default
workshop model: 1418, 1831 and 2746 MiB for 1, 2 and 4 workers), rounded up; the README gives
the measurement.
"""

from __future__ import annotations

import os

MIB = 1024 * 1024
KERNEL_AND_TRAINER_MIB = 1000
"""The notebook kernel plus the trainer process (measured: 975 MiB by the fit)."""
WORKER_MIB = 450
"""Each rollout worker: simulator, camera and policy network (measured: 443 MiB by the fit)."""
RESERVED_MIB = 1024
"""Left for the operating system and the JupyterLab server."""


def total_memory_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def workers_for_cores(cores: int) -> int:
    """One core per worker, one left for the trainer and the notebook; at least one worker."""
    return max(1, cores - 1)


def workers_for_memory(memory_bytes: int) -> int:
    """How many workers fit in ``memory_bytes`` beside the kernel, trainer and system; >= 1."""
    room = memory_bytes / MIB - RESERVED_MIB - KERNEL_AND_TRAINER_MIB
    return max(1, int(room // WORKER_MIB))


def recommended_workers(cores: int, memory_bytes: int | None) -> int:
    """The rollout workers to start: the smaller of what the cores and the memory allow."""
    by_cores = workers_for_cores(cores)
    if memory_bytes is None:
        return by_cores
    return min(by_cores, workers_for_memory(memory_bytes))
