"""Group related features by decoder direction and name each group from its members' labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Clusters:
    assignment: np.ndarray  # [d_sae] cluster id, -1 for dead features
    names: list[str]
    members: list[list[int]]



def unit_rows(x: torch.Tensor | np.ndarray, dtype: type | None = None) -> np.ndarray:
    """The rows of ``x`` (e.g. decoder directions) scaled to unit length, as a numpy array (of ``dtype`` if
    given); an all-zero row stays zero."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

def spherical_kmeans(directions: torch.Tensor | np.ndarray, k: int, iterations: int = 30,
                     seed: int = 0) -> np.ndarray:
    """k-means on the unit sphere (cosine similarity): cluster id per row.

    Centres start from farthest-point seeding, so well-separated groups each get a centre. NumPy, not
    torch: these are many small products, where torch's thread start-up dominates on a busy machine.
    """
    x = unit_rows(directions, np.float32)
    chosen = [int(np.random.default_rng(seed).integers(len(x)))]
    closeness = x @ x[chosen[0]]
    for _ in range(1, k):
        chosen.append(int(closeness.argmin()))
        closeness = np.maximum(closeness, x @ x[chosen[-1]])
    centres = x[chosen].copy()
    for _ in range(iterations):
        assignment = (x @ centres.T).argmax(1)
        sums = np.eye(k, dtype=np.float32)[assignment].T @ x
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centres)
    return (x @ centres.T).argmax(1)


def cluster_features(decoder: torch.Tensor, alive: np.ndarray, labels: list[str | None],
                     features_per_cluster: int = 16, seed: int = 0) -> Clusters:
    """Cluster the live features' decoder rows; name a cluster by its most common member label."""
    assignment = np.full(len(alive), -1)
    live = np.flatnonzero(alive)
    k = max(1, min(len(live), len(live) // features_per_cluster))
    if len(live):
        assignment[live] = spherical_kmeans(decoder[torch.as_tensor(live)], k, seed=seed)
    used = sorted(set(assignment[live].tolist()))
    renumber = {old: new for new, old in enumerate(used)}
    assignment[live] = [renumber[a] for a in assignment[live]]
    members = [np.flatnonzero(assignment == c).tolist() for c in range(len(used))]
    names = []
    for group in members:
        counts = Counter(labels[i] for i in group if labels[i] is not None)
        if counts:
            label, count = counts.most_common(1)[0]
            names.append(f"{label} ({count}/{len(group)})")
        else:
            names.append(f"unlabeled ({len(group)} features)")
    return Clusters(assignment, names, members)


def feature_map(decoder: torch.Tensor | np.ndarray) -> np.ndarray:
    """2-D coordinates [d_sae, 2] of the features: the first two principal components of their unit decoder
    directions (features that write alike land together), each axis scaled to [-1, 1]."""
    d = unit_rows(decoder, np.float64)
    d -= d.mean(0)
    _, _, vt = np.linalg.svd(d, full_matrices=False)
    xy = d @ vt[:2].T
    return (xy / np.maximum(np.abs(xy).max(0), 1e-12)).astype(np.float32)
