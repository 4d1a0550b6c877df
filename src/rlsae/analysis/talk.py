"""The features a game's spec names for interpret to look for (``GameSpec.talk_features``), found
automatically: e.g. the seed talk's "the player is dead" and "heading for a power pill, not turning around".

Each is the unit that best detects one of the feature's facts, chosen on the fitting split (among the units
precise enough for it there) and reported on held-out episodes (``labels.best_unit``); it is ``found`` when
it meets the spec's held-out bar. Its action effect says which joystick directions it pushes. A game whose
spec names none, or a recording without their facts, reports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from rlsae.analysis.labels import BestUnit, Labels, best_unit
from rlsae.envs.games.spec import GameSpec


@dataclass(frozen=True)
class TalkUnit:
    """One of a spec's talk features as interpret found it: the unit chosen and whether it meets the bar."""

    key: str
    title: str
    bar: str
    """What ``found`` asks of the unit on held-out episodes, e.g. "held-out precision >= 0.9 at recall >= 0.8"."""
    best: BestUnit | None
    """None: no live unit to score."""
    found: bool = False
    encourages: list[str] = field(default_factory=list)
    """The two actions its decoder direction pushes most (empty without a linear Q-head)."""
    discourages: list[str] = field(default_factory=list)


def find_talk_features(labels: Labels, units: np.ndarray, action_effect: np.ndarray | None,
                       descriptions: dict[str, str], spec: GameSpec) -> list[TalkUnit]:
    """One entry for each of ``spec.talk_features`` whose facts the recording has: the chosen unit with its
    held-out numbers, whether it meets the bar (``found``), and (given ``action_effect`` [u, n_actions],
    named by the spec's actions) the actions it pushes."""
    out = []
    for feature in spec.talk_features:
        if not any(name.startswith(feature.prefixes) for name in labels.fact_names):
            continue
        bar = (f"held-out precision >= {feature.min_precision}"
               + (f" at recall >= {feature.min_recall}" if feature.min_recall else ""))
        best = best_unit(labels, feature.prefixes, units, min_fit_precision=feature.fit_precision)
        if best is None:
            out.append(TalkUnit(feature.key, feature.title, bar, None))
            continue
        best = replace(best, description=descriptions.get(best.fact, best.fact))
        s = best.scores
        found = bool(s.firings >= labels.rule.min_firings and np.nan_to_num(s.precision) >= feature.min_precision
                     and np.nan_to_num(s.recall) >= feature.min_recall)
        encourages: list[str] = []
        discourages: list[str] = []
        if action_effect is not None:
            effect = action_effect[best.unit]
            order = np.argsort(-effect)
            names = spec.action_names
            names = names if len(names) == len(effect) else [f"action {i}" for i in range(len(effect))]
            encourages, discourages = [names[i] for i in order[:2]], [names[i] for i in order[-2:][::-1]]
        out.append(TalkUnit(feature.key, feature.title, bar, best, found, encourages, discourages))
    return out


def format_talk_features(talk: list[TalkUnit], kind: str = "feature") -> str:
    """A line per talk feature the recording has facts for: its numbers, or why it was not found."""
    lines = []
    for t in talk:
        if t.best is None:
            lines.append(f"{t.title}: no live unit to score")
            continue
        b, s = t.best, t.best.scores
        verdict = "found" if t.found else f"NOT found (needs {t.bar})"
        arrows = (f"; pushes {'/'.join(t.encourages)}, against {'/'.join(t.discourages)}" if t.encourages else "")
        lines.append(f"{t.title}: {kind} {b.unit} - {b.description}: held-out precision "
                     f"{s.precision:.2f}, recall {s.recall:.2f}, F1 {s.f1:.2f}, lift "
                     f"{s.lift:.1f}, {s.firings:.0f} firings above {s.threshold:.0%} of max, "
                     f"AUROC {s.auroc:.3f}{arrows} - {verdict}")
    return "\n".join(lines)
