"""BatchTopK (Bussmann et al. 2024): while training, the k x B largest ReLU pre-activations of a batch
of B rows pass, so rows share a budget of k on average. At inference a latent fires when its
pre-activation exceeds one threshold, a running estimate of the smallest activation kept in training:
exactly a JumpReLU whose thresholds are all equal, which is how SAELens saves it ("jumprelu" with the
threshold repeated per latent); rlsae's name and k ride along in the cfg's metadata.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlsae.common.errors import UserError
from rlsae.sae.architectures.topk import TopKOptions
from rlsae.sae.losses import aux_k_terms
from rlsae.sae.model import SparseAutoencoder, SparseCode, TrainingBatch

THRESHOLD_RATE = 0.01  # EMA rate of the threshold estimate (SAELens' topk_threshold_lr default)


class BatchTopK(SparseAutoencoder):
    name = "batchtopk"
    saelens_name = "jumprelu"
    reads_saelens = False
    options = ("k",)
    options_class = TopKOptions

    def __init__(self, d_in: int, d_sae: int, k: int = 32):
        super().__init__(d_in, d_sae, k)
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
            self.threshold.lerp_(smallest.min().detach(), THRESHOLD_RATE if self.threshold > 0 else 1.0)
        return SparseCode(kept, None, pre)

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
