"""Ground truth for the trainer: sparse features planted in superposition (Elhage et al. 2022 style).

``n_features`` random unit directions in ``d_in`` < ``n_features`` dimensions; each sample switches
each feature on with probability ``active / n_features`` at a magnitude drawn from U(0.5, 1.5) and
sums the directions. A good SAE's decoder rows recover the planted directions
(tests/sae/test_synthetic.py at a small size; benchmarks/synthetic_recovery.py larger).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlsae.sae.io import load_sae
from rlsae.sae.train import Trainer, TrainSAEConfig


def planted_data(d_in: int, n_features: int, n_samples: int, active: float, seed: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(samples [n_samples, d_in], planted unit directions [n_features, d_in])."""
    generator = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(n_features, d_in, generator=generator), dim=1)
    on = torch.rand(n_samples, n_features, generator=generator) < active / n_features
    magnitude = 0.5 + torch.rand(n_samples, n_features, generator=generator)
    return (on * magnitude) @ directions, directions


def recovered_fraction(decoder: torch.Tensor, directions: torch.Tensor, threshold: float = 0.9) -> float:
    """Share of planted directions whose best-matching decoder row has cosine >= ``threshold``."""
    cosine = F.normalize(directions, dim=1) @ F.normalize(decoder, dim=1).T
    return float((cosine.max(1).values >= threshold).float().mean())


def run(d_in: int, n_features: int, active: float, n_samples: int, cfg: TrainSAEConfig) -> dict[str, float]:
    """Train on planted data with ``cfg`` and report recovery at cosine 0.9 and held-out FVU."""
    x, directions = planted_data(d_in, n_features, n_samples + 10_000, active, seed=cfg.seed)
    result = Trainer(cfg, x[:n_samples], x[n_samples:]).run()
    sae = load_sae(cfg.out)
    return {"recovered": recovered_fraction(sae.W_dec, directions), "fvu": result["fvu"],
            "dead_fraction": result["dead_fraction"], "l0": result["l0"]}
