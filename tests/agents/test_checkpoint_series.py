"""The checkpoint series: kept by train-agent at the asked steps, published in float16, loaded by path."""

from pathlib import Path

import pytest
import torch

from rlsae.agents.checkpoint import load_agent, resolve_checkpoint, save_checkpoint
from rlsae.agents.checkpoint_series import publish_series, series_folders
from rlsae.agents.qnet import QNetwork
from rlsae.agents.train import TrainAgentConfig, series_label, train_agent
from rlsae.common.errors import UserError


def test_series_labels_read_as_step_counts() -> None:
    assert [series_label(s) for s in (0, 512, 50_000, 100_000, 2_500_000, 1_000_000)] == \
        ["0", "512", "50k", "100k", "2.5M", "1M"]


def test_train_agent_keeps_each_asked_step_and_publish_scores_them(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    train_agent(TrainAgentConfig(out=run, total_steps=1024, num_envs=4, rollout_steps=8, minibatch_size=32,
                                 keep_steps=(0, 256, 600), eval_every=10**9, progress=False))
    kept = series_folders(run / "series")
    assert [p.name for p in kept] == ["0", "256", "600", "final"]
    # Kept at the first update at or past each asked step (updates come every 4 x 8 = 32 steps).
    assert [load_agent(p)[1]["step"] for p in kept] == [0, 256, 608, 1024]

    rows = publish_series(run, tmp_path / "published", episodes=1)
    assert [r["name"] for r in rows] == ["0", "256", "600", "final"] and all(r["episodes"] == 1 for r in rows)
    model, manifest = load_agent(tmp_path / "published" / "600")
    original, _ = load_agent(run / "series" / "600")
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    # float16 storage: Q-values within float16 rounding of the original's.
    torch.testing.assert_close(model(obs), original(obs), atol=2e-3, rtol=2e-3)
    assert manifest["evaluation"]["episodes"] == 1 and next(model.parameters()).dtype == torch.float32


def test_the_retired_series_names_say_how_to_make_a_series() -> None:
    with pytest.raises(UserError, match="no longer ships.*rlsae train-agent"):
        resolve_checkpoint("series:1M")
    with pytest.raises(UserError, match="no longer ships.*runs/agent/series"):
        series_folders(Path("series"))


def test_a_real_folder_named_series_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "series" / "0", QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in series_folders(Path("series"))] == ["0"]
