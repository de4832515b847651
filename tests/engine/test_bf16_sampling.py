"""Rollout workers sample from a bf16 copy of the policy trunk (ROLLOUT_PRECISION): the copy
follows every weight change, its probabilities stay within a stated tolerance of fp32, and
evaluation still acts with the fp32 policy."""

import numpy as np
import pytest
import torch

from markov.agents import ClippedPPOAgent, Episode
from markov.agents.restore import build_agent
from markov.agents.update_options import UpdateOptionsError, rollout_precision
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets import Hyperparameters
from markov.workers.vector_rollout import play_episodes_lockstep

# Measured on the workshop's camera model on Workshop_Oval: 1e-4 untrained, 1.2e-3 after
# three updates (largest probability 0.76). bf16 keeps 8 bits of mantissa in the trunk only.
PROBABILITY_ATOL = 0.01


def camera_agent(precision: str, seed: int = 0) -> ClippedPPOAgent:
    return build_agent(
        default_model_metadata(), Hyperparameters(), seed=seed, acting_precision=precision
    )


def sampled_probabilities(agent: ClippedPPOAgent, observations: dict) -> np.ndarray:
    """What the sampling path computes: the acting copy's probabilities."""
    with torch.inference_mode():
        return agent._policy_for_acting()(agent._to_tensors(observations)).numpy()


@pytest.fixture(scope="module")
def played_iterations() -> tuple[ClippedPPOAgent, list[dict]]:
    """An agent after three updates on its own bf16-sampled episodes, and each iteration's
    observations."""
    agent = camera_agent("bf16")
    envs = [DeepRacerRacetrackEnv("Workshop_Oval", default_model_metadata()) for _ in range(2)]
    for index, env in enumerate(envs):
        env.reset(seed=index)
    batches = []
    for iteration in range(3):
        played = play_episodes_lockstep(envs, agent, 4 * iteration, 4)
        batches.append(
            {
                sensor: np.concatenate([p.arrays.observations[sensor] for p in played])
                for sensor in played[0].arrays.observations
            }
        )
        agent.update(
            [Episode(p.arrays.observations, p.arrays.actions, p.arrays.rewards) for p in played]
        )
    return agent, batches


def test_bf16_sampling_probabilities_match_fp32_after_training(played_iterations):
    agent, batches = played_iterations
    for observations in batches:
        fp32 = agent.policy_output(observations)
        bf16 = sampled_probabilities(agent, observations)
        assert bf16.dtype == np.float32
        np.testing.assert_allclose(bf16.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(bf16, fp32, atol=PROBABILITY_ATOL)
    # the learnt policy moved away from uniform, so the tolerance was tested on real logits
    assert agent.policy_output(batches[-1]).max() > 0.3


def test_the_acting_copy_follows_loaded_weights_and_updates(played_iterations):
    agent, batches = played_iterations
    other = camera_agent("bf16", seed=5)
    before = sampled_probabilities(other, batches[0])
    other.load_state_tensors(agent.state_tensors())
    after = sampled_probabilities(other, batches[0])
    assert np.abs(after - before).max() > 10 * PROBABILITY_ATOL  # not the stale copy
    np.testing.assert_allclose(after, agent.policy_output(batches[0]), atol=PROBABILITY_ATOL)


def test_acting_copy_is_bf16_and_leaves_the_trained_policy_fp32():
    agent = camera_agent("bf16")
    acting = agent._policy_for_acting()
    assert acting is not agent.policy
    assert {p.dtype for p in acting.encoder.parameters()} == {torch.bfloat16}
    assert acting.head.weight.dtype == torch.float32
    assert {p.dtype for p in agent.policy.parameters()} == {torch.float32}
    fp32_agent = camera_agent("fp32")
    assert fp32_agent._policy_for_acting() is fp32_agent.policy


def test_evaluation_acts_with_the_fp32_policy(played_iterations):
    agent, batches = played_iterations
    greedy = agent.act(batches[-1], deterministic=True)
    np.testing.assert_array_equal(greedy, agent.policy_output(batches[-1]).argmax(axis=1))


@pytest.mark.parametrize("value", ["fp16", "half", "1"])
def test_rollout_precision_names_the_variable_and_the_choices(value):
    with pytest.raises(UpdateOptionsError, match="ROLLOUT_PRECISION") as error:
        rollout_precision({"ROLLOUT_PRECISION": value})
    assert "auto, fp32, bf16" in str(error.value)


def test_rollout_precision_defaults_to_auto():
    assert rollout_precision({}) == "auto"
    assert rollout_precision({"ROLLOUT_PRECISION": " FP32 "}) == "fp32"
