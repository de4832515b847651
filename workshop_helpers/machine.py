"""How many rollout workers this machine can run: one core each, and memory for all of them.

The memory figures are peaks measured by ``bench/memory_peak.py`` (resident memory of a
notebook kernel, the trainer and each rollout worker during a local training with the default
workshop model); the README gives the measurement.
"""

from __future__ import annotations

import os

MIB = 1024 * 1024
KERNEL_AND_TRAINER_MIB = 850
"""Peak of the notebook kernel plus the trainer process."""
WORKER_MIB = 470
"""Peak of one rollout worker (simulator, camera and policy network)."""
RESERVED_MIB = 600
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
