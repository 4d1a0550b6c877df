"""The summary page's map of the live features: a force layout of their nearest-neighbour graph.

The first two principal components of 2,048 decoder directions are a round blob: a handful of directions
carry little of the variance of hundreds of distinct ones. A graph keeps what matters to a reader, which
features go together: each feature is joined to its ``k`` most similar and the graph is laid out by forces,
edges pulling their ends together and random other features pushing apart (negative sampling, as UMAP does,
so an epoch costs O(features * (k + negatives)), not O(features^2)). A real build's similarity is co-firing
(Jaccard index over the analysed states): on the demo SAE it strings features of one game situation
together where decoder cosine gives a blob. Numpy only; seeded, so a browser build is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlsae.analysis.clusters import unit_rows


@dataclass(frozen=True)
class LayoutConfig:
    neighbours: int = 10
    """Edges per feature: its most similar."""
    epochs: int = 300
    negatives: int = 5
    """Random features each feature is pushed from per epoch."""
    gravity: float = 0.02
    """Pull of every feature towards the centre: keeps groups with no edge between them from drifting apart,
    so the map is used, not a few dots at its corners."""
    seed: int = 0


# UMAP's curve 1 / (1 + A d^2B) for a minimum distance of 0.1: points of a group keep apart a little,
# so each stays clickable
A, B = 1.577, 0.895
SPAN = 97.5  # percentile of |position| that the map's half-width shows


def cosine_similarity(directions: np.ndarray) -> np.ndarray:
    """[n, n] cosine of each pair of rows of ``directions`` (e.g. decoder directions)."""
    unit = unit_rows(directions)
    return unit @ unit.T


def neighbour_edges(similarity: np.ndarray, k: int) -> np.ndarray:
    """Undirected edges [m, 2] (i < j) joining each row of the [n, n] ``similarity`` to its ``k`` most similar."""
    n = len(similarity)
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((0, 2), np.int64)
    sims = np.array(similarity, np.float64)
    np.fill_diagonal(sims, -np.inf)  # not its own neighbour
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    edges = np.sort(np.stack([np.repeat(np.arange(n), k), nearest.ravel()], 1), axis=1)
    return np.unique(edges, axis=0)


def force_layout(n: int, edges: np.ndarray, init: np.ndarray, cfg: LayoutConfig) -> np.ndarray:
    """Positions [n, 2] from ``init`` after ``cfg.epochs`` of attraction along ``edges`` and repulsion from
    random nodes (the gradients of UMAP's cross-entropy) and a pull to the centre, each axis scaled to [-1, 1]."""
    rng = np.random.default_rng(cfg.seed)
    y = np.asarray(init, np.float64).copy()
    y = 10 * (y - y.mean(0)) / max(float(np.abs(y - y.mean(0)).max()), 1e-12) + rng.normal(0, 1e-3, y.shape)
    i, j = edges[:, 0], edges[:, 1]
    for epoch in range(cfg.epochs):
        rate = 1.0 - epoch / cfg.epochs
        diff = y[i] - y[j]
        d2 = np.maximum((diff ** 2).sum(1, keepdims=True), 1e-6)  # d2 ** (B - 1) is infinite at 0
        pull = np.clip(-2 * A * B * d2 ** (B - 1) / (1 + A * d2 ** B) * diff, -4, 4)
        step = np.stack([np.bincount(i, pull[:, a], n) - np.bincount(j, pull[:, a], n) for a in (0, 1)], 1)
        others = rng.integers(0, n, (n, cfg.negatives))
        diff = y[:, None, :] - y[others]
        d2 = (diff ** 2).sum(2, keepdims=True)
        push = np.clip(2 * B / ((1e-3 + d2) * (1 + A * d2 ** B)) * diff, -4, 4)
        push[others == np.arange(n)[:, None]] = 0
        step += push.sum(1) - cfg.gravity * y
        y += rate * step
    # scaled so that 97.5% of the features span the map: a small group with no edge to the rest drifts far
    # and would squeeze everyone else into the middle; beyond that it sits on the map's edge
    y -= np.median(y, 0)
    return np.clip(y / np.maximum(np.percentile(np.abs(y), SPAN, axis=0), 1e-12), -1, 1).astype(np.float32)


def feature_layout(similarity: np.ndarray, alive: np.ndarray, init: np.ndarray,
                   cfg: LayoutConfig | None = None) -> np.ndarray:
    """Map positions [d_sae, 2] of the features from their [d_sae, d_sae] ``similarity`` (co-firing or decoder
    cosine); NaN for dead ones.

    ``init`` [d_sae, 2] is where the layout starts (e.g. the principal components of the decoder): it fixes
    which way round the picture comes out, not its groups.
    """
    cfg = cfg or LayoutConfig()
    live = np.flatnonzero(alive)
    out = np.full((len(similarity), 2), np.nan, np.float32)
    if len(live) == 0:
        return out
    edges = neighbour_edges(np.asarray(similarity)[np.ix_(live, live)], cfg.neighbours)
    out[live] = force_layout(len(live), edges, np.asarray(init, np.float64)[live], cfg)
    return out
