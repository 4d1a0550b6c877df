"""Per-feature statistics over a set of states: density, histograms, example states, action effects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

# Quantile intervals of a feature's non-zero activations from which example states are drawn, after the
# top activations (sae_vis's layout: top examples, then progressively weaker ones).
QUANTILE_GROUPS = ((0.9, 0.99), (0.75, 0.9), (0.5, 0.75), (0.25, 0.5), (0.0, 0.25))
# Two top examples from one episode are at least this many agent steps apart (~2 s of play at frame-skip 4).
MIN_STEP_GAP = 32
MAX_SCAN = 20_000  # states looked at when filling the top examples from few episodes


@torch.no_grad()
def encode_batches(sae: torch.nn.Module, activations: np.ndarray, batch_size: int = 8192,
                   rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Feature activations of ``activations`` (or of its ``rows`` only), one dense [batch, d_sae] float32 block
    at a time: a caller keeping them sparse never holds all states densely."""
    n = len(activations) if rows is None else len(rows)
    for start in range(0, n, batch_size):
        pick = slice(start, start + batch_size) if rows is None else rows[start:start + batch_size]
        yield sae.encode(torch.as_tensor(np.asarray(activations[pick], dtype=np.float32))).numpy()


def encode_all(sae: torch.nn.Module, activations: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Feature activations [n_states, d_sae] (dense float32) for every state."""
    return np.concatenate(list(encode_batches(sae, activations, batch_size)))


def action_effects(head_weight: torch.Tensor, decoder: torch.Tensor) -> np.ndarray:
    """Each feature's push on each action's Q-value per unit of activation: [d_sae, n_actions].

    Exact, because Q = W_head @ hidden + b and the SAE writes f_i * W_dec[i] into ``hidden``.
    """
    return (decoder @ head_weight.T).detach().cpu().numpy()


@dataclass
class FeatureExamples:
    """Indices into the analysed states: groups[i] is a list of (title, state indices) for feature i."""

    groups: list[list[tuple[str, np.ndarray]]]


def spread_top(order: np.ndarray, n: int, episodes: np.ndarray | None, steps: np.ndarray | None,
               min_gap: int = MIN_STEP_GAP) -> np.ndarray:
    """The ``n`` first of ``order`` (strongest first), at most one per episode while other episodes remain.

    A feature's strongest states are often consecutive steps of one moment; shown side by side they repeat
    one picture. With fewer episodes than ``n``, further states of an episode are taken only ``min_gap`` or
    more steps from those already taken. Without ``episodes``/``steps``: simply the first ``n``.
    """
    if episodes is None or steps is None:
        return order[:n]
    ep, st = episodes[order], steps[order].astype(np.int64)
    _, first = np.unique(ep, return_index=True)
    chosen = list(np.sort(first)[:n])  # positions in ``order``: each episode's strongest state
    for pos in range(min(len(order), MAX_SCAN)):
        if len(chosen) >= n:
            break
        if all(ep[c] != ep[pos] or abs(st[c] - st[pos]) >= min_gap for c in chosen):
            chosen.append(pos)
    return order[np.sort(chosen)]


def example_states(features: np.ndarray, n_top: int = 8, n_per_quantile: int = 4, seed: int = 0,
                   episodes: np.ndarray | None = None, steps: np.ndarray | None = None) -> FeatureExamples:
    """Top-activating states (spread over episodes: :func:`spread_top`) and random states from each quantile
    interval of the non-zero activations. ``episodes``/``steps``: each state's episode and step in it."""
    rng = np.random.default_rng(seed)
    groups = []
    for column in features.T:
        active = np.flatnonzero(column > 0)
        if active.size == 0:
            groups.append([])
            continue
        order = active[np.argsort(-column[active], kind="stable")]
        top = spread_top(order, n_top, episodes, steps)
        feature_groups = [("top activations", top)]
        ranked_up = order[::-1]  # weakest first, so quantile q sits at q * n
        for low, high in QUANTILE_GROUPS:
            window = ranked_up[int(low * len(ranked_up)):int(high * len(ranked_up))]
            window = np.setdiff1d(window, top, assume_unique=True)
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
