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


def spherical_kmeans(directions: torch.Tensor, k: int, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """k-means on the unit sphere (cosine similarity): cluster id per row.

    Centres start from farthest-point seeding, so well-separated groups each get a centre.
    """
    x = torch.nn.functional.normalize(directions.float(), dim=1)
    generator = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(len(x), (1,), generator=generator))]
    for _ in range(1, k):
        closeness = (x @ x[chosen].T).max(1).values
        chosen.append(int(closeness.argmin()))
    centres = x[chosen].clone()
    for _ in range(iterations):
        assignment = (x @ centres.T).argmax(1)
        for c in range(k):
            members = x[assignment == c]
            if len(members):
                centres[c] = torch.nn.functional.normalize(members.sum(0), dim=0)
    return (x @ centres.T).argmax(1).numpy()


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
