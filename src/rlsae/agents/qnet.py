"""The Nature-DQN Q-network, with every layer reachable by a flat name.

    obs uint8 [B, 4, 84, 84] -> scale -> conv1 (32, 8x8/4) -> conv2 (64, 4x4/2) -> conv3 (64, 3x3/1)
    -> flatten -> fc (3136 -> 512) -> hidden (ReLU, the default SAE site) -> head (512 -> n_actions)

With ``layer_norm=True`` (PQN's choice, Gallici et al. 2024) a LayerNorm follows each conv and fc
before its ReLU. Parameters for 9 actions: 1,688,745 without LayerNorm, 1,732,009 with.
Because the head is linear, Q = W_head @ hidden + b_head exactly: an SAE feature's push on each
action is its decoder direction through W_head.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

HIDDEN_LAYER = "hidden"


class Scale(nn.Module):
    """uint8 pixels -> floats in [0, 1]."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float() / 255.0


class QNetwork(nn.Sequential):
    """Nature-DQN as a flat nn.Sequential: ``model.get_submodule("hidden")`` is the 512-unit layer."""

    def __init__(self, n_actions: int, layer_norm: bool = True):
        def block(name: str, layer: nn.Module, shape: list[int]) -> list[tuple[str, nn.Module]]:
            norm = [(f"{name}_norm", nn.LayerNorm(shape))] if layer_norm else []
            act = HIDDEN_LAYER if name == "fc" else f"{name}_relu"
            return [(name, layer), *norm, (act, nn.ReLU())]

        layers = [
            ("scale", Scale()),
            *block("conv1", nn.Conv2d(4, 32, 8, stride=4), [32, 20, 20]),
            *block("conv2", nn.Conv2d(32, 64, 4, stride=2), [64, 9, 9]),
            *block("conv3", nn.Conv2d(64, 64, 3, stride=1), [64, 7, 7]),
            ("flatten", nn.Flatten()),
            *block("fc", nn.Linear(3136, 512), [512]),
            ("head", nn.Linear(512, n_actions)),
        ]
        super().__init__(OrderedDict(layers))
        self.n_actions = n_actions
        self.layer_norm = layer_norm
