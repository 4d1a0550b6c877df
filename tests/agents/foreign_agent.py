"""A foreign Q-network for the bring-your-own-agent tests: its own module names, LayerNorms and its own
forward on uint8 frames, nothing from rlsae.agents.qnet. Imported by the tests as ``foreign_agent``."""

from __future__ import annotations

import torch
from torch import nn

from rlsae.agents.protocol import Agent

READ = "body.9"  # the ReLU after the last LayerNorm; the linear ``q_out`` maps it to the Q-values


class ForeignPQN(nn.Module):
    def __init__(self, n_actions: int = 9):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(4, 16, 8, stride=4), nn.LayerNorm([16, 20, 20]), nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2), nn.LayerNorm([32, 9, 9]), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 9 * 9, 64), nn.LayerNorm(64), nn.ReLU())
        self.q_out = nn.Linear(64, n_actions)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.q_out(self.body(frames.to(torch.float32) / 255.0))


def build() -> Agent:
    """The factory ``--agent foreign_agent:build@WEIGHTS`` names: the layer is given, the head is found."""
    return Agent(ForeignPQN(), layer=READ)


def build_breakout() -> nn.Module:
    """A plain module (no Agent): the command's --layer and --game say the rest."""
    return ForeignPQN(4)
