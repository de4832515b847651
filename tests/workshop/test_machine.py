"""How many rollout workers the machine check recommends: cores and memory both limit it."""

from __future__ import annotations

from workshop_helpers.machine import (
    KERNEL_AND_TRAINER_MIB,
    RESERVED_MIB,
    WORKER_MIB,
    recommended_workers,
    total_memory_bytes,
    workers_for_memory,
)

GIB = 2**30
MIB = 2**20


def test_a_big_machine_is_limited_by_its_cores() -> None:
    assert recommended_workers(cores=8, memory_bytes=64 * GIB) == 7


def test_sagemaker_notebook_instances_are_limited_by_their_cores() -> None:
    # ml.t3.medium: 2 vCPU and 4 GiB, which would hold 4 workers (2.7 GiB measured)
    assert workers_for_memory(4 * GIB) == 4
    assert recommended_workers(cores=2, memory_bytes=4 * GIB) == 1
    # ml.t3.xlarge: 4 vCPU and 16 GiB: three workers, one core each
    assert recommended_workers(cores=4, memory_bytes=16 * GIB) == 3


def test_many_cores_in_4_gib_are_limited_by_the_memory() -> None:
    assert recommended_workers(cores=16, memory_bytes=4 * GIB) == 4


def test_many_cores_with_little_memory_get_what_the_memory_holds() -> None:
    memory = (RESERVED_MIB + KERNEL_AND_TRAINER_MIB + 2 * WORKER_MIB) * MIB
    assert workers_for_memory(memory) == 2
    assert recommended_workers(cores=16, memory_bytes=memory) == 2
    assert recommended_workers(cores=16, memory_bytes=memory - MIB) == 1


def test_at_least_one_worker_is_always_recommended() -> None:
    assert recommended_workers(cores=1, memory_bytes=1 * GIB) == 1
    assert recommended_workers(cores=1, memory_bytes=None) == 1


def test_this_machine_reports_its_memory() -> None:
    memory = total_memory_bytes()
    assert memory is not None and memory > 512 * MIB
