"""ReLU + L1, the original dictionary-learning SAE (Bricken et al. 2023), for comparison: every latent
with a positive pre-activation fires; an L1 penalty on the code makes it sparse. SAELens calls it
"standard".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rlsae.config import option
from rlsae.sae.model import ArchitectureOptions, SparseAutoencoder, SparseCode, TrainingBatch, penalty_warmup_option


@dataclass
class ReLUOptions(ArchitectureOptions):
    """ReLU's options: the L1 penalty and its warm-up (--target-l0 adapts the penalty while training)."""

    l1_coef: float = option(0.2, "L1 coefficient (the starting value under --target-l0)", low=0)
    penalty_warmup: float = penalty_warmup_option()

    def sae_kwargs(self) -> dict[str, Any]:
        return {"l1_coef": self.l1_coef}


class ReLU(SparseAutoencoder):
    name = "relu"
    saelens_name = "standard"
    reads_saelens = True
    options = ("l1_coef",)
    options_class = ReLUOptions
    sparsity_coef = "l1_coef"

    def __init__(self, d_in: int, d_sae: int, l1_coef: float = 0.2):
        super().__init__(d_in, d_sae)
        self.l1_coef = float(l1_coef)

    def code(self, x: torch.Tensor) -> SparseCode:
        pre = self.pre_activations(x)
        return SparseCode(F.relu(pre), None, pre)

    def training_losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        # Decoder rows are unit-norm, so the plain L1 of the code is the norm-weighted one; dividing by
        # the data's RMS norm makes the coefficient mean the same at any input scale.
        l1 = batch.code.values.sum(1).mean() / math.sqrt(batch.total_variance)
        return {"l1_loss": self.l1_coef * l1}
