"""The fast Clipped PPO update learns what the plain fp32 update learns."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from markov.agents import ClippedPPOAgent, Episode
from markov.agents.update_options import (
    UpdateOptions,
    UpdateOptionsError,
    native_bf16,
    resolve_precision,
)
from markov.presets import Hyperparameters
from markov.workers.training import TrainerSettings, usable_cores

SHALLOW = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
CAMERA_SPACE = gym.spaces.Dict(
    {"FRONT_FACING_CAMERA": gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)}
)
# bf16 convolutions keep 8 bits of mantissa. Measured on the task below: value losses within
# 1 % of fp32, surrogate losses within 0.01, learnt probabilities within 0.05 after 4 iterations.
BF16_VALUE_LOSS_RTOL = 0.03
BF16_SURROGATE_ATOL = 0.02
BF16_PROBABILITY_ATOL = 0.1


def camera_agent(options: UpdateOptions, device: str = "cpu") -> ClippedPPOAgent:
    hyperparameters = Hyperparameters(num_epochs=2, batch_size=32, lr=0.001)
    return ClippedPPOAgent(
        CAMERA_SPACE, gym.spaces.Discrete(2), SHALLOW, hyperparameters, device, seed=0,
        update_options=options,
    )


def side_images(sides: np.ndarray) -> np.ndarray:
    """Images bright on the left (side 0) or the right half (side 1)."""
    images = np.zeros((len(sides), 120, 160, 1), np.uint8)
    for index, side in enumerate(sides):
        images[index, :, 80 * side : 80 * (side + 1)] = 200
    return images


def training_curve(
    agent: ClippedPPOAgent, iterations: int = 4
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Per-iteration statistics on a task rewarding the action equal to the bright side,
    with the same episodes every run; returns them and the final correct-action probabilities."""
    rng = np.random.default_rng(7)
    curve = []
    for _ in range(iterations):
        episodes = []
        for _ in range(8):
            sides = rng.integers(0, 2, 16)
            actions = rng.integers(0, 2, 16)
            rewards = (actions == sides).astype(np.float32)
            episodes.append(Episode({"FRONT_FACING_CAMERA": side_images(sides)}, actions, rewards))
        curve.append(agent.update(episodes))
    probe = {"FRONT_FACING_CAMERA": side_images(np.array([0, 1]))}
    return curve, np.diag(agent.policy_output(probe))


def test_bf16_update_follows_the_fp32_loss_curve_on_a_fixed_seed():
    fp32_curve, fp32_correct = training_curve(camera_agent(UpdateOptions(precision="fp32")))
    bf16_agent = camera_agent(UpdateOptions(precision="bf16"))
    assert bf16_agent.update_dtype is torch.bfloat16
    bf16_curve, bf16_correct = training_curve(bf16_agent)
    for fp32, bf16 in zip(fp32_curve, bf16_curve, strict=True):
        assert bf16["value_loss"] == pytest.approx(fp32["value_loss"], rel=BF16_VALUE_LOSS_RTOL)
        assert abs(bf16["surrogate_loss"] - fp32["surrogate_loss"]) < BF16_SURROGATE_ATOL
    assert np.all(fp32_correct > 0.6) and np.all(bf16_correct > 0.6), "both learn the task"
    np.testing.assert_allclose(bf16_correct, fp32_correct, atol=BF16_PROBABILITY_ATOL)


def test_channels_last_and_fused_adam_change_nothing_but_speed():
    plain_curve, plain_correct = training_curve(camera_agent(UpdateOptions.plain()), 2)
    fast = camera_agent(UpdateOptions(precision="fp32"))
    fast_curve, fast_correct = training_curve(fast, 2)
    for plain, quick in zip(plain_curve, fast_curve, strict=True):
        for name in ("value_loss", "surrogate_loss", "entropy"):
            assert quick[name] == pytest.approx(plain[name], rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(fast_correct, plain_correct, atol=1e-5)
    saved = fast.state_tensors()["policy.encoder.embedders.FRONT_FACING_CAMERA.convs.0.weight"]
    assert saved.is_contiguous(), "checkpoints keep the plain NCHW layout"


def test_weights_move_between_fast_and_plain_agents():
    fast = camera_agent(UpdateOptions())
    plain = camera_agent(UpdateOptions.plain())
    plain.load_state_tensors(fast.state_tensors())
    probe = {"FRONT_FACING_CAMERA": side_images(np.array([0, 1]))}
    np.testing.assert_allclose(plain.policy_output(probe), fast.policy_output(probe), atol=1e-6)


def test_auto_precision_uses_bf16_only_where_the_hardware_has_it():
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native_bf16(cpu) else None
    assert resolve_precision("auto", cpu) is expected
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16


def test_trainer_uses_every_usable_core_and_reads_the_precision():
    settings = TrainerSettings.from_environ({"TRAINER_PRECISION": "FP32"}, yaml_workers=1)
    assert settings.num_threads == usable_cores()
    assert settings.update_options.precision == "fp32"
    assert TrainerSettings.from_environ({"TRAINER_THREADS": "1"}, 1).num_threads == 1


def test_unknown_precision_names_the_variable_and_the_choices():
    with pytest.raises(UpdateOptionsError, match="TRAINER_PRECISION") as error:
        TrainerSettings.from_environ({"TRAINER_PRECISION": "fp8"}, yaml_workers=1)
    assert "'fp8'" in str(error.value) and "bf16" in str(error.value)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU: TRAINER_DEVICE=auto means CPU here"
)
def test_auto_device_updates_on_cuda_and_learns_what_the_cpu_learns():
    gpu_agent = camera_agent(UpdateOptions(precision="fp32"), device="auto")
    assert gpu_agent.device.type == "cuda"
    assert next(gpu_agent.policy.parameters()).is_cuda
    gpu_curve, gpu_correct = training_curve(gpu_agent)
    cpu_curve, cpu_correct = training_curve(camera_agent(UpdateOptions(precision="fp32")))
    for gpu, cpu in zip(gpu_curve, cpu_curve, strict=True):
        assert gpu["value_loss"] == pytest.approx(cpu["value_loss"], rel=BF16_VALUE_LOSS_RTOL)
    np.testing.assert_allclose(gpu_correct, cpu_correct, atol=BF16_PROBABILITY_ATOL)
