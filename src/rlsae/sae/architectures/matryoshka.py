"""Matryoshka BatchTopK (Bussmann et al. 2025, "Learning Multi-Level Features with Matryoshka SAEs"):
a BatchTopK SAE whose first w latents must also reconstruct the input on their own, for each of a few
nested widths w. Early latents learn general features, later ones refine them, which reduces feature
absorption (a general feature losing its cases to more specific ones). Inference is BatchTopK's, so
SAELens loads it as "jumprelu", as SAELens saves its own Matryoshka SAEs.

    loss = FVU(x, x_hat) + sum_{w in widths, w < d_sae} FVU(x, f[:, :w] W_dec[:w] + b_dec) + AuxK
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rlsae.config import option
from rlsae.sae.architectures.batchtopk import BatchTopK, BatchTopKOptions
from rlsae.sae.losses import squared_error
from rlsae.sae.model import TrainingBatch


def default_widths(d_sae: int) -> tuple[int, ...]:
    """d_sae/16, /8, /4, /2 and d_sae: each level doubles, as in the paper's nested dictionaries."""
    return tuple(sorted({max(1, d_sae // 2**i) for i in range(4, -1, -1)}))


@dataclass
class MatryoshkaOptions(BatchTopKOptions):
    """BatchTopK's options and the nested dictionaries' widths."""

    matryoshka_widths: tuple[int, ...] = option((), "nested dictionary widths, comma-separated (default: "
                                                "d_sae/16, /8, /4, /2, d_sae)", low=1)

    def __post_init__(self) -> None:
        self.matryoshka_widths = tuple(self.matryoshka_widths)

    def sae_kwargs(self) -> dict[str, Any]:
        return {**super().sae_kwargs(), "widths": self.matryoshka_widths}


class Matryoshka(BatchTopK):
    name = "matryoshka"
    options = (*BatchTopK.options, "widths")
    options_class = MatryoshkaOptions

    def __init__(self, d_in: int, d_sae: int, k: int = 32, widths: Sequence[int] = (), **threshold: Any):
        super().__init__(d_in, d_sae, k, **threshold)
        widths = tuple(int(w) for w in widths) or default_widths(d_sae)
        if widths[-1] != d_sae:
            widths = (*widths, d_sae)
        if any(b <= a for a, b in zip(widths, widths[1:])) or widths[0] < 1:
            raise ValueError(f"matryoshka widths must increase from >= 1 to d_sae={d_sae}, got {widths}")
        self.widths = widths

    def training_losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        f = batch.code.values  # dense while training
        inner = sum((squared_error(batch.x, f[:, :w] @ self.W_dec[:w] + self.b_dec) for w in self.widths[:-1]),
                    batch.x.new_zeros(()))
        return {**super().training_losses(batch),
                "matryoshka_loss": inner / batch.total_variance}
