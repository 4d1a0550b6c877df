"""Conjunctions of two game facts: the specific situations sparse features detect.

An SAE feature fires on a few percent of states, in one situation ("in the bottom-left region, facing
left"). Scored against a broad fact it contains only part of ("facing left"), even a perfectly precise
feature has a low AUROC: it misses most of the fact's states. So features are also scored against
pairs of boolean facts from different groups of the game's ``conjunction_groups`` (rlsae.envs.games:
facts in one group describe the same thing, so they are never paired). Pairs true on too few states
(their AUROC cannot be estimated) or equal to one of their parts (nothing new) are left out.
"""

from __future__ import annotations

import numpy as np

MIN_RATE = 0.002  # a pair must hold on >= 0.2% of states (~60 held-out states in 100k) to be scored
SEPARATOR = " & "


def conjunction_description(first: str, second: str) -> str:
    """``first`` and ``second`` as one sentence, the words they start with said once.

    "Pac-Man is in the bottom-left region" + "Pac-Man faces left" -> "... region and faces left".
    """
    a, b = first.split(), second.split()
    shared = 0
    while shared < min(len(a), len(b)) - 1 and a[shared] == b[shared]:
        shared += 1
    return f"{first} and {' '.join(b[shared:])}"


def _group_members(names: list[str], groups: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    """The names in ``names`` of each of ``groups`` (``binary_facts`` names or their prefix before "=")."""
    return [[n for n in names if n.split("=")[0] in group] for group in groups]


def with_conjunctions(facts: dict[str, np.ndarray], descriptions: dict[str, str],
                      groups: tuple[tuple[str, ...], ...],
                      min_rate: float = MIN_RATE) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``facts`` (boolean, from ``binary_facts``) plus every informative pair from two different ``groups``.

    A pair is kept when it holds on at least ``min_rate`` and at most ``1 - min_rate`` of the states and
    differs from both of its parts. Returns the facts and their descriptions (conjunctions named
    ``"a & b"``, described as one sentence).
    """
    out, text = dict(facts), dict(descriptions)
    members = _group_members(list(facts), groups)
    for i, first_group in enumerate(members):
        for second_group in members[i + 1:]:
            for a in first_group:
                for b in second_group:
                    both = facts[a] & facts[b]
                    count = int(both.sum())
                    if not min_rate <= count / len(both) <= 1 - min_rate:
                        continue
                    if count in (int(facts[a].sum()), int(facts[b].sum())):  # one part implies the other
                        continue
                    name = f"{a}{SEPARATOR}{b}"
                    out[name] = both
                    text[name] = conjunction_description(descriptions.get(a, a), descriptions.get(b, b))
    return out, text
