"""The facts a feature page lists: ranked by held-out F1, conjunctions folded under their first part."""

from __future__ import annotations

import numpy as np

from rlsae.browser.facts import UNSCORED, ranked_facts

NAMES = ["ghost_near", "pill_near", "ghost_near & dying", "pill_near & dying", "dying", "fruit & dying",
         "ghost_near & fruit"]


def _ranked(f1: list[float], auroc: list[float] | None = None, shown: int = 8):
    auroc = auroc if auroc is not None else [0.5 + 0.05 * i for i in range(len(NAMES))]
    return ranked_facts(NAMES, [f"says {n}" for n in NAMES], np.array(auroc), np.array(f1), shown)


def test_facts_are_ranked_by_f1_not_auroc() -> None:
    # pill_near has the best AUROC but ghost_near the best F1
    facts = _ranked([0.6, 0.2, np.nan, -1.0, 0.1, np.nan, np.nan], auroc=[0.7, 0.99, 0.5, 0.5, 0.95, 0.5, 0.5])
    assert [f.fact for f in facts] == ["ghost_near", "pill_near", "dying", "fruit"]
    assert facts[0].f1 == 0.6 and facts[0].auroc == 0.7 and facts[0].description == "says ghost_near"


def test_conjunctions_fold_under_their_base_fact_ranked_by_the_best_of_the_group() -> None:
    facts = _ranked([0.1, 0.3, 0.8, 0.2, 0.05, 0.5, 0.4])
    # ghost_near leads through its variant (0.8); fruit is no fact of its own: a row without scores
    assert [f.fact for f in facts] == ["ghost_near", "fruit", "pill_near", "dying"]
    assert [v.fact for v in facts[0].variants] == ["ghost_near & dying", "ghost_near & fruit"]
    assert [v.f1 for v in facts[0].variants] == [0.8, 0.4]
    assert facts[1].f1 is None and facts[1].auroc is None and facts[1].description == UNSCORED
    assert [v.fact for v in facts[1].variants] == ["fruit & dying"]
    assert [v.fact for v in facts[2].variants] == ["pill_near & dying"] and not facts[3].variants


def test_shown_caps_the_base_facts_and_never_fired_scores_are_none() -> None:
    facts = _ranked([0.1, 0.3, 0.8, -1.0, 0.05, 0.5, 0.4], shown=2)
    assert [f.fact for f in facts] == ["ghost_near", "fruit"]
    # only the variants ranked above the first base left out (pill_near, 0.3) are kept
    assert [v.fact for v in facts[0].variants] == ["ghost_near & dying", "ghost_near & fruit"]
    everything = _ranked([0.1, 0.3, 0.8, -1.0, 0.05, 0.5, 0.4])
    pill = next(f for f in everything if f.fact == "pill_near")
    assert pill.variants[0].f1 is None  # fired above its threshold on no held-out state
