"""How the Clipped PPO update and a rollout worker's policy use the hardware: precision, memory
layout, optimizer kernel.

None of these change the algorithm. bf16 autocast runs the convolutions and dense layers of the
gradient steps in bfloat16 (fp32 weights, fp32 heads and losses); it is chosen by "auto" only
where the hardware computes bf16 natively (AVX-512 BF16 or AMX on CPU, bf16 on CUDA), since
elsewhere it is emulated and slower. Channels-last weights let oneDNN/cuDNN skip layout
reorders; the fused Adam kernel updates all parameters in one pass instead of ~10 per tensor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16")


class UpdateOptionsError(ValueError):
    """An update option has a value the trainer cannot use."""


@dataclass(frozen=True)
class UpdateOptions:
    """Speed settings of the update; `plain()` is the fp32 reference the bench compares with."""

    precision: str = "auto"
    channels_last: bool = True
    fused_optimizer: bool = True

    def __post_init__(self) -> None:
        check_precision(self.precision, "TRAINER_PRECISION")

    @classmethod
    def plain(cls) -> UpdateOptions:
        """fp32, default memory layout, per-tensor Adam: the update as first written."""
        return cls(precision="fp32", channels_last=False, fused_optimizer=False)

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> UpdateOptions:
        """`TRAINER_PRECISION` (auto, fp32, bf16); the other options keep their fast defaults."""
        return cls(precision=precision_setting(env, "TRAINER_PRECISION"))


def check_precision(precision: str, variable: str = "precision") -> str:
    """`precision` if it is one of PRECISIONS, else an error naming `variable` and the choices."""
    if precision not in PRECISIONS:
        raise UpdateOptionsError(
            f"{variable}={precision!r} is invalid; use one of {', '.join(PRECISIONS)}"
        )
    return precision


def rollout_precision(env: Mapping[str, str]) -> str:
    """`ROLLOUT_PRECISION` (auto, fp32, bf16): the dtype of a rollout worker's policy trunk.

    "auto" acts in bf16 where the CPU computes it natively: the sampled probabilities then
    differ from fp32 by about 1e-3 (the update recomputes them in fp32, as PPO's old policy).
    """
    return check_precision(precision_setting(env, "ROLLOUT_PRECISION"), "ROLLOUT_PRECISION")


def precision_setting(env: Mapping[str, str], variable: str) -> str:
    """The precision environment variable `variable`, normalised; "auto" when unset or empty."""
    return env.get(variable, "auto").strip().lower() or "auto"


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matrix products natively (not by emulation)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and (
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        )
    return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the update on `device`, or None for plain fp32."""
    if precision == "fp32" or (precision == "auto" and not native_bf16(device)):
        return None
    return torch.bfloat16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast to `dtype` on `device`; a no-op for None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Leave any active autocast: heads, probabilities and losses stay fp32."""
    with torch.autocast(device_type=device.type, enabled=False):
        yield
