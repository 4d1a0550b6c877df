import numpy as np
import pytest

from rlsae.analysis.labels import auroc_matrix, label_units, split_by_episode
from rlsae.envs.conjunctions import with_conjunctions


def _brute_auroc(score: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = score[positive], score[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auroc_matches_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    acts = np.maximum(rng.normal(size=(300, 5)), 0)  # ReLU: many tied zeros
    facts = rng.random((300, 3)) < [0.1, 0.5, 0.9]
    got = auroc_matrix(acts, facts, chunk=2)
    want = np.array([[_brute_auroc(acts[:, u], facts[:, f]) for f in range(3)] for u in range(5)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_fact_without_positives_is_nan() -> None:
    got = auroc_matrix(np.ones((10, 2)), np.zeros((10, 1), bool))
    assert np.isnan(got).all()


def test_split_keeps_episodes_whole() -> None:
    episodes = np.repeat(np.arange(10), 7)
    fit, held = split_by_episode(episodes, 0.3)
    assert not (set(episodes[fit]) & set(episodes[held])) and held.sum() == 21


def test_planted_detector_is_labeled_and_noise_is_not() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    dying = rng.random(n) < 0.05
    region = rng.random(n) < 0.3
    detector = dying * rng.uniform(1, 2, n) + (rng.random(n) < 0.01)  # fires on dying, rarely otherwise
    noise = np.maximum(rng.normal(size=n), 0)
    acts = np.stack([detector, noise], 1)
    labels = label_units(acts, {"dying": dying, "region_bl": region}, np.repeat(np.arange(40), n // 40),
                         descriptions={"dying": "a life is lost soon"})
    assert labels.label == ["a life is lost soon", None]
    assert labels.heldout_auroc[0] > 0.95 and labels.heldout_auroc[1] == pytest.approx(0.5, abs=0.1)
    assert labels.summary()["n_labeled"] == 1


def test_sparse_columns_rank_like_dense_ones_in_either_memory_order() -> None:
    rng = np.random.default_rng(2)
    acts = np.maximum(rng.normal(size=(400, 6)) - 1.5, 0)  # ~7% non-zero: the sparse path
    acts[:, 0] = rng.normal(size=400)  # negative values: the dense path
    acts[:50, 1] = 0.7  # ties among the non-zeros
    facts = rng.random((400, 2)) < [0.2, 0.6]
    want = np.array([[_brute_auroc(acts[:, u], facts[:, f]) for f in range(2)] for u in range(6)])
    np.testing.assert_allclose(auroc_matrix(acts, facts), want, atol=1e-12)
    np.testing.assert_allclose(auroc_matrix(np.asfortranarray(acts), facts, chunk=4), want, atol=1e-12)


def test_feature_firing_on_a_conjunction_gets_it_as_label_with_its_precision() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    region, facing = rng.integers(0, 9, n), rng.integers(0, 4, n)
    base = {**{f"pacman_region={r}": region == r for r in range(9)},
            **{f"pacman_facing={d}": facing == d for d in range(4)}}
    facts, text = with_conjunctions(base, {"pacman_region=6": "Pac-Man is in the bottom-left region",
                                           "pacman_facing=3": "Pac-Man faces left"})
    situation = facts["pacman_region=6 & pacman_facing=3"]  # ~2.8% of states
    exact = situation * rng.uniform(1, 2, n)
    # Fires on the situation and on as many other states again: precise half the time, AUROC still ~1.
    loose = exact + (~situation & (rng.random(n) < situation.mean())) * rng.uniform(0, 1, n)
    acts = np.stack([exact, loose], 1)
    labels = label_units(acts, facts, np.repeat(np.arange(60), n // 60), text)
    assert labels.label == ["Pac-Man is in the bottom-left region and faces left"] * 2
    assert labels.heldout_auroc[0] == pytest.approx(1.0) and labels.heldout_auroc[1] > 0.97
    assert labels.precision[0] == 1.0 and labels.precision[1] == pytest.approx(0.5, abs=0.1)
    # Against the broad facts alone the same precise feature misses most positives: AUROC ~0.6.
    broad = label_units(acts, base, np.repeat(np.arange(60), n // 60))
    assert broad.heldout_auroc[0] < 0.7 and broad.label == [None, None]


def test_sparse_auroc_against_rare_facts_matches_the_definition() -> None:
    rng = np.random.default_rng(4)
    acts = np.where(rng.random((2000, 3)) < 0.01, rng.uniform(0, 1, (2000, 3)), 0)  # ~20 active states each
    facts = rng.random((2000, 4)) < [0.003, 0.01, 0.05, 0.5]
    facts[acts[:, 0] > 0, 0] = True  # a rare fact that contains unit 0's firing
    want = np.array([[_brute_auroc(acts[:, u], facts[:, f]) for f in range(4)] for u in range(3)])
    np.testing.assert_allclose(auroc_matrix(acts, facts), want, atol=1e-12)


def test_a_fact_seen_in_one_episode_of_the_fit_split_is_never_chosen() -> None:
    rng = np.random.default_rng(5)
    episodes = np.repeat(np.arange(50), 100)
    fit, held = split_by_episode(episodes, 0.3)
    fluke = episodes == episodes[fit][0]  # where the unit happens to fire hardest: one fit episode
    lucky = fluke | (episodes == episodes[held][0])  # a fact true there and in one held-out episode
    broad = rng.random(len(episodes)) < 0.05
    acts = fluke * rng.uniform(2, 3, len(episodes)) + broad * rng.uniform(1, 2, len(episodes))
    # On the whole fit split "lucky" is detected perfectly (AUROC 1); it cannot be checked on both halves.
    labels = label_units(acts[:, None], {"lucky": lucky, "broad": broad}, episodes)
    assert labels.fact == ["broad"] and labels.heldout_auroc[0] > 0.9
