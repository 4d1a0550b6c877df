import numpy as np
import pytest

from rlsae.analysis.labels import LabelRule, auroc_matrix, label_units, split_by_episode
from rlsae.envs.conjunctions import with_conjunctions
from rlsae.envs.games.ms_pacman import CONJUNCTION_GROUPS


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
    detector = dying * rng.uniform(1, 2, n) + 0.3 * (rng.random(n) < 0.01)  # weakly on 1% of the rest
    noise = np.maximum(rng.normal(size=n), 0)
    always = rng.uniform(1, 2, n)  # fires on everything: precision = base rate, never a label
    acts = np.stack([detector, noise, always], 1)
    labels = label_units(acts, {"dying": dying, "region_bl": region}, np.repeat(np.arange(40), n // 40),
                         descriptions={"dying": "a life is lost soon"})
    assert labels.label == ["a life is lost soon", None, None]
    # The detector's weak firings (0.3) stay under a threshold of 20% of its max (~2.3): F1 ~1.
    assert labels.at_label.f1[0] > 0.95 and labels.at_label.precision[0] > 0.95 and labels.at_label.lift[0] > 15
    assert labels.at_label.auroc[0] > 0.95 and labels.at_label.auroc[1] == pytest.approx(0.5, abs=0.1)
    assert labels.summary().n_labeled == 1
    assert labels.summary().mean_label_f1 == pytest.approx(labels.at_label.f1[0])


def test_perfect_detector_of_a_rare_fact_scores_f1_one() -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    rare = rng.random(n) < 0.005  # ~100 states
    acts = (rare * rng.uniform(0.5, 3, n))[:, None]
    labels = label_units(acts, {"rare": rare, "common": rng.random(n) < 0.4}, np.repeat(np.arange(100), n // 100))
    assert labels.fact == ["rare"] and labels.label == ["rare"]
    assert labels.at_label.f1[0] == 1.0 and labels.at_label.precision[0] == 1.0 and labels.at_label.recall[0] == 1.0
    assert labels.at_label.threshold[0] == 0.0  # any firing counts: the lowest threshold loses no positive


def test_rule_needs_lift_or_f1_and_enough_firings() -> None:
    rule = LabelRule()
    precision, lift, f1 = np.array([0.9, 0.9, 0.3, 0.9]), np.array([5.0, 1.2, 2.0, 9.0]), np.array([0.1, 0.1, 0.6, 0.9])
    np.testing.assert_array_equal(rule.passes(precision, lift, f1, np.array([50, 50, 50, 9])),
                                  [True, False, True, False])
    assert "precision >= 0.8" in str(rule) and "F1 >= 0.5" in str(rule)


def test_precise_but_narrow_feature_is_labeled_by_precision() -> None:
    rng = np.random.default_rng(5)
    n = 10_000
    fact = rng.random(n) < 0.1
    narrow = (fact & (rng.random(n) < 0.2)) * rng.uniform(1, 2, n)  # 20% of the fact, nothing else
    labels = label_units(narrow[:, None], {"fact": fact}, np.repeat(np.arange(50), n // 50))
    assert labels.at_label.f1[0] < 0.5 and labels.at_label.precision[0] == 1.0 and labels.at_label.lift[0] > 5
    assert labels.label == ["fact"]


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
                                           "pacman_facing=3": "Pac-Man faces left"}, CONJUNCTION_GROUPS)
    situation = facts["pacman_region=6 & pacman_facing=3"]  # ~2.8% of states
    exact = situation * rng.uniform(1, 2, n)
    # Fires on the situation and on as many other states again, but weaker: a threshold separates them.
    loose = exact + (~situation & (rng.random(n) < situation.mean())) * rng.uniform(0, 0.4, n)
    acts = np.stack([exact, loose], 1)
    labels = label_units(acts, facts, np.repeat(np.arange(60), n // 60), text)
    assert labels.label == ["Pac-Man is in the bottom-left region and faces left"] * 2
    assert labels.at_label.f1[0] == pytest.approx(1.0) and labels.at_label.precision[0] == 1.0
    # above 20% of max the extra firings vanish
    assert labels.at_label.threshold[1] >= 0.2 and labels.at_label.f1[1] > 0.95
    # Against the broad facts alone the precise feature is still precise, with lift ~9 over "region 6".
    broad = label_units(acts, base, np.repeat(np.arange(60), n // 60))
    assert broad.fact[0] == "pacman_region=6" and broad.at_label.precision[0] == 1.0 and broad.label[0] is not None
