"""The Nature-DQN networks, with every layer reachable by a flat name.

    obs uint8 [B, 4, 84, 84] -> scale -> conv1 (32, 8x8/4) -> conv2 (64, 4x4/2) -> conv3 (64, 3x3/1)
    -> flatten -> fc (3136 -> 512) -> hidden (ReLU, the default SAE site) -> head (512 -> n_actions)

With ``layer_norm=True`` (PQN's choice, Gallici et al. 2024) a LayerNorm follows each conv and fc
before its ReLU. Parameters for 9 actions: 1,688,745 without LayerNorm, 1,732,009 with.
Because the head is linear, Q = W_head @ hidden + b_head exactly: an SAE feature's push on each
action is its decoder direction through W_head.

``ActorCritic`` (PPO's network) is the same trunk up to ``hidden`` with two linear heads on it: ``actor``
(512 -> n_actions policy logits, what its forward returns) and ``critic`` (512 -> 1, the state's value).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

HIDDEN_LAYER = "hidden"


class Scale(nn.Module):
    """uint8 pixels -> floats in [0, 1]."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float() / 255.0


def trunk(layer_norm: bool) -> list[tuple[str, nn.Module]]:
    """The named layers from the pixels to ``hidden``, the 512-unit post-ReLU layer."""
    def block(name: str, layer: nn.Module, shape: list[int]) -> list[tuple[str, nn.Module]]:
        norm = [(f"{name}_norm", nn.LayerNorm(shape))] if layer_norm else []
        act = HIDDEN_LAYER if name == "fc" else f"{name}_relu"
        return [(name, layer), *norm, (act, nn.ReLU())]

    return [
        ("scale", Scale()),
        *block("conv1", nn.Conv2d(4, 32, 8, stride=4), [32, 20, 20]),
        *block("conv2", nn.Conv2d(32, 64, 4, stride=2), [64, 9, 9]),
        *block("conv3", nn.Conv2d(64, 64, 3, stride=1), [64, 7, 7]),
        ("flatten", nn.Flatten()),
        *block("fc", nn.Linear(3136, 512), [512]),
    ]


class QNetwork(nn.Sequential):
    """Nature-DQN as a flat nn.Sequential: ``model.get_submodule("hidden")`` is the 512-unit layer."""

    output = "q-values"
    head_name, value_name = "head", None

    def __init__(self, n_actions: int, layer_norm: bool = True):
        super().__init__(OrderedDict([*trunk(layer_norm), ("head", nn.Linear(512, n_actions))]))
        self.n_actions = n_actions
        self.layer_norm = layer_norm


class ActorCritic(nn.Module):
    """An actor-critic on the Nature trunk (CleanRL ppo_atari's network): ``forward`` gives the policy's
    logits, ``logits_and_value`` both heads from one pass. Orthogonal initialisation as CleanRL's: gain
    sqrt(2) in the trunk, 0.01 for the actor (a near-uniform first policy), 1 for the critic."""

    output = "policy"
    head_name, value_name = "actor", "critic"

    def __init__(self, n_actions: int, layer_norm: bool = False):
        super().__init__()
        layers = trunk(layer_norm)
        for name, module in layers:  # flat names, as the Q-network's: 'hidden' is the layer an SAE reads
            self.add_module(name, module)
        self.trunk_names = [name for name, _ in layers]
        self.actor = nn.Linear(512, n_actions)
        self.critic = nn.Linear(512, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                gain = 0.01 if module is self.actor else 1.0 if module is self.critic else math.sqrt(2)
                nn.init.orthogonal_(module.weight, gain)
                nn.init.zeros_(module.bias)
        self.n_actions = n_actions
        self.layer_norm = layer_norm

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """The 512-unit layer ``hidden`` [B, 512]."""
        for name in self.trunk_names:
            obs = self.get_submodule(name)(obs)
        return obs

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(self.features(obs))

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [B, A], value [B])."""
        hidden = self.features(obs)
        return self.actor(hidden), self.critic(hidden).squeeze(1)


Network = QNetwork | ActorCritic
NETWORKS: dict[str, type[Network]] = {"q-values": QNetwork, "policy": ActorCritic}
"""The network of each output kind (``Agent.output``), as a checkpoint's manifest names it."""
