"""Ground truth for the trainer: sparse features planted in superposition (Elhage et al. 2022 style).

``n_features`` random unit directions in ``d_in`` < ``n_features`` dimensions. Feature i is on in a
sample with probability p_i, at a magnitude drawn from U(0.5, 1.5) (or, with ``tail`` > 0, a log-normal
of mean 1 and log-sd ``tail``: heavy-tailed, as real activations are); the sample is the sum of the
directions that are on, plus one ``offset`` vector shared by every sample (real layers are not centred:
the SAE's b_dec must find it). :meth:`Planted.make` lets densities fall off as a power law, p_i
proportional to (i + 1)^-decay, scaled so that ``active`` features are on per sample on average;
:meth:`Planted.varied` spaces them evenly in log between two densities (1e-4 to 0.2: three decades, as
real features' densities spread) and sizes the offset relative to the data's spread.
A good SAE's decoder rows recover the planted directions (tests/sae/test_synthetic.py at a small size;
benchmarks/synthetic_recovery.py at 1M and 2M samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rlsae.sae.io import load_sae
from rlsae.sae.train import Trainer, TrainSAEConfig

# Planted data draws from its own stream: seeded like the trainer (torch.manual_seed(seed)), the first
# torch.randn(n_features, d_in) here was the trainer's initial decoder, so a run whose data and SAE
# shared a seed started at the answer (every planted result before 2026-12-07 did).
_SALT = 0x5EED_DA7A


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(_SALT + seed)


@dataclass
class Planted:
    """The generator of planted data: its directions, densities and shared offset."""

    directions: torch.Tensor  # [n_features, d_in], unit rows
    density: torch.Tensor     # [n_features], probability each feature is on
    offset: torch.Tensor      # [d_in], added to every sample
    tail: float = 0.0         # log-sd of log-normal magnitudes (mean 1); 0: U(0.5, 1.5)

    @classmethod
    def make(cls, d_in: int, n_features: int, active: float, decay: float = 1.0, offset_norm: float = 2.0,
             seed: int = 0) -> Planted:
        generator = _generator(seed)
        directions = F.normalize(torch.randn(n_features, d_in, generator=generator), dim=1)
        weights = torch.arange(1, n_features + 1, dtype=torch.float64).pow(-decay)
        density = (active * weights / weights.sum()).clamp(max=1.0).float()
        offset = F.normalize(torch.randn(d_in, generator=generator), dim=0) * offset_norm
        return cls(directions, density, offset)

    @classmethod
    def varied(cls, d_in: int, n_features: int, densities: tuple[float, float] = (1e-4, 0.2), tail: float = 1.0,
               offset_ratio: float = 4.0, seed: int = 0) -> Planted:
        """Densities log-spaced over ``densities``, log-normal magnitudes, and an offset whose norm is
        ``offset_ratio`` times the spread (the root-mean-square distance of a sample from the data's mean)."""
        generator = _generator(seed)
        directions = F.normalize(torch.randn(n_features, d_in, generator=generator), dim=1)
        low, high = densities
        density = torch.logspace(math.log10(high), math.log10(low), n_features)
        offset = F.normalize(torch.randn(d_in, generator=generator), dim=0)
        planted = cls(directions, density, offset, tail)
        planted.offset = offset * offset_ratio * planted.spread()
        return planted

    def mean(self) -> torch.Tensor:
        """The data's expected mean (magnitudes average 1)."""
        return self.offset + self.density @ self.directions

    def spread(self) -> float:
        """Root-mean-square distance of a sample from the data's mean: features are independent, so the
        summed variance is sum_i Var(on_i x magnitude_i) over unit directions."""
        second = math.exp(self.tail**2) if self.tail > 0 else 1 + 1 / 12  # E[magnitude^2]
        return math.sqrt(float((self.density * second - self.density**2).sum()))

    def sample(self, n: int, seed: int = 0, batch: int = 65536) -> torch.Tensor:
        """[n, d_in] samples, drawn in batches so the [n, n_features] mask is never held whole."""
        generator = _generator(seed)
        parts = []
        for start in range(0, n, batch):
            rows = min(batch, n - start)
            on = torch.rand(rows, len(self.density), generator=generator) < self.density
            if self.tail > 0:
                normal = torch.randn(rows, len(self.density), generator=generator)
                magnitude = (self.tail * normal - self.tail**2 / 2).exp()
            else:
                magnitude = 0.5 + torch.rand(rows, len(self.density), generator=generator)
            parts.append((on * magnitude) @ self.directions + self.offset)
        return torch.cat(parts)


def planted_data(d_in: int, n_features: int, n_samples: int, active: float, seed: int = 0, decay: float = 0.0,
                 offset_norm: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(samples [n_samples, d_in], planted unit directions [n_features, d_in]); by default every feature
    equally dense and no offset."""
    planted = Planted.make(d_in, n_features, active, decay, offset_norm, seed)
    return planted.sample(n_samples, seed), planted.directions


def recovered_fraction(decoder: torch.Tensor, directions: torch.Tensor, threshold: float = 0.9) -> float:
    """Share of planted directions whose best-matching decoder row has cosine >= ``threshold``."""
    cosine = F.normalize(directions, dim=1) @ F.normalize(decoder, dim=1).T
    return float((cosine.max(1).values >= threshold).float().mean())


def run(d_in: int, n_features: int, active: float, n_samples: int, cfg: TrainSAEConfig, decay: float = 0.0,
        offset_norm: float = 0.0) -> dict[str, float]:
    """Train on planted data with ``cfg`` and report recovery at cosine 0.9 and held-out FVU."""
    x, directions = planted_data(d_in, n_features, n_samples + 10_000, active, seed=cfg.seed, decay=decay,
                                 offset_norm=offset_norm)
    result = Trainer(cfg, x[:n_samples], x[n_samples:]).run()
    sae = load_sae(cfg.out)
    return {"recovered": recovered_fraction(sae.W_dec, directions), "fvu": result["fvu"],
            "dead_fraction": result["dead_fraction"], "l0": result["l0"], "steps": result["steps"],
            "wall_time_s": result["wall_time_s"]}


def quiet_decision(d_in: int, n_features: int, n_samples: int, active: float, quiet: float = 0.1, seed: int = 0
                   ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Planted data where the downstream answer is known: (samples [n_samples, d_in], a 2-action head).

    Loud sparse features (:class:`Planted`, magnitudes ~1) fill the ``d_in - 1`` dimensions after the
    first; the first holds ``+quiet`` or ``-quiet``, a coin flip per sample, and the head reads only it,
    so its greedy action is that coin. The quiet direction is a tiny share of the variance: plain MSE
    may leave it out, a loss on the head's advantages must keep it.
    """
    loud = Planted.make(d_in - 1, n_features, active, seed=seed).sample(n_samples, seed)
    coin = torch.rand(n_samples, 1, generator=torch.Generator().manual_seed(seed + 1)) < 0.5
    x = torch.cat([torch.where(coin, quiet, -quiet), loud], dim=1)
    weight = torch.zeros(2, d_in)
    weight[0, 0], weight[1, 0] = 1.0, -1.0
    return x, (weight, torch.zeros(2))
