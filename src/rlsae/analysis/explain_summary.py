"""Compositional explanations as `rlsae interpret` keeps them: per unit, and over a kind of unit.

The search and its scores are analysis/explain.py's. This module holds what the interpret folder, its
summary and the browser read: per unit (an SAE feature or a neuron) the formula in words, its held-out
scores and whether it passes the rule (``UnitExplanations``, arrays over units); over the live units of one
kind, how many are explained and how well is the engine's own ``ExplainSummary`` (part of ``UnitStats``).
The literals are built from the facts interpret already decoded, over its own states and its own held-out
episodes (``state_literals``), so a feature's label and its explanation are scored on the same states.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from rlsae.analysis.explain import Explanations, ExplanationScores
from rlsae.analysis.literals import Literals, game_literals
from rlsae.record.recording import Recording

EXPLANATION_SCORES = tuple(f.name for f in fields(ExplanationScores))


@dataclass(frozen=True)
class UnitExplanations:
    """Per unit: its explanation in words (None: the unit fires on too few fitting states to search), that
    explanation's held-out scores (one [u] array per ``ExplanationScores`` field, NaN without a formula) and
    whether it passes the rule."""

    formula: list[str | None]
    scores: dict[str, np.ndarray]
    explained: np.ndarray

    @classmethod
    def of(cls, found: Explanations) -> UnitExplanations:
        units = found.units
        scores = {name: np.array([np.nan if e is None else getattr(e.scores, name) for e in units], np.float32)
                  for name in EXPLANATION_SCORES}
        return cls([None if e is None else e.formula for e in units], scores,
                   np.array([e is not None and e.explained for e in units], bool))

    @classmethod
    def none(cls, n_units: int) -> UnitExplanations:
        """No explanations (a game without facts has no literals to make them of)."""
        return cls([None] * n_units, {name: np.full(n_units, np.nan, np.float32) for name in EXPLANATION_SCORES},
                   np.zeros(n_units, bool))

    def unit(self, i: int) -> ExplanationScores | None:
        """Unit ``i``'s scores as Python numbers; None where it has no formula."""
        if self.formula[i] is None:
            return None
        return ExplanationScores(**{name: self.scores[name][i].item() for name in EXPLANATION_SCORES})

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The numbers as named arrays, ``<prefix>explained`` and ``<prefix>explain_<score>`` (features.npz)."""
        return {f"{prefix}explained": self.explained,
                **{f"{prefix}explain_{name}": values for name, values in self.scores.items()}}

    @classmethod
    def read(cls, arrays: dict[str, Any], formula: list[str | None], prefix: str) -> UnitExplanations:
        """The inverse of :meth:`arrays` (the arrays are taken out of ``arrays``) with the formulas."""
        return cls(formula, {name: arrays.pop(f"{prefix}explain_{name}") for name in EXPLANATION_SCORES},
                   np.asarray(arrays.pop(f"{prefix}explained"), bool))


def state_literals(rec: Recording, states: np.ndarray, decoded: dict[str, np.ndarray],
                   held: np.ndarray) -> Literals:
    """The game's literals over the recording's ``states`` (rows in the order of ``states``, as ``decoded``,
    ``state_facts``' arrays, and the ``held``-out mask are), thresholds taken on the states not held out.

    The shifted literals look along each episode, so they are built in play order and put back."""
    ids = np.asarray(rec.episode_ids[states])
    order = np.lexsort((np.asarray(rec.episode_steps[states]), ids))
    played = game_literals({name: values[order] for name, values in decoded.items()}, rec.manifest["game"],
                           ids[order], ~np.asarray(held, bool)[order])
    back = np.argsort(order)
    places = None if played.places is None else replace(played.places, tiles=played.places.tiles[back])
    return Literals(played.names, played.values[back], places)
