from pathlib import Path

import pytest
import torch

from rlsae.agents.checkpoint import load_agent, save_checkpoint
from rlsae.agents.qnet import QNetwork
from rlsae.common.errors import UserError


@pytest.mark.parametrize("layer_norm", [True, False])
def test_round_trip_gives_identical_q_values(tmp_path: Path, layer_norm: bool) -> None:
    model = QNetwork(9, layer_norm=layer_norm)
    save_checkpoint(tmp_path / "ck", model, {"game": "ms_pacman", "step": 7})
    loaded, manifest = load_agent(tmp_path / "ck")
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(loaded(obs), model(obs))
    assert manifest["step"] == 7 and manifest["layer_norm"] is layer_norm


def test_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no agent checkpoint"):
        load_agent(tmp_path / "absent")


def test_wrong_weights_are_a_user_error(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ck", QNetwork(9), {"game": "ms_pacman"})
    save_checkpoint(tmp_path / "other", QNetwork(4), {"game": "breakout"})
    (tmp_path / "other" / "model.safetensors").replace(tmp_path / "ck" / "model.safetensors")
    with pytest.raises(UserError, match="matching Q-network"):
        load_agent(tmp_path / "ck")
