"""The SAE's training objective, every term normalised so its weight means the same at any scale.

    loss = reconstruction_weight * FVU(x, x_hat)           reconstruction
         + advantage_weight * FVU(C x, C x_hat)            what the agent's choice depends on
         + aux_coef * ||e - e_hat||^2 / ||e||^2            AuxK: dead latents model the residual
                                                             (Top-K family)
         + the architecture's own terms (L1, L0, nested prefixes; sae/architectures/)

FVU is the squared error over the data's total variance about its mean (a constant per dataset, so the
term is an MSE with a scale-free weight). C = W_head - mean_rows(W_head) maps the layer to the
*advantages* A(s, a) = Q(s, a) - mean_a Q(s, a); the head is linear, so this is the exact error the
agent's action ranking sees (the RL analogue of end-to-end SAEs, Braun et al. 2024): with
reconstruction_weight 0 the SAE is trained end-to-end on it alone (their "e2e"), with both terms on
(the default where a head exists) it is their "e2e+ds", the downstream loss beside a reconstruction one.
"""

from __future__ import annotations

import torch

from rlsae.sae.model import SparseAutoencoder, TrainingBatch


def advantage_matrix(head_weight: torch.Tensor) -> torch.Tensor:
    """[n_actions, d_in] map from the layer to the advantages (action-centred Q-values)."""
    return head_weight - head_weight.mean(0, keepdim=True)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    return (x - x_hat).pow(2).sum(1).mean()


def aux_k_loss(sae: SparseAutoencoder, x: torch.Tensor, x_hat: torch.Tensor, dead: torch.Tensor,
               k_aux: int) -> torch.Tensor:
    """Gao et al. 2024's AuxK: the ``k_aux`` strongest dead latents reconstruct the residual error.

    Dead latents get a gradient towards directions the live ones miss, instead of none at all. Only
    the dead columns are computed (densely): cheap exactly when it matters, with few latents dead.
    """
    dead_ids = dead.nonzero().squeeze(1)
    if dead_ids.numel() == 0:
        return x.new_zeros(())
    residual = (x - x_hat).detach()
    pre = (x - sae.b_dec) @ sae.W_enc[:, dead_ids] + sae.b_enc[dead_ids]
    if dead_ids.numel() > k_aux:
        kth = pre.detach().topk(k_aux, dim=1, sorted=False).values.min(1, keepdim=True).values
        pre = pre.masked_fill(pre < kth, 0.0)
    residual_hat = torch.relu(pre) @ sae.W_dec[dead_ids]
    return squared_error(residual, residual_hat) / residual.pow(2).sum(1).mean().clamp_min(1e-12)


def aux_k_terms(sae: SparseAutoencoder, batch: TrainingBatch) -> dict[str, torch.Tensor]:
    """AuxK as a weighted loss term (none when its coefficient is 0)."""
    if batch.aux_coef <= 0:
        return {}
    return {"aux_loss": batch.aux_coef * aux_k_loss(sae, batch.x, batch.x_hat, batch.dead, batch.k_aux)}
