"""Ground truth: the trainer must find sparse features planted in superposition."""

from pathlib import Path

import torch

from rlsae.sae.synthetic import planted_data, recovered_fraction, run
from rlsae.sae.train import TrainSAEConfig


def test_recovered_fraction_tells_found_from_missing_directions() -> None:
    _, directions = planted_data(16, 32, 10, active=2)
    assert recovered_fraction(directions, directions) == 1.0
    unrelated = torch.randn(64, 16, generator=torch.Generator().manual_seed(123))
    assert recovered_fraction(unrelated, directions) < 0.2
    assert recovered_fraction(directions[:16], directions) == 0.5


def test_top_k_sae_recovers_planted_features(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainSAEConfig(out=tmp_path / "sae", d_sae=256, k=4, samples=400 * 1024, batch_size=1024, lr=2e-3,
                         advantage_weight=0, progress=False)
    result = run(d_in=32, n_features=128, active=3, n_samples=50_000, cfg=cfg)
    assert result["recovered"] >= 0.9, result
    assert 3 <= result["l0"] <= 4 and result["fvu"] < 0.25, result
