"""BatchTopK (Bussmann et al. 2024): while training, the k x B largest ReLU pre-activations of a batch
of B rows pass, so rows share a budget of k on average. At inference a latent fires when its
pre-activation exceeds one threshold: exactly a JumpReLU whose thresholds are all equal, which is how
SAELens saves it ("jumprelu" with the threshold repeated per latent); rlsae's name and k ride along in
the cfg's metadata.

The threshold is estimated one of two ways (``threshold_estimate``): ``ema``, a running average of the
smallest activation kept in each training batch (the paper's and SAELens' way), or ``calibrate``, set
once training ends to the value at which the training states' mean L0 is exactly k (the EMA of batch
minima sits below that value, so it lets a little more through than training did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rlsae.common.errors import UserError
from rlsae.config import option
from rlsae.sae.architectures.topk import TopKOptions
from rlsae.sae.losses import aux_k_terms
from rlsae.sae.model import SparseAutoencoder, SparseCode, TrainingBatch, cut_above

ESTIMATES = ("ema", "calibrate")


@dataclass
class BatchTopKOptions(TopKOptions):
    """Top-K's options and how the inference threshold is estimated."""

    threshold_estimate: str = option("ema", "the inference threshold: ema (running mean of each training batch's "
                                     "smallest kept activation) or calibrate (mean L0 = k on training states "
                                     "after training)", choices=list(ESTIMATES))
    threshold_rate: float = option(0.01, "the EMA's rate per step (SAELens' topk_threshold_lr)", gt=0, high=1)

    def sae_kwargs(self) -> dict[str, Any]:
        return {"k": self.k, "threshold_estimate": self.threshold_estimate, "threshold_rate": self.threshold_rate}


class BatchTopK(SparseAutoencoder):
    name = "batchtopk"
    saelens_name = "jumprelu"
    reads_saelens = False
    options = ("k", "threshold_estimate", "threshold_rate")
    options_class = BatchTopKOptions

    def __init__(self, d_in: int, d_sae: int, k: int = 32, threshold_estimate: str = "ema",
                 threshold_rate: float = 0.01):
        super().__init__(d_in, d_sae, k)
        if threshold_estimate not in ESTIMATES:
            raise ValueError(f"threshold_estimate must be one of {', '.join(ESTIMATES)}, got {threshold_estimate!r}")
        self.threshold_estimate, self.threshold_rate = threshold_estimate, float(threshold_rate)
        self.register_buffer("threshold", torch.zeros(()))

    def code(self, x: torch.Tensor) -> SparseCode:
        pre = self.pre_activations(x)
        acts = F.relu(pre)
        if not self.training:
            return SparseCode(acts * (pre > self.threshold), None, pre)
        flat = acts.flatten()
        keep = flat.topk(self.k * x.shape[0], sorted=False)
        kept = torch.zeros_like(flat).scatter_(0, keep.indices, keep.values).view_as(acts)
        smallest = keep.values[keep.values > 0]
        if smallest.numel():
            self.threshold.lerp_(smallest.min().detach(), self.threshold_rate if self.threshold > 0 else 1.0)
        return SparseCode(kept, None, pre)

    @torch.no_grad()
    def finish_training(self, x: torch.Tensor) -> None:
        if self.threshold_estimate != "calibrate":
            return
        self.aim_l0(self.pre_activations(x), self.k)

    @torch.no_grad()
    def aim_l0(self, pre: torch.Tensor, target: float) -> None:
        self.threshold.copy_(cut_above(F.relu(pre).flatten(), round(target * len(pre))))

    def training_losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        return aux_k_terms(self, batch)

    @torch.no_grad()
    def fold_scale(self, scale: float) -> None:
        super().fold_scale(scale)
        self.threshold.mul_(scale)

    def saelens_weights(self) -> dict[str, torch.Tensor]:
        return {"threshold": self.threshold.expand(self.d_sae)}

    @torch.no_grad()
    def load_extra(self, weights: dict[str, torch.Tensor]) -> None:
        threshold = weights["threshold"].float()
        if threshold.numel() and not torch.equal(threshold, threshold[:1].expand_as(threshold)):
            raise UserError(f"a {self.name} SAE has one threshold, this file holds several: drop "
                            "'rlsae_architecture' from its cfg.json metadata to load it as a JumpReLU SAE")
        self.threshold.copy_(threshold[0])
