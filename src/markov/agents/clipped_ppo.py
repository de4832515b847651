"""Clipped PPO as DeepRacer trains it: Coach's agent with the simapp's settings
(docs/file-formats.md §11.2).

One call to `ClippedPPOAgent.update` is one training iteration: the episodes the rollout
workers played with the current policy become one batch; GAE advantages and value targets are
computed with the pre-update networks; then `num_epochs` passes of mini-batch Adam steps
minimise `L_V + L_clip - beta * H`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F

from markov.agents.networks import (
    DiscretePolicyNetwork,
    PolicyNetwork,
    ValueNetwork,
    build_policy_network,
)
from markov.agents.update_options import (
    UpdateOptions,
    autocast,
    check_precision,
    resolve_precision,
)
from markov.presets.preset import ExplorationType, Hyperparameters, LossType, NeuralNetwork

GAE_LAMBDA = 0.95
CLIP_EPSILON = 0.2
ADVANTAGE_EPSILON = 1e-8
ADAM_EPSILON = 1e-5
ADAM_BETAS = (0.9, 0.999)
NETWORKS = ("policy", "value")
"""The two networks of the agent, in the order their weights are saved."""
EPSILON_START = 1.0
# Transitions per forward pass when scoring a whole iteration without gradients.
_SCORING_CHUNK = 1024


class AgentInputError(ValueError):
    """Episodes, observations or saved state do not fit this agent."""


@dataclass(frozen=True)
class Episode:
    """One complete episode in time order; its last transition ends the episode.

    observations: sensor name -> array (T, ...); actions: (T,) int64 indices or (T, d) float32;
    rewards: (T,) float32.
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray

    def __post_init__(self) -> None:
        length = len(self.rewards)
        if length == 0:
            raise AgentInputError("Episode.rewards is empty; an episode needs at least one step")
        lengths = {f"observations[{key!r}]": len(value) for key, value in self.observations.items()}
        lengths["actions"] = len(self.actions)
        for name, size in lengths.items():
            if size != length:
                raise AgentInputError(
                    f"Episode.{name} has {size} steps but rewards has {length}; give every "
                    "array one entry per step"
                )

    def __len__(self) -> int:
        return len(self.rewards)


def configure_torch_threads(num_threads: int | None) -> int:
    """Set how many CPU threads torch uses (None keeps the current setting); returns it."""
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise AgentInputError(
                f"num_threads={num_threads!r} is invalid; give a positive integer such as "
                f"{os.cpu_count() or 1}, or None to keep torch's setting"
            )
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn "auto" into CUDA when available (else CPU); pass other names to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def generalized_advantage_estimates(
    rewards: np.ndarray, values: np.ndarray, discount: float, gae_lambda: float = GAE_LAMBDA
) -> np.ndarray:
    """GAE for one complete episode, bootstrapping with value 0 after its last step."""
    next_values = np.append(values[1:], 0.0)
    deltas = rewards + discount * next_values - values
    advantages = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for step in reversed(range(len(rewards))):
        running = deltas[step] + discount * gae_lambda * running
        advantages[step] = running
    return advantages


def minibatch_size(num_transitions: int, batch_size: int) -> int:
    """The mini-batch size: `batch_size`, or the largest power of two <= n for small batches."""
    if num_transitions < 1:
        raise AgentInputError("an update needs at least one transition; pass non-empty episodes")
    if num_transitions <= batch_size:
        return 1 << (num_transitions.bit_length() - 1)
    return batch_size


def epsilon_at(env_steps: int, hyperparameters: Hyperparameters) -> float:
    """e-greedy epsilon: linear from 1.0 to `e_greedy_value` over `epsilon_steps` steps."""
    final = hyperparameters.e_greedy_value
    if hyperparameters.epsilon_steps == 0:
        return final
    progress = min(env_steps / hyperparameters.epsilon_steps, 1.0)
    return EPSILON_START + (final - EPSILON_START) * progress


class ClippedPPOAgent:
    """A Clipped PPO learner and actor for one observation space and action space."""

    def __init__(
        self,
        observation_space: gymnasium.spaces.Dict,
        action_space: gymnasium.spaces.Discrete | gymnasium.spaces.Box,
        neural_network: str,
        hyperparameters: Hyperparameters,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        num_threads: int | None = None,
        update_options: UpdateOptions | None = None,
        acting_precision: str = "fp32",
    ):
        configure_torch_threads(num_threads)
        self.update_options = update_options or UpdateOptions()
        self.observation_space = observation_space
        self.action_space = action_space
        self.neural_network = NeuralNetwork.parse(neural_network)
        self.hyperparameters = hyperparameters
        self.device = resolve_device(device)
        self.env_steps = 0
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.policy: PolicyNetwork = build_policy_network(
                observation_space, action_space, neural_network
            ).to(self.device)
            self.value = ValueNetwork(observation_space, neural_network).to(self.device)
        if self.update_options.channels_last:
            self.policy.to(memory_format=torch.channels_last)
            self.value.to(memory_format=torch.channels_last)
        # bf16 autocast for the gradient steps; scoring stays fp32, acting follows its option.
        self.update_dtype = resolve_precision(self.update_options.precision, self.device)
        self.acting_dtype = resolve_precision(check_precision(acting_precision), self.device)
        self._acting_policy: PolicyNetwork | None = None
        self.is_discrete = isinstance(self.policy, DiscretePolicyNetwork)
        self.optimizer = torch.optim.Adam(
            [*self.policy.parameters(), *self.value.parameters()],
            lr=hyperparameters.lr,
            betas=ADAM_BETAS,
            eps=ADAM_EPSILON,
            fused=self.update_options.fused_optimizer or None,
        )
        self._numpy_rng = np.random.default_rng(seed)
        self._torch_rng = torch.Generator(device=self.device)
        self._torch_rng.manual_seed(
            seed if seed is not None else int(self._numpy_rng.integers(2**62))
        )

    # ----- acting -----------------------------------------------------------------------------

    def act(
        self, observations: Mapping[str, np.ndarray], deterministic: bool = False
    ) -> np.ndarray:
        """Actions for a batch of observations (leading batch axis on every sensor).

        Evaluation (`deterministic=True`) takes the most likely action or the mean. Training
        samples the policy and advances `env_steps` by the batch size. Under e-greedy
        exploration each action is, with probability epsilon, uniformly random; otherwise it is
        the most likely discrete action or a Gaussian sample, as Coach's e-greedy does.
        """
        e_greedy = self.hyperparameters.exploration_type is ExplorationType.E_GREEDY
        greedy = deterministic or (e_greedy and self.is_discrete)
        tensors = self._to_tensors(observations)
        with torch.inference_mode():
            # evaluation acts with the fp32 policy: its laps are the exported model's laps
            policy = self.policy if deterministic else self._policy_for_acting()
            output = policy(tensors)
            if greedy:
                actions = output.argmax(dim=-1) if self.is_discrete else output
            elif self.is_discrete:
                actions = torch.multinomial(output, 1, generator=self._torch_rng).squeeze(-1)
            else:
                noise = torch.randn(output.shape, generator=self._torch_rng, device=self.device)
                actions = output + noise * self.policy.std()
        result = actions.cpu().numpy()
        result = result.astype(np.int64) if self.is_discrete else result.astype(np.float32)
        if not deterministic:
            if e_greedy:
                self._explore_randomly(result)
            self.env_steps += len(result)
        return result

    def act_one(
        self, observation: Mapping[str, np.ndarray], deterministic: bool = False
    ) -> int | np.ndarray:
        """The action for one observation: an index (discrete) or a (d,) float32 array."""
        batch = {key: np.asarray(value)[np.newaxis] for key, value in observation.items()}
        action = self.act(batch, deterministic)[0]
        return int(action) if self.is_discrete else action

    def _policy_for_acting(self) -> PolicyNetwork:
        """The policy, or its copy with a bf16 trunk when sampling in bf16.

        The copy is made once per set of weights: batched inference then reads half the bytes
        and uses the CPU's bf16 units without casting 23 MB of fp32 weights on every call. The
        heads stay fp32, so probabilities and means keep fp32 resolution.
        """
        if self.acting_dtype is None:
            return self.policy
        if self._acting_policy is None:
            acting = copy.deepcopy(self.policy)
            acting.encoder.to(self.acting_dtype)
            self._acting_policy = acting
        return self._acting_policy

    def policy_output(self, observations: Mapping[str, np.ndarray]) -> np.ndarray:
        """The policy network's output for a batch: probabilities (B, n) or means (B, d)."""
        with torch.inference_mode():
            return self.policy(self._to_tensors(observations)).cpu().numpy()

    def epsilon(self) -> float:
        """The current e-greedy epsilon for `env_steps`."""
        return epsilon_at(self.env_steps, self.hyperparameters)

    def _explore_randomly(self, actions: np.ndarray) -> None:
        random_rows = self._numpy_rng.random(len(actions)) < self.epsilon()
        count = int(random_rows.sum())
        if count == 0:
            return
        if self.is_discrete:
            actions[random_rows] = self._numpy_rng.integers(self.action_space.n, size=count)
        else:
            low, high = self.action_space.low, self.action_space.high
            actions[random_rows] = self._numpy_rng.uniform(low, high, (count, *low.shape))

    def _to_tensors(self, observations: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        missing = set(self.observation_space.spaces) - set(observations)
        if missing:
            raise AgentInputError(
                f"observations lack sensor(s) {sorted(missing)}; give every sensor of the "
                f"observation space: {list(self.observation_space.spaces)}"
            )
        return {
            sensor: torch.as_tensor(np.asarray(observations[sensor]), device=self.device)
            for sensor in self.observation_space.spaces
        }

    # ----- learning ---------------------------------------------------------------------------

    def update(
        self, episodes: Sequence[Episode], stop: Callable[[], bool] | None = None
    ) -> dict[str, float]:
        """One policy-update iteration on complete episodes; returns averaged statistics.

        ``stop`` is asked after every epoch; when it returns True the remaining epochs are
        skipped, so a time limit is honoured within one epoch (at least one epoch runs).
        """
        observations, actions = self._batch_tensors(episodes)
        old_log_probs, old_values = self._score_without_gradients(observations, actions)

        advantages, value_targets = self._advantages_and_targets(episodes, old_values)
        num_transitions = len(advantages)
        size = minibatch_size(num_transitions, self.hyperparameters.batch_size)
        # Shuffled once per iteration, as Coach does: every epoch walks the same order.
        order = torch.as_tensor(self._numpy_rng.permutation(num_transitions), device=self.device)
        totals: dict[str, torch.Tensor] = {}
        num_steps = 0
        epochs = 0
        for _ in range(self.hyperparameters.num_epochs):
            if epochs and stop is not None and stop():
                break
            epochs += 1
            for start in range(0, num_transitions - size + 1, size):
                rows = order[start : start + size]
                step_stats = self._gradient_step(
                    {sensor: values[rows] for sensor, values in observations.items()},
                    actions[rows],
                    old_log_probs[rows],
                    advantages[rows],
                    value_targets[rows],
                )
                for name, value in step_stats.items():
                    totals[name] = totals[name] + value if name in totals else value
                num_steps += 1
        self._acting_policy = None  # the weights changed
        stats = {name: total.item() / num_steps for name, total in totals.items()}
        stats["learning_rate"] = float(self.optimizer.param_groups[0]["lr"])
        stats["n_transitions"] = float(num_transitions)
        return stats

    def _batch_tensors(
        self, episodes: Sequence[Episode]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """All episodes' observations and actions, concatenated in order, on the device."""
        if not episodes:
            raise AgentInputError("update() got no episodes; pass at least one Episode")
        sensors = list(self.observation_space.spaces)
        action_shape = () if self.is_discrete else tuple(self.action_space.shape)
        num_actions = int(self.action_space.n) if self.is_discrete else 0
        for index, episode in enumerate(episodes):
            if sorted(episode.observations) != sorted(sensors):
                raise AgentInputError(
                    f"episode {index} has sensors {sorted(episode.observations)}; this agent "
                    f"expects {sorted(sensors)}"
                )
            if np.shape(episode.actions)[1:] != action_shape:
                raise AgentInputError(
                    f"episode {index} has actions of shape {np.shape(episode.actions)}; this "
                    f"agent expects (T, *{action_shape}) for {self.action_space}"
                )
            indices = np.asarray(episode.actions)
            if self.is_discrete and not np.all((indices >= 0) & (indices < num_actions)):
                raise AgentInputError(
                    f"episode {index} has action indices outside 0..{num_actions - 1}; give "
                    "indices into the model's action list"
                )
        observations = self._to_tensors(
            {
                sensor: np.concatenate([episode.observations[sensor] for episode in episodes])
                for sensor in sensors
            }
        )
        actions = torch.as_tensor(np.concatenate([e.actions for e in episodes]), device=self.device)
        return observations, (actions.long() if self.is_discrete else actions.float())

    def _score_without_gradients(
        self, observations: dict[str, torch.Tensor], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and values under the pre-update (target) networks."""
        log_probs, values = [], []
        with torch.no_grad():
            for start in range(0, len(actions), _SCORING_CHUNK):
                rows = slice(start, start + _SCORING_CHUNK)
                chunk = {sensor: tensor[rows] for sensor, tensor in observations.items()}
                log_probs.append(self._log_prob(chunk, actions[rows])[0])
                values.append(self.value(chunk))
        return torch.cat(log_probs), torch.cat(values)

    def _advantages_and_targets(
        self, episodes: Sequence[Episode], old_values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised GAE advantages and value targets (raw GAE + V_old), per transition."""
        values = old_values.cpu().double().numpy()
        advantages = np.empty(len(values))
        start = 0
        for episode in episodes:
            end = start + len(episode)
            advantages[start:end] = generalized_advantage_estimates(
                np.asarray(episode.rewards, dtype=np.float64),
                values[start:end],
                self.hyperparameters.discount_factor,
            )
            start = end
        targets = advantages + values
        standardised = (advantages - advantages.mean()) / (advantages.std() + ADVANTAGE_EPSILON)
        return (
            torch.as_tensor(standardised, dtype=torch.float32, device=self.device),
            torch.as_tensor(targets, dtype=torch.float32, device=self.device),
        )

    def _log_prob(
        self, observations: dict[str, torch.Tensor], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-transition log-probabilities of `actions` and the policy entropy."""
        distribution = self.policy.distribution(observations)
        log_probs = distribution.log_prob(actions)
        entropy = distribution.entropy()
        if not self.is_discrete:
            log_probs, entropy = log_probs.sum(dim=-1), entropy.sum(dim=-1)
        return log_probs, entropy

    def _gradient_step(
        self,
        observations: dict[str, torch.Tensor],
        actions: torch.Tensor,
        old_log_probs: torch.Tensor,
        advantages: torch.Tensor,
        value_targets: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """One Adam step on `L_V + L_clip - beta * H`; returns the detached loss terms."""
        with autocast(self.device, self.update_dtype):
            log_probs, entropy = self._log_prob(observations, actions)
            predicted_values = self.value(observations)
        log_ratio = log_probs - old_log_probs
        ratio = log_ratio.exp()
        clipped_ratio = ratio.clamp(1.0 - CLIP_EPSILON, 1.0 + CLIP_EPSILON)
        surrogate_loss = -torch.min(ratio * advantages, clipped_ratio * advantages).mean()
        if self.hyperparameters.loss_type is LossType.HUBER:
            value_loss = F.huber_loss(predicted_values, value_targets, delta=1.0)
        else:
            value_loss = F.mse_loss(predicted_values, value_targets)
        mean_entropy = entropy.mean()
        loss = value_loss + surrogate_loss - self.hyperparameters.beta_entropy * mean_entropy

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

        with torch.no_grad():
            # k3 estimator of KL(old || new): unbiased and never negative.
            approx_kl = ((ratio - 1.0) - log_ratio).mean()
            clip_fraction = ((ratio - 1.0).abs() > CLIP_EPSILON).float().mean()
        return {
            "surrogate_loss": surrogate_loss.detach(),
            "value_loss": value_loss.detach(),
            "entropy": mean_entropy.detach(),
            "kl_divergence": approx_kl,
            "clip_fraction": clip_fraction,
        }

    # ----- saving and loading -----------------------------------------------------------------

    def _networks(self, names: Sequence[str]) -> list[tuple[str, torch.nn.Module]]:
        known = {"policy": self.policy, "value": self.value}
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise AgentInputError(f"networks {list(names)!r}; name one or both of {sorted(known)}")
        return [(name, known[name]) for name in names]

    def state_tensors(self, networks: Sequence[str] = NETWORKS) -> dict[str, torch.Tensor]:
        """The weights of ``networks`` as contiguous CPU tensors, prefixed `policy.`/`value.`.

        Rollout workers and evaluation need only the policy; the value network matters only to
        the trainer, so checkpoints hold the policy and the trainer's state the value network.
        """
        tensors = {}
        for prefix, network in self._networks(networks):
            for name, tensor in network.state_dict().items():
                tensors[f"{prefix}.{name}"] = tensor.detach().cpu().contiguous()
        return tensors

    def load_state_tensors(
        self, tensors: Mapping[str, torch.Tensor], networks: Sequence[str] = NETWORKS
    ) -> None:
        """Load `state_tensors(networks)` output, checking names and shapes first."""
        expected = self.state_tensors(networks)
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing or unexpected:
            raise AgentInputError(
                f"the weights do not fit this {self.neural_network.value} agent: missing "
                f"{missing[:5]}, unexpected {unexpected[:5]}; load weights saved by an agent with "
                "the same neural_network, sensors and action space"
            )
        for name, own in expected.items():
            if tuple(tensors[name].shape) != tuple(own.shape):
                raise AgentInputError(
                    f"weight {name!r} has shape {tuple(tensors[name].shape)} in the checkpoint "
                    f"but {tuple(own.shape)} in this {self.neural_network.value} agent; "
                    "the checkpoint was trained with another neural_network, sensor set or "
                    "action space, so build the agent from that model's model_metadata.json"
                )
        for prefix, network in self._networks(networks):
            start = len(prefix) + 1
            own = {name[start:]: t for name, t in tensors.items() if name.startswith(prefix + ".")}
            network.load_state_dict(own)
        self._acting_policy = None

    def save_weights(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights as a safetensors file, atomically; returns the path."""
        target = Path(path)
        metadata = {"neural_network": self.neural_network.value}
        with atomic_output_path(target) as temporary:
            safetensors.torch.save_file(self.state_tensors(), str(temporary), metadata=metadata)
        return target

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load weights written by `save_weights`."""
        self.load_state_tensors(safetensors.torch.load_file(str(path)))

    def optimizer_state(self) -> dict[str, Any]:
        """Adam's moments and step counts plus `env_steps`, loadable with weights_only=True."""
        return {"adam": self.optimizer.state_dict(), "env_steps": self.env_steps}

    def load_optimizer_state(self, state: Mapping[str, Any]) -> None:
        """Restore `optimizer_state()` output; the learning rate stays the hyperparameter's."""
        if set(state) != {"adam", "env_steps"}:
            raise AgentInputError(
                f"optimizer state has keys {sorted(state)}; expected ['adam', 'env_steps'] as "
                "written by ClippedPPOAgent.optimizer_state()"
            )
        self.optimizer.load_state_dict(state["adam"])
        for group in self.optimizer.param_groups:
            group["lr"] = self.hyperparameters.lr
        self.env_steps = int(state["env_steps"])


@contextlib.contextmanager
def atomic_output_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target` that replaces it only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
