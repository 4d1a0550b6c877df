"""A small recording made once per module, with the screens captured live while it was made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork
from rlsae.envs.batch import EnvBatch
from rlsae.record.recorder import RecordConfig


def make_agent(folder: Path) -> Path:
    torch.manual_seed(0)
    save_checkpoint(folder, QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    return folder


def small_cfg(out: Path, agent: Path, **overrides: Any) -> RecordConfig:
    base: dict[str, Any] = {"out": out, "checkpoint": agent, "steps": 96, "num_envs": 2, "epsilon": 0.0,
                            "chunk_size": 32, "snapshot_every": 8, "progress": False}
    return RecordConfig(**{**base, **overrides})


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return make_agent(tmp_path / "agent")


@pytest.fixture
def cfg_for() -> Any:
    """small_cfg(out, agent, **overrides): a few-step RecordConfig."""
    return small_cfg


@pytest.fixture(scope="session")
def live_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """~1,100 random-action steps in 2 envs (games end at ~500 steps), and each step's live screen.

    The live screen of a row is the emulator's colour screen at the moment the agent saw that step,
    captured by wrapping EnvBatch: an independent witness for the re-rendered frames.
    """
    from rlsae.record.recorder import record

    root = tmp_path_factory.mktemp("live")
    agent = make_agent(root / "agent")
    screens: list[np.ndarray] = []
    original_finish, original_reset = EnvBatch.finish_step, EnvBatch.reset_all

    def grab(self: EnvBatch, envs: range) -> None:
        screens.append(np.stack([self.screen_rgb(i) for i in envs]))

    def finish_step(self: EnvBatch, g: int) -> Any:
        result = original_finish(self, g)
        grab(self, range(self.blocks[g].start, self.blocks[g].stop))
        return result

    def reset_all(self: EnvBatch) -> None:
        original_reset(self)
        grab(self, range(self.num_envs))

    mp = pytest.MonkeyPatch()
    mp.setattr(EnvBatch, "finish_step", finish_step)
    mp.setattr(EnvBatch, "reset_all", reset_all)
    try:
        out = record(small_cfg(root / "rec", agent, steps=1100, epsilon=1.0, chunk_size=256))
    finally:
        mp.undo()
    # screens[0] is the probe env's reset (1 env); then the 2-env reset and one per env step
    live = np.concatenate(screens[1:])[:-2]  # the last step's screens belong to no recorded row
    return out, live
