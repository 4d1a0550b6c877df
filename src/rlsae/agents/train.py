"""`rlsae train-agent`: train an agent with the chosen algorithm (``agents/pqn.py``, ``dqn.py`` or ``ppo.py``);
the config and the run they share (logging, evaluation, checkpoints) are in ``agents/run.py``."""

from __future__ import annotations

from pathlib import Path

import torch

from rlsae.agents.dqn import train_dqn
from rlsae.agents.ppo import train_ppo
from rlsae.agents.pqn import train_pqn
from rlsae.agents.run import TrainAgentConfig, TrainingRun, series_label

ALGORITHMS = {"pqn": train_pqn, "dqn": train_dqn, "ppo": train_ppo}


def train_agent(cfg: TrainAgentConfig) -> Path:
    """Train with ``cfg.algorithm``; returns the folder of the best checkpoint."""
    torch.manual_seed(cfg.seed)
    ALGORITHMS[cfg.algorithm](cfg)
    return Path(cfg.out) / "best"


__all__ = ["TrainAgentConfig", "TrainingRun", "series_label", "train_agent"]
