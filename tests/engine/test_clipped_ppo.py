"""DeepRacer's networks, the Clipped PPO learner, its saved state and the ONNX export."""

import json
import tarfile

import gymnasium as gym
import numpy as np
import onnxruntime
import pytest
import torch

from markov.agents import (
    AgentInputError,
    ClippedPPOAgent,
    Episode,
    configure_torch_threads,
    export_model_archive,
    export_onnx,
    generalized_advantage_estimates,
    minibatch_size,
)
from markov.agents.networks import ObservationEncoder
from markov.presets import HyperparameterError, Hyperparameters

SHALLOW = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
STANDARD = "DEEP_CONVOLUTIONAL_NETWORK"
DEEP = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"

CAMERA = gym.spaces.Box(0, 255, (120, 160, 1), np.uint8)
STEREO = gym.spaces.Box(0, 255, (120, 160, 2), np.uint8)
LIDAR = gym.spaces.Box(0.15, 1.0, (64,), np.float32)
SECTOR_LIDAR = gym.spaces.Box(0.0, 1.0, (8,), np.float32)
CONTINUOUS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

SENSOR_SETS = {
    "camera": {"FRONT_FACING_CAMERA": CAMERA},
    "stereo": {"STEREO_CAMERAS": STEREO},
    "lidar": {"LIDAR": LIDAR},
    "camera+lidar": {"FRONT_FACING_CAMERA": CAMERA, "LIDAR": LIDAR},
}
MIDDLEWARE_WIDTH = {SHALLOW: 512, STANDARD: 512, DEEP: 128}


def sample_batch(space: gym.spaces.Dict, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    space.seed(seed)
    samples = [space.sample() for _ in range(size)]
    return {key: np.stack([sample[key] for sample in samples]) for key in space.spaces}


def one_hot_lidar(targets: np.ndarray) -> np.ndarray:
    observations = np.zeros((len(targets), 8), np.float32)
    observations[np.arange(len(targets)), targets] = 1.0
    return observations


def lidar_agent(action_space, **hyperparameters) -> ClippedPPOAgent:
    space = gym.spaces.Dict({"SECTOR_LIDAR": SECTOR_LIDAR})
    return ClippedPPOAgent(space, action_space, SHALLOW, Hyperparameters(**hyperparameters), seed=0)


# ----- networks -----------------------------------------------------------------------------


@pytest.mark.parametrize("network", [SHALLOW, STANDARD, DEEP])
@pytest.mark.parametrize("sensors", list(SENSOR_SETS))
def test_encoder_output_shape_for_every_network_and_sensor_set(network, sensors):
    space = gym.spaces.Dict(SENSOR_SETS[sensors])
    encoder = ObservationEncoder(space, network)
    batch = {key: torch.as_tensor(value) for key, value in sample_batch(space, 2).items()}
    with torch.no_grad():
        assert encoder(batch).shape == (2, MIDDLEWARE_WIDTH[network])


def test_shallow_camera_convolutions_end_at_11_by_16_by_64():
    encoder = ObservationEncoder(gym.spaces.Dict({"FRONT_FACING_CAMERA": CAMERA}), SHALLOW)
    assert encoder.embedders["FRONT_FACING_CAMERA"].conv_output_shape == (11, 16, 64)


def test_standard_stereo_uses_the_stereo_convolutions():
    encoder = ObservationEncoder(gym.spaces.Dict({"STEREO_CAMERAS": STEREO}), STANDARD)
    assert encoder.embedders["STEREO_CAMERAS"].conv_output_shape == (25, 35, 128)


def test_unknown_network_lists_the_three_names():
    with pytest.raises(HyperparameterError) as error:
        ObservationEncoder(gym.spaces.Dict({"LIDAR": LIDAR}), "RESNET_50")
    for name in (SHALLOW, STANDARD, DEEP):
        assert name in str(error.value)


def test_unknown_sensor_is_rejected():
    with pytest.raises(ValueError, match="'RADAR'"):
        ObservationEncoder(gym.spaces.Dict({"RADAR": LIDAR}), SHALLOW)


# ----- learning -----------------------------------------------------------------------------


def test_discrete_updates_raise_the_probability_of_the_rewarded_action():
    agent = lidar_agent(gym.spaces.Discrete(3))
    rng = np.random.default_rng(1)
    probe = {"SECTOR_LIDAR": one_hot_lidar(np.arange(3))}
    before = np.diag(agent.policy_output(probe))
    for _ in range(8):
        episodes = []
        for _ in range(20):
            targets = rng.integers(0, 3, rng.integers(1, 6))
            observations = {"SECTOR_LIDAR": one_hot_lidar(targets)}
            actions = agent.act(observations)
            rewards = (actions == targets).astype(np.float32)
            episodes.append(Episode(observations, actions, rewards))
        stats = agent.update(episodes)
    after = np.diag(agent.policy_output(probe))
    assert np.all(before < 0.4)
    assert np.all(after > 0.6)
    assert set(stats) == {
        "surrogate_loss", "value_loss", "entropy", "kl_divergence", "clip_fraction",
        "learning_rate", "n_transitions",
    }
    assert stats["learning_rate"] == pytest.approx(0.0003)


def test_continuous_updates_move_the_mean_towards_the_rewarded_target():
    agent = lidar_agent(CONTINUOUS, lr=0.001, discount_factor=0.0)
    rng = np.random.default_rng(1)
    target = np.array([0.5, -0.3], np.float32)
    probe = {"SECTOR_LIDAR": np.full((1, 8), 0.5, np.float32)}
    distance_before = np.linalg.norm(agent.policy_output(probe)[0] - target)
    for _ in range(8):
        episodes = []
        for _ in range(40):
            observations = {"SECTOR_LIDAR": np.full((rng.integers(1, 4), 8), 0.5, np.float32)}
            actions = agent.act(observations)
            rewards = -((actions - target) ** 2).sum(axis=1).astype(np.float32)
            episodes.append(Episode(observations, actions, rewards))
        agent.update(episodes)
    distance_after = np.linalg.norm(agent.policy_output(probe)[0] - target)
    assert distance_after < 0.6 * distance_before


def test_gae_matches_a_hand_computation():
    rewards = np.array([1.0, 0.0, 2.0])
    values = np.array([0.5, 1.0, 1.5])
    gamma, lam = 0.9, 0.95
    delta_2 = 2.0 + gamma * 0.0 - 1.5  # the episode ends: bootstrap value 0
    delta_1 = 0.0 + gamma * 1.5 - 1.0
    delta_0 = 1.0 + gamma * 1.0 - 0.5
    expected = [
        delta_0 + gamma * lam * delta_1 + (gamma * lam) ** 2 * delta_2,
        delta_1 + gamma * lam * delta_2,
        delta_2,
    ]
    advantages = generalized_advantage_estimates(rewards, values, gamma, lam)
    np.testing.assert_allclose(advantages, expected)


@pytest.mark.parametrize(
    ("transitions", "batch_size", "expected"),
    [(1, 64, 1), (37, 64, 32), (64, 64, 64), (65, 64, 64), (1000, 64, 64)],
)
def test_minibatch_size_uses_largest_power_of_two_for_small_iterations(
    transitions, batch_size, expected
):
    assert minibatch_size(transitions, batch_size) == expected


@pytest.mark.parametrize(("transitions", "adam_steps"), [(37, 3), (130, 6)])
def test_update_runs_floor_n_over_batch_minibatches_per_epoch(transitions, adam_steps):
    agent = lidar_agent(gym.spaces.Discrete(3), num_epochs=3)
    targets = np.arange(transitions) % 3
    observations = {"SECTOR_LIDAR": one_hot_lidar(targets)}
    episode = Episode(observations, targets, np.ones(transitions, np.float32))
    stats = agent.update([episode])
    assert stats["n_transitions"] == transitions
    assert agent.optimizer_state()["adam"]["state"][0]["step"] == adam_steps


def test_episode_with_inconsistent_lengths_is_rejected():
    with pytest.raises(AgentInputError, match="actions has 2 steps but rewards has 3"):
        Episode({"SECTOR_LIDAR": np.zeros((3, 8), np.float32)}, np.zeros(2), np.zeros(3))


def test_update_rejects_episodes_with_other_sensors():
    agent = lidar_agent(gym.spaces.Discrete(3))
    episode = Episode({"LIDAR": np.zeros((2, 64), np.float32)}, np.zeros(2, np.int64), np.zeros(2))
    with pytest.raises(AgentInputError, match="SECTOR_LIDAR"):
        agent.update([episode])


def test_update_rejects_action_indices_outside_the_action_list():
    agent = lidar_agent(gym.spaces.Discrete(3))
    episode = Episode({"SECTOR_LIDAR": np.zeros((2, 8), np.float32)}, np.array([0, 3]), np.zeros(2))
    with pytest.raises(AgentInputError, match=r"outside 0\.\.2"):
        agent.update([episode])


# ----- acting -------------------------------------------------------------------------------


def test_deterministic_action_is_the_argmax_and_does_not_count_steps():
    agent = lidar_agent(gym.spaces.Discrete(5))
    batch = sample_batch(agent.observation_space, 16)
    np.testing.assert_array_equal(
        agent.act(batch, deterministic=True), agent.policy_output(batch).argmax(axis=1)
    )
    assert agent.env_steps == 0
    single = {key: value[0] for key, value in batch.items()}
    assert agent.act_one(single, deterministic=True) == agent.policy_output(batch)[0].argmax()


def test_continuous_deterministic_action_is_the_mean():
    agent = lidar_agent(CONTINUOUS)
    batch = sample_batch(agent.observation_space, 4)
    np.testing.assert_allclose(agent.act(batch, deterministic=True), agent.policy_output(batch))


def test_e_greedy_epsilon_decays_linearly_with_env_steps():
    agent = lidar_agent(
        gym.spaces.Discrete(3), exploration_type="e-greedy", e_greedy_value=0.1, epsilon_steps=100
    )
    batch = sample_batch(agent.observation_space, 50)
    assert agent.epsilon() == pytest.approx(1.0)
    agent.act(batch)
    assert agent.env_steps == 50
    assert agent.epsilon() == pytest.approx(0.55)
    agent.act(batch)
    agent.act(batch)
    assert agent.epsilon() == pytest.approx(0.1)


def test_e_greedy_after_the_decay_to_zero_is_greedy():
    agent = lidar_agent(
        gym.spaces.Discrete(5), exploration_type="e-greedy", e_greedy_value=0.0, epsilon_steps=0
    )
    batch = sample_batch(agent.observation_space, 32)
    np.testing.assert_array_equal(agent.act(batch), agent.policy_output(batch).argmax(axis=1))


def test_e_greedy_at_epsilon_one_picks_uniformly_random_actions():
    agent = lidar_agent(gym.spaces.Discrete(3), exploration_type="e-greedy", epsilon_steps=10**9)
    observations = {"SECTOR_LIDAR": np.zeros((3000, 8), np.float32)}
    counts = np.bincount(agent.act(observations), minlength=3)
    assert np.all(np.abs(counts / 3000 - 1 / 3) < 0.05)


def test_thread_helper_keeps_the_setting_for_none_and_rejects_zero():
    assert configure_torch_threads(None) == torch.get_num_threads()
    with pytest.raises(AgentInputError, match="num_threads=0"):
        configure_torch_threads(0)


# ----- saving and loading -------------------------------------------------------------------


def test_weights_round_trip_through_safetensors(tmp_path):
    trained = lidar_agent(gym.spaces.Discrete(3))
    with torch.no_grad():
        trained.policy.head.bias.copy_(torch.tensor([0.0, 3.0, -3.0]))
    path = trained.save_weights(tmp_path / "model.safetensors")
    fresh = ClippedPPOAgent(
        trained.observation_space, trained.action_space, SHALLOW, Hyperparameters(), seed=7
    )
    fresh.load_weights(path)
    batch = sample_batch(trained.observation_space, 8)
    np.testing.assert_array_equal(
        fresh.act(batch, deterministic=True), trained.act(batch, deterministic=True)
    )
    np.testing.assert_array_equal(fresh.policy_output(batch), trained.policy_output(batch))


def test_loading_weights_of_another_action_space_names_the_tensor_and_shapes(tmp_path):
    path = lidar_agent(gym.spaces.Discrete(3)).save_weights(tmp_path / "model.safetensors")
    other = lidar_agent(gym.spaces.Discrete(5))
    with pytest.raises(AgentInputError, match=r"'policy\.head\.weight'.*\(3, 512\).*\(5, 512\)"):
        other.load_weights(path)


def test_loading_weights_of_another_network_is_rejected(tmp_path):
    path = lidar_agent(gym.spaces.Discrete(3)).save_weights(tmp_path / "model.safetensors")
    deep = ClippedPPOAgent(
        gym.spaces.Dict({"SECTOR_LIDAR": SECTOR_LIDAR}), gym.spaces.Discrete(3), DEEP,
        Hyperparameters(),
    )
    with pytest.raises(AgentInputError, match="same neural_network"):
        deep.load_weights(path)


def test_optimizer_state_round_trips_through_torch_save(tmp_path):
    agent = lidar_agent(gym.spaces.Discrete(3))
    observations = {"SECTOR_LIDAR": one_hot_lidar(np.arange(10) % 3)}
    agent.update([Episode(observations, agent.act(observations), np.ones(10, np.float32))])
    path = tmp_path / "optimizer.pt"
    torch.save(agent.optimizer_state(), path)
    restored = lidar_agent(gym.spaces.Discrete(3), lr=0.001)
    restored.load_optimizer_state(torch.load(path, weights_only=True))
    assert restored.env_steps == 10
    original_state = agent.optimizer.state_dict()["state"]
    restored_state = restored.optimizer.state_dict()["state"]
    for index, moments in original_state.items():
        torch.testing.assert_close(restored_state[index]["exp_avg"], moments["exp_avg"])
    assert restored.optimizer.param_groups[0]["lr"] == 0.001


# ----- export -------------------------------------------------------------------------------


@pytest.mark.parametrize("action_space", [gym.spaces.Discrete(5), CONTINUOUS])
def test_onnx_export_reproduces_the_torch_policy(tmp_path, action_space):
    space = gym.spaces.Dict({"FRONT_FACING_CAMERA": CAMERA, "LIDAR": LIDAR})
    agent = ClippedPPOAgent(space, action_space, SHALLOW, Hyperparameters(), seed=3)
    session = onnxruntime.InferenceSession(str(export_onnx(agent, tmp_path / "model.onnx")))
    assert [node.name for node in session.get_inputs()] == list(space.spaces)
    batch = sample_batch(space, 4, seed=5)
    (onnx_policy,) = session.run(["policy"], batch)
    torch_policy = agent.policy_output(batch)
    np.testing.assert_allclose(onnx_policy, torch_policy, rtol=1e-4, atol=1e-6)
    if isinstance(action_space, gym.spaces.Discrete):
        np.testing.assert_array_equal(
            onnx_policy.argmax(axis=1), agent.act(batch, deterministic=True)
        )


def test_model_archive_holds_onnx_metadata_and_weights(tmp_path):
    agent = lidar_agent(gym.spaces.Discrete(3))
    metadata = {"sensor": ["SECTOR_LIDAR"], "neural_network": SHALLOW, "version": "5"}
    path = export_model_archive(agent, metadata, tmp_path / "model.tar.gz")
    with tarfile.open(path) as archive:
        assert set(archive.getnames()) == {"model.onnx", "model_metadata.json"}
        assert json.load(archive.extractfile("model_metadata.json")) == metadata
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz"]
