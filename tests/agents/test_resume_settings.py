"""train-agent resumes only the run it was given: another algorithm, game, LayerNorm or learning rate is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsae.agents.train import TrainAgentConfig, train_agent
from rlsae.common.errors import UserError

TINY = dict(total_steps=64, num_envs=2, rollout_steps=8, minibatch_size=16, eval_every=10**9, save_every=10**9,
            device="cpu", progress=False)


@pytest.mark.parametrize("change,named", [(dict(algorithm="dqn"), "--algorithm pqn -> dqn"),
                                          (dict(layer_norm=False), "--layer-norm True -> False"),
                                          (dict(learning_rate=1e-3), "--learning-rate 0.00025 -> 0.001")])
def test_resuming_with_other_settings_is_refused_naming_them(tmp_path: Path, change: dict, named: str) -> None:
    train_agent(TrainAgentConfig(out=tmp_path, **TINY))
    before = (tmp_path / "latest" / "model.safetensors").read_bytes()
    with pytest.raises(UserError, match=named.replace(".", r"\.").replace("+", r"\+")):
        train_agent(TrainAgentConfig(out=tmp_path, **{**TINY, "total_steps": 128, **change}))
    assert (tmp_path / "latest" / "model.safetensors").read_bytes() == before
    # The step count may grow: the same settings continue the run.
    train_agent(TrainAgentConfig(out=tmp_path, **{**TINY, "total_steps": 128}))
