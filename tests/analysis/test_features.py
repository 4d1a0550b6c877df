import numpy as np
import torch

from rlsae.analysis.clusters import cluster_features, feature_map
from rlsae.analysis.features import MIN_STEP_GAP, action_effects, activation_histograms, example_states


def test_action_effect_is_the_q_change_of_adding_the_decoder_direction() -> None:
    head = torch.nn.Linear(512, 9)
    decoder = torch.randn(32, 512)
    hidden = torch.rand(4, 512)
    effects = action_effects(head.weight, decoder)
    with torch.no_grad():
        delta = head(hidden + 3.0 * decoder[5]) - head(hidden)
    np.testing.assert_allclose(delta.numpy(), np.broadcast_to(3.0 * effects[5], (4, 9)), rtol=1e-4, atol=1e-4)


def test_examples_are_ordered_and_from_the_right_quantiles() -> None:
    rng = np.random.default_rng(0)
    features = np.where(rng.random((1000, 3)) < 0.3, rng.random((1000, 3)), 0.0)
    features[:, 2] = 0.0  # a dead feature
    examples = example_states(features, n_top=5, n_per_quantile=3)
    title, top = examples.groups[0][0]
    assert title == "top activations"
    np.testing.assert_array_equal(top, np.argsort(-features[:, 0])[:5])
    active = features[features[:, 0] > 0, 0]
    for title, idx in examples.groups[0][1:]:
        low = float(title.split()[1].split("-")[0].rstrip("%")) / 100
        assert (features[idx, 0] >= np.quantile(active, low) - 1e-9).all() and len(idx) <= 3
    assert examples.groups[2] == []
    hist = activation_histograms(features, bins=10)
    assert sum(hist[1]["counts"]) == (features[:, 1] > 0).sum() and hist[2]["counts"] == []


def test_top_examples_take_one_moment_once() -> None:
    """Episode 0 holds the 10 strongest states, consecutive steps of one moment: the top shows it once."""
    episodes = np.repeat(np.arange(4), 100)
    steps = np.tile(np.arange(100), 4)
    column = np.zeros(400)
    column[40:50] = np.linspace(10, 9, 10)          # one moment, episode 0
    column[[120, 250, 390]] = [5.0, 4.0, 3.0]       # one state in each other episode
    column[[75, 95]] = [2.0, 1.5]                   # episode 0 again: 35 steps after the moment, then 20 more
    top = example_states(column[:, None], n_top=4, n_per_quantile=0, episodes=episodes, steps=steps).groups[0][0][1]
    np.testing.assert_array_equal(top, [40, 120, 250, 390])
    top = example_states(column[:, None], n_top=6, n_per_quantile=0, episodes=episodes, steps=steps).groups[0][0][1]
    # a second state of episode 0 only MIN_STEP_GAP (32) steps from the first: 75 yes, 95 (20 after 75) no
    assert MIN_STEP_GAP == 32
    np.testing.assert_array_equal(top, [40, 120, 250, 390, 75])
    assert list(example_states(column[:, None], n_top=4, n_per_quantile=0).groups[0][0][1]) == [40, 41, 42, 43]


def test_clusters_group_similar_directions_and_take_their_name_from_labels() -> None:
    base = torch.eye(4, 16)
    decoder = torch.cat([base[i] + 0.05 * torch.randn(8, 16) for i in range(4)])
    labels = ["pill"] * 8 + [None] * 8 + ["dying"] * 6 + [None] * 2 + [None] * 8
    alive = np.ones(32, bool)
    alive[-1] = False
    clusters = cluster_features(decoder, alive, labels, features_per_cluster=7)
    assert clusters.assignment[-1] == -1
    for group in range(4):
        ids = set(clusters.assignment[group * 8:group * 8 + 7].tolist())
        assert len(ids) == 1  # each planted direction's features share one cluster
    assert any(name.startswith("pill (8/8)") for name in clusters.names)
    assert any(name.startswith("dying (6/8)") for name in clusters.names)


def test_the_feature_map_puts_alike_directions_together() -> None:
    torch.manual_seed(0)
    base = torch.eye(3, 32)
    decoder = torch.cat([base[i] * (1 + i) + 0.02 * torch.randn(10, 32) for i in range(3)])  # norms differ
    xy = feature_map(decoder)
    assert xy.shape == (30, 2) and abs(np.abs(xy).max() - 1.0) < 1e-6
    groups = [xy[i * 10:(i + 1) * 10] for i in range(3)]
    spread = max(np.linalg.norm(g - g.mean(0), axis=1).max() for g in groups)
    gaps = min(np.linalg.norm(groups[i].mean(0) - groups[j].mean(0)) for i in range(3) for j in range(i))
    assert gaps > 10 * spread
