"""Policy and value networks for each DeepRacer `neural_network` value (docs/file-formats.md §11.1).

Every network embeds each sensor separately (cameras with a convolution stack, lidars with a
small MLP), concatenates the embeddings and passes them through a dense middleware. All
activations are ReLU and convolutions use 'valid' padding. The value and policy networks each
own a full copy of this trunk, as DeepRacer builds them (separate networks per head).
"""

from __future__ import annotations

import math

import gymnasium
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from markov.agents.update_options import full_precision
from markov.presets.preset import NeuralNetwork

CAMERA_SENSORS = frozenset({"FRONT_FACING_CAMERA", "LEFT_CAMERA", "observation"})
STEREO_SENSOR = "STEREO_CAMERAS"
LIDAR_SENSORS = frozenset({"LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR"})

PROBABILITY_FLOOR = 1e-8
LOG_STD_MIN = -20.0
LOG_STD_MAX = 3.0
MEAN_INIT_SCALE = 0.01
VALUE_INIT_SCALE = 1.0

# (out_channels, kernel, stride) per convolution, then the dense widths after flattening.
_ConvSpec = tuple[int, int, int]
_CAMERA_CONVS: dict[NeuralNetwork, list[_ConvSpec]] = {
    NeuralNetwork.SHALLOW: [(32, 8, 4), (64, 4, 2), (64, 3, 1)],
    NeuralNetwork.STANDARD: [(32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)],
    NeuralNetwork.DEEP: [(32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)],
}
_CAMERA_DENSE: dict[NeuralNetwork, list[int]] = {
    NeuralNetwork.SHALLOW: [],
    NeuralNetwork.STANDARD: [64],
    NeuralNetwork.DEEP: [512, 512],
}
_STEREO_CONVS: list[_ConvSpec] = [(32, 3, 1), (64, 3, 2), (64, 3, 1), (128, 3, 2), (128, 3, 1)]
_LIDAR_DENSE = [256, 256]
_MIDDLEWARE_DENSE: dict[NeuralNetwork, list[int]] = {
    NeuralNetwork.SHALLOW: [512],
    NeuralNetwork.STANDARD: [512],
    NeuralNetwork.DEEP: [256, 128],
}


class UnsupportedSpaceError(ValueError):
    """The observation or action space cannot be mapped onto DeepRacer's networks."""


def _init_glorot(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases: the TensorFlow defaults Coach builds with."""
    if isinstance(module, nn.Linear | nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def _init_normalized_rows(layer: nn.Linear, scale: float) -> None:
    """Gaussian weights rescaled so each output unit's weight vector has norm `scale`."""
    with torch.no_grad():
        weight = torch.randn_like(layer.weight)
        layer.weight.copy_(weight * (scale / weight.norm(dim=1, keepdim=True)))
        layer.bias.zero_()


def _dense_stack(in_features: int, widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers)


class CameraEmbedder(nn.Module):
    """Embeds uint8 (B, H, W, C) images: scale to [0, 1] CHW, convolve, flatten, dense."""

    def __init__(self, image_shape: tuple[int, ...], convs: list[_ConvSpec], dense: list[int]):
        super().__init__()
        height, width, channels = image_shape
        layers: list[nn.Module] = []
        for out_channels, kernel, stride in convs:
            # In-place ReLU: a convolution's backward needs its input, not its output.
            layers += [nn.Conv2d(channels, out_channels, kernel, stride), nn.ReLU(inplace=True)]
            channels = out_channels
            height = (height - kernel) // stride + 1
            width = (width - kernel) // stride + 1
        if height < 1 or width < 1:
            raise UnsupportedSpaceError(
                f"image shape {image_shape} is too small for this network's convolutions; "
                "use the simapp's 120 x 160 images"
            )
        self.conv_output_shape = (height, width, channels)
        self.convs = nn.Sequential(*layers)
        self.dense = _dense_stack(height * width * channels, dense)
        self.output_size = dense[-1] if dense else height * width * channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # the weights' dtype: fp32, or bf16 in a rollout worker's acting copy
        dtype = self.convs[0].weight.dtype
        scaled = images.permute(0, 3, 1, 2).to(dtype, copy=True).div_(255.0)
        return self.dense(self.convs(scaled).flatten(start_dim=1))


class LidarEmbedder(nn.Module):
    """Embeds a lidar vector (B, n) with Dense 256 -> Dense 256."""

    def __init__(self, size: int):
        super().__init__()
        self.dense = _dense_stack(size, _LIDAR_DENSE)
        self.output_size = _LIDAR_DENSE[-1]

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        dtype = self.dense[0].weight.dtype
        return self.dense(vectors.to(dtype).flatten(start_dim=1))


def build_sensor_embedder(
    sensor: str, space: gymnasium.spaces.Box, neural_network: NeuralNetwork
) -> CameraEmbedder | LidarEmbedder:
    """The embedder DeepRacer uses for one sensor under the given network."""
    shape = tuple(space.shape)
    if sensor == STEREO_SENSOR and neural_network is not NeuralNetwork.SHALLOW:
        return CameraEmbedder(shape, _STEREO_CONVS, [])
    if sensor in CAMERA_SENSORS or sensor == STEREO_SENSOR:
        return CameraEmbedder(shape, _CAMERA_CONVS[neural_network], _CAMERA_DENSE[neural_network])
    if sensor in LIDAR_SENSORS:
        return LidarEmbedder(math.prod(shape))
    known = ", ".join(sorted(CAMERA_SENSORS | LIDAR_SENSORS | {STEREO_SENSOR}))
    raise UnsupportedSpaceError(
        f"observation key {sensor!r} is not a DeepRacer sensor; use sensor names from: {known}"
    )


class ObservationEncoder(nn.Module):
    """Embeds every sensor, concatenates the embeddings and applies the middleware."""

    def __init__(self, observation_space: gymnasium.spaces.Dict, neural_network: str):
        super().__init__()
        network = NeuralNetwork.parse(neural_network)
        if len(observation_space.spaces) == 0:
            raise UnsupportedSpaceError(
                "the observation space has no sensors; give at least one camera or lidar"
            )
        self.sensors = list(observation_space.spaces)
        self.embedders = nn.ModuleDict(
            {
                sensor: build_sensor_embedder(sensor, space, network)
                for sensor, space in observation_space.spaces.items()
            }
        )
        embedding_size = sum(embedder.output_size for embedder in self.embedders.values())
        widths = _MIDDLEWARE_DENSE[network]
        self.middleware = _dense_stack(embedding_size, widths)
        self.output_size = widths[-1]
        self.apply(_init_glorot)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        embeddings = [self.embedders[sensor](observations[sensor]) for sensor in self.sensors]
        return self.middleware(torch.cat(embeddings, dim=1))


class ValueNetwork(nn.Module):
    """State-value estimate V(s) with its own encoder; the head starts with unit-norm weights."""

    def __init__(self, observation_space: gymnasium.spaces.Dict, neural_network: str):
        super().__init__()
        self.encoder = ObservationEncoder(observation_space, neural_network)
        self.head = nn.Linear(self.encoder.output_size, 1)
        _init_normalized_rows(self.head, VALUE_INIT_SCALE)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Values with shape (B,), computed by an fp32 head."""
        features = self.encoder(observations)
        with full_precision(features.device):
            return self.head(features.float()).squeeze(-1)


class DiscretePolicyNetwork(nn.Module):
    """Action probabilities over a discrete action list.

    Probabilities are floored at 1e-8 and renormalised so that they still sum to one. The
    floor keeps log-probabilities finite, so the PPO ratio never divides by zero.
    """

    def __init__(
        self, observation_space: gymnasium.spaces.Dict, neural_network: str, num_actions: int
    ):
        super().__init__()
        self.encoder = ObservationEncoder(observation_space, neural_network)
        self.head = nn.Linear(self.encoder.output_size, num_actions)
        _init_glorot(self.head)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Probabilities with shape (B, n): the `policy` output of the exported model."""
        features = self.encoder(observations)
        with full_precision(features.device):
            probabilities = torch.softmax(self.head(features.float()), dim=-1)
            floored = probabilities.clamp_min(PROBABILITY_FLOOR)
            return floored / floored.sum(dim=-1, keepdim=True)

    def distribution(self, observations: dict[str, torch.Tensor]) -> Categorical:
        """The categorical action distribution for training."""
        return Categorical(probs=self(observations), validate_args=False)


class GaussianPolicyNetwork(nn.Module):
    """A diagonal Gaussian in the normalised [-1, 1] action box.

    The mean is a linear head whose weight rows start with norm 0.01, so initial means are near
    zero; the log standard deviation is one learned vector shared by all states, clipped to
    [-20, 3]. Samples are not clipped here: the environment clips them to the box.
    """

    def __init__(
        self, observation_space: gymnasium.spaces.Dict, neural_network: str, action_size: int
    ):
        super().__init__()
        self.encoder = ObservationEncoder(observation_space, neural_network)
        self.mean_head = nn.Linear(self.encoder.output_size, action_size)
        _init_normalized_rows(self.mean_head, MEAN_INIT_SCALE)
        self.log_std = nn.Parameter(torch.zeros(action_size))

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Means with shape (B, action_size): the `policy` output of the exported model."""
        features = self.encoder(observations)
        with full_precision(features.device):
            return self.mean_head(features.float())

    def std(self) -> torch.Tensor:
        """The clipped standard deviation, shape (action_size,)."""
        return self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()

    def distribution(self, observations: dict[str, torch.Tensor]) -> Normal:
        """The per-dimension Gaussian; sum log-probabilities over the last axis."""
        mean = self(observations)
        return Normal(mean, self.std().expand_as(mean), validate_args=False)


PolicyNetwork = DiscretePolicyNetwork | GaussianPolicyNetwork


def build_policy_network(
    observation_space: gymnasium.spaces.Dict,
    action_space: gymnasium.spaces.Discrete | gymnasium.spaces.Box,
    neural_network: str,
) -> PolicyNetwork:
    """The policy network matching a Discrete action list or a continuous Box."""
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return DiscretePolicyNetwork(observation_space, neural_network, int(action_space.n))
    if isinstance(action_space, gymnasium.spaces.Box) and len(action_space.shape) == 1:
        return GaussianPolicyNetwork(observation_space, neural_network, action_space.shape[0])
    raise UnsupportedSpaceError(
        f"action_space={action_space} is not supported; use gymnasium.spaces.Discrete(n) or a "
        "1-D Box such as Box(-1, 1, (2,))"
    )
