"""The feature map's layout: planted groups of decoder directions come out as separate groups on the map."""

from __future__ import annotations

import numpy as np

from rlsae.analysis.clusters import feature_map
from rlsae.browser.layout import LayoutConfig, cosine_similarity, feature_layout, neighbour_edges


def silhouette(xy: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of 2-D points: (nearest other group's mean distance - own group's) / the larger; 1 = apart."""
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(2))
    groups = np.unique(labels)
    own = np.array([d[i, (labels == labels[i]) & (np.arange(len(xy)) != i)].mean() for i in range(len(xy))])
    other = np.array([min(d[i, labels == g].mean() for g in groups if g != labels[i]) for i in range(len(xy))])
    return float(np.mean((other - own) / np.maximum(own, other)))


def planted(groups: int, per_group: int = 40, dim: int = 64, noise: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(groups), per_group)
    return rng.normal(size=(groups, dim))[labels] + noise * rng.normal(size=(len(labels), dim)), labels


def test_four_planted_groups_separate_on_the_map() -> None:
    directions, labels = planted(4)
    xy = feature_layout(cosine_similarity(directions), np.ones(len(labels), bool), feature_map(directions),
                        LayoutConfig(epochs=200))
    assert xy.shape == (len(labels), 2) and np.abs(xy).max() <= 1.0 + 1e-6
    assert silhouette(xy, labels) > 0.7


def test_the_layout_shows_groups_the_principal_components_mix() -> None:
    directions, labels = planted(12, per_group=20)
    pca = feature_map(directions)
    xy = feature_layout(cosine_similarity(directions), np.ones(len(labels), bool), pca, LayoutConfig(epochs=200))
    assert silhouette(xy, labels) > 0.7 and silhouette(xy, labels) > silhouette(pca, labels) + 0.2


def test_dead_features_are_not_placed_and_edges_join_nearest_directions() -> None:
    directions, labels = planted(2, per_group=10)
    alive = np.ones(len(labels), bool)
    alive[[0, 15]] = False
    xy = feature_layout(cosine_similarity(directions), alive, feature_map(directions), LayoutConfig(epochs=50))
    assert np.isnan(xy[~alive]).all() and np.isfinite(xy[alive]).all()
    edges = neighbour_edges(cosine_similarity(directions), 3)
    assert (edges[:, 0] < edges[:, 1]).all() and (labels[edges[:, 0]] == labels[edges[:, 1]]).all()
