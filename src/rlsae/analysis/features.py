"""Per-feature statistics over a set of states: density, histograms, example states, action effects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Quantile intervals of a feature's non-zero activations from which example states are drawn, after the
# top activations (sae_vis's layout: top examples, then progressively weaker ones).
QUANTILE_GROUPS = ((0.9, 0.99), (0.75, 0.9), (0.5, 0.75), (0.25, 0.5), (0.0, 0.25))


@torch.no_grad()
def encode_all(sae: torch.nn.Module, activations: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Feature activations [n_states, d_sae] (dense float32) for every state."""
    out = []
    for start in range(0, len(activations), batch_size):
        x = torch.as_tensor(np.asarray(activations[start:start + batch_size], dtype=np.float32))
        out.append(sae.encode(x).numpy())
    return np.concatenate(out)


def action_effects(head_weight: torch.Tensor, decoder: torch.Tensor) -> np.ndarray:
    """Each feature's push on each action's Q-value per unit of activation: [d_sae, n_actions].

    Exact, because Q = W_head @ hidden + b and the SAE writes f_i * W_dec[i] into ``hidden``.
    """
    return (decoder @ head_weight.T).detach().cpu().numpy()


@dataclass
class FeatureExamples:
    """Indices into the analysed states: groups[i] is a list of (title, state indices) for feature i."""

    groups: list[list[tuple[str, np.ndarray]]]


def example_states(features: np.ndarray, n_top: int = 8, n_per_quantile: int = 4,
                   seed: int = 0) -> FeatureExamples:
    """Top-activating states and random states from each quantile interval of the non-zero activations."""
    rng = np.random.default_rng(seed)
    groups = []
    for column in features.T:
        active = np.flatnonzero(column > 0)
        if active.size == 0:
            groups.append([])
            continue
        order = active[np.argsort(-column[active], kind="stable")]
        feature_groups = [("top activations", order[:n_top])]
        ranked_up = order[::-1]  # weakest first, so quantile q sits at q * n
        for low, high in QUANTILE_GROUPS:
            window = ranked_up[int(low * len(ranked_up)):int(high * len(ranked_up))]
            window = np.setdiff1d(window, order[:n_top], assume_unique=True)
            if window.size:
                pick = rng.choice(window, min(n_per_quantile, window.size), replace=False)
                feature_groups.append((f"quantile {low:.0%}-{high:.0%}", pick[np.argsort(-column[pick])]))
        groups.append(feature_groups)
    return FeatureExamples(groups)


def activation_histograms(features: np.ndarray, bins: int = 24) -> list[dict[str, list[float]]]:
    """Histogram of each feature's non-zero activations (zeros are the density's business)."""
    out = []
    for column in features.T:
        active = column[column > 0]
        if active.size == 0:
            out.append({"edges": [], "counts": []})
            continue
        counts, edges = np.histogram(active, bins=bins)
        out.append({"edges": edges.round(5).tolist(), "counts": counts.tolist()})
    return out
