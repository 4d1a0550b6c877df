"""Shared fixtures: a deterministic seed and a small random-weight agent checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def random_agent(tmp_path: Path) -> Path:
    """A checkpoint folder holding an untrained Ms. Pac-Man Q-network."""
    folder = tmp_path / "agent"
    save_checkpoint(folder, QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    return folder
