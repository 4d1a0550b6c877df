"""The game facts a feature page lists: ranked by held-out F1, conjunctions folded under their base fact.

Interpret scores every feature against every fact and every informative pair of facts ("X & dying",
:mod:`rlsae.envs.conjunctions`). Listed by AUROC, a page fills with near-identical pairs sharing a part and
the detector the feature really is (high precision and recall) sinks below facts it merely ranks well.
So the list is ranked by held-out F1, and each pair is shown as a variant of its first part: one row per
base fact (its own scores), ranked by the best F1 among it and its variants.
"""

from __future__ import annotations

import numpy as np

from rlsae.browser.data import FactScore
from rlsae.envs.conjunctions import SEPARATOR

MAX_VARIANTS = 6  # per base fact; more say little more
UNSCORED = "scored only together with another fact"  # a base fact interpret did not score alone


def _number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def ranked_facts(names: list[str], descriptions: list[str], auroc: np.ndarray, f1: np.ndarray,
                 shown: int) -> list[FactScore]:
    """The ``shown`` base facts with the best held-out ``f1`` of one feature, each with the conjunction variants
    that rank above the first base fact left out.

    ``auroc`` and ``f1`` hold the feature's held-out scores, one per name (NaN or negative F1: never fired
    above its threshold, ranked last). A base fact that is not itself among ``names`` gets a row without
    scores.
    """
    index = {name: j for j, name in enumerate(names)}
    rank = np.where(np.isfinite(f1) & (f1 >= 0), f1, -1.0)
    groups: dict[str, FactScore] = {}

    def score(j: int) -> FactScore:
        return FactScore(names[j], _number(auroc[j]), descriptions[j], f1=_number(rank[j]) if rank[j] >= 0 else None)

    for j in np.argsort(-rank, kind="stable").tolist():
        base = names[j].split(SEPARATOR)[0]
        if base not in groups:
            if len(groups) == shown:  # the variants shown are those ranked above the first base left out
                break
            groups[base] = score(index[base]) if base in index else FactScore(base, None, UNSCORED)
        if base != names[j] and len(groups[base].variants) < MAX_VARIANTS:
            groups[base].variants.append(score(j))
    return list(groups.values())
