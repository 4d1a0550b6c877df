"""How faithful and how sparse an SAE is on a set of states (no games played; see sae/fidelity.py).

Definitions (every sum runs over states s; x is the layer's activation, x_hat the reconstruction):
    fvu                  sum ||x - x_hat||^2 / sum ||x - mean(x)||^2      (centred: 0 perfect, 1 = the mean)
    l0                   mean number of non-zero features per state
    dead_fraction        features that never fire on these states
    dense_fraction       features firing on more than DENSE_DENSITY of the states
    q_rel_error          sum ||Q - Q_hat||^2 / sum ||Q - mean(Q)||^2
    advantage_rel_error  the same for the advantages A = Q - mean_a Q (what ranks the actions)
    action_agreement     share of states where argmax Q_hat = argmax Q;  ``_large_gap``: only states whose
                         clean gap between the best and second-best Q is above the median gap
    regret               mean [Q(s, a*) - Q(s, a_hat)] / mean [max_a Q - min_a Q], in % of the Q range

For a policy (an actor-critic read through its actor head, logits z) the Q-specific numbers give way to
    logit_rel_error      the centred logits' (z - mean_a z, what ranks the actions and makes pi) error, as above
    policy_kl            mean KL(pi || pi_hat) in nats, pi = softmax(z): what the spliced policy loses
and action_agreement compares argmax z (the greedy action) as before.
"""

from __future__ import annotations

from typing import Any

import torch

from rlsae.sae.losses import advantage_matrix
from rlsae.sae.model import SparseAutoencoder

DENSE_DENSITY = 0.1


def fraction_unexplained(target: torch.Tensor, estimate: torch.Tensor) -> float:
    error = (target - estimate).pow(2).sum()
    variance = (target - target.mean(0)).pow(2).sum()
    return float(error / variance.clamp_min(1e-12))


def log10_density(density: torch.Tensor, dead: float) -> torch.Tensor:
    """log10 of each feature's firing density, ``dead`` where it never fires."""
    return torch.where(density > 0, density.clamp_min(1e-12).log10(), torch.full_like(density, dead))


@torch.no_grad()
def reconstruct_all(sae: SparseAutoencoder, x: torch.Tensor, batch: int = 4096
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_hat, per-feature firing counts, per-state L0) in batches, never holding a dense [n, d_sae]."""
    counts = torch.zeros(sae.d_sae)
    parts, l0 = [], []
    for start in range(0, len(x), batch):
        code = sae.code(x[start:start + batch])
        dense = code.dense(sae.d_sae)
        active = dense > 0
        counts += active.sum(0)
        l0.append(active.sum(1))
        parts.append(sae.decode(dense))
    return torch.cat(parts), counts, torch.cat(l0).float()


@torch.no_grad()
def action_metrics(x: torch.Tensor, x_hat: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                   output: str = "q-values") -> dict[str, float]:
    """What the agent's choices feel of the reconstruction error (the head is linear: exact); ``output``
    "policy" reads the head's outputs as logits."""
    q, q_hat = x @ weight.T + bias, x_hat @ weight.T + bias
    adv = advantage_matrix(weight)
    best, chosen = q.argmax(1), q_hat.argmax(1)
    top2 = q.topk(2, dim=1).values
    gap = top2[:, 0] - top2[:, 1]
    large = gap > gap.median()
    agree = (best == chosen).float()
    shared = {"action_agreement": float(agree.mean()),
              "action_agreement_large_gap": float(agree[large].mean()) if large.any() else float("nan")}
    centred = fraction_unexplained(x @ adv.T, x_hat @ adv.T)
    if output == "policy":
        log_pi, log_pi_hat = q.log_softmax(1), q_hat.log_softmax(1)
        # >= 0 in exact arithmetic; rounding makes a near-perfect reconstruction's KL a hair negative
        kl = (log_pi.exp() * (log_pi - log_pi_hat)).sum(1).clamp_min(0)
        return {**shared, "logit_rel_error": centred, "policy_kl": float(kl.mean())}
    regret = q.gather(1, best[:, None]) - q.gather(1, chosen[:, None])
    q_range = (q.max(1).values - q.min(1).values).mean()
    return {**shared, "q_rel_error": fraction_unexplained(q, q_hat), "advantage_rel_error": centred,
            "regret": float(100 * regret.mean() / q_range.clamp_min(1e-12))}


@torch.no_grad()
def evaluate_reconstruction(sae: SparseAutoencoder, x: torch.Tensor,
                            head: tuple[torch.Tensor, torch.Tensor] | None = None,
                            output: str = "q-values") -> dict[str, Any]:
    """Reconstruction, sparsity and (with the head's weight and bias) action metrics on states ``x``;
    ``output`` is what the head gives: "q-values" or "policy" (logits).

    The returned ``density`` is a tensor (fraction of states each feature fires on); the rest are floats.
    """
    sae = sae.eval()
    x_hat, counts, l0 = reconstruct_all(sae, x)
    density = counts / len(x)
    out: dict[str, Any] = {
        "states": len(x), "mse": float((x - x_hat).pow(2).sum(1).mean()), "fvu": fraction_unexplained(x, x_hat),
        "l0": float(l0.mean()), "dead_fraction": float((counts == 0).float().mean()),
        "dense_fraction": float((density > DENSE_DENSITY).float().mean()), "density": density,
    }
    if head is not None:
        out.update(action_metrics(x, x_hat, *head, output=output))
    return out
