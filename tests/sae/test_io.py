"""SAELens v6 files: the layout SAELens reads, round trips, and clear errors for broken folders."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlsae.config import UserError
from rlsae.sae.io import CFG, SPARSITY, WEIGHTS, load_log10_density, load_sae, save_sae
from rlsae.sae.model import SparseAutoencoder


@pytest.mark.parametrize("architecture,saelens", [("topk", "topk"), ("batchtopk", "jumprelu"),
                                                   ("relu", "standard")])
def test_round_trip_in_saelens_layout(tmp_path: Path, architecture: str, saelens: str) -> None:
    sae = SparseAutoencoder(16, 64, architecture, k=4)
    sae.train()
    sae(torch.randn(128, 16))
    sae.eval()
    save_sae(tmp_path, sae, {"hook_name": "hidden"}, torch.full((64,), -2.0))
    cfg = json.loads((tmp_path / CFG).read_text())
    assert cfg["architecture"] == saelens and cfg["d_in"] == 16 and cfg["d_sae"] == 64
    assert cfg["apply_b_dec_to_input"] is True and cfg["normalize_activations"] == "none"
    assert cfg["metadata"]["sae_lens_version"].startswith("6") and cfg["metadata"]["hook_name"] == "hidden"
    assert (cfg.get("k") == 4) == (architecture == "topk")
    shapes = {k: tuple(v.shape) for k, v in load_file(str(tmp_path / WEIGHTS)).items()}
    assert shapes["W_enc"] == (16, 64) and shapes["W_dec"] == (64, 16)
    assert shapes["b_enc"] == (64,) and shapes["b_dec"] == (16,)
    loaded = load_sae(tmp_path)
    x = torch.randn(32, 16)
    torch.testing.assert_close(loaded.reconstruct(x), sae.reconstruct(x))
    torch.testing.assert_close(load_log10_density(tmp_path), torch.full((64,), -2.0))
    assert (tmp_path / SPARSITY).exists()


def test_malformed_folders_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no SAE at"):
        load_sae(tmp_path / "missing")
    save_sae(tmp_path, SparseAutoencoder(8, 32, "topk", k=2))
    (tmp_path / CFG).write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_sae(tmp_path)
    (tmp_path / CFG).write_text(json.dumps({"architecture": "gated", "d_in": 8, "d_sae": 32}))
    with pytest.raises(UserError, match="not supported"):
        load_sae(tmp_path)
    (tmp_path / CFG).write_text(json.dumps({"architecture": "topk", "d_in": 8, "d_sae": 16, "k": 2}))
    with pytest.raises(UserError, match="W_enc has shape"):
        load_sae(tmp_path)
    weights = load_file(str(tmp_path / WEIGHTS))
    del weights["b_dec"]
    save_file(weights, str(tmp_path / WEIGHTS))
    (tmp_path / CFG).write_text(json.dumps({"architecture": "topk", "d_in": 8, "d_sae": 32, "k": 2}))
    with pytest.raises(UserError, match="lacks tensor 'b_dec'"):
        load_sae(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_sae(tmp_path)
