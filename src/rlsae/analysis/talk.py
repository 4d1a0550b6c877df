"""The features a game's spec names for interpret to look for (``GameSpec.talk_features``), found
automatically: e.g. the seed talk's "the player is dead" and "heading for a power pill, not turning around".

Each is the unit that best detects one of the feature's facts, chosen on the fitting split (among the units
precise enough for it there) and reported on held-out episodes (``labels.best_unit``); it is ``found`` when
it meets the spec's held-out bar. Its action effect says which joystick directions it pushes. A game whose
spec names none, or a recording without their facts, reports nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlsae.analysis.labels import Labels, best_unit
from rlsae.envs.games.spec import GameSpec


def find_talk_features(labels: Labels, units: np.ndarray, action_effect: np.ndarray | None,
                       descriptions: dict[str, str], spec: GameSpec) -> dict[str, Any]:
    """{key: ...} for each of ``spec.talk_features``: the chosen unit with its held-out numbers, its
    ``title``, whether it meets the bar (``found``), and (given ``action_effect`` [u, n_actions], named by
    the spec's actions) the actions it pushes. A feature whose facts the recording lacks is left out."""
    out: dict[str, Any] = {}
    for feature in spec.talk_features:
        if not any(name.startswith(feature.prefixes) for name in labels.fact_names):
            continue
        best = best_unit(labels, feature.prefixes, units, min_fit_precision=feature.fit_precision)
        if best is None:
            out[feature.key] = None
            continue
        best["title"] = feature.title
        best["description"] = descriptions.get(best["fact"], best["fact"])
        best["found"] = bool(best["firings"] >= labels.rule.min_firings
                             and np.nan_to_num(best["precision"]) >= feature.min_precision
                             and np.nan_to_num(best["recall"]) >= feature.min_recall)
        best["bar"] = (f"held-out precision >= {feature.min_precision}"
                       + (f" at recall >= {feature.min_recall}" if feature.min_recall else ""))
        if action_effect is not None:
            effect = action_effect[best["unit"]]
            order = np.argsort(-effect)
            names = spec.action_names
            names = names if len(names) == len(effect) else [f"action {i}" for i in range(len(effect))]
            best["encourages"] = [names[i] for i in order[:2]]
            best["discourages"] = [names[i] for i in order[-2:][::-1]]
        out[feature.key] = best
    return out


def format_talk_features(talk: dict[str, Any], kind: str = "feature") -> str:
    """A line per talk feature the recording has facts for: its numbers, or why it was not found."""
    lines = []
    for key, best in talk.items():
        # summaries written before the title was stored (and a feature without a live unit) show the key
        title = (best or {}).get("title", f"'{key.replace('_', ' ')}'")
        if best is None:
            lines.append(f"{title}: no live unit to score")
            continue
        verdict = "found" if best["found"] else f"NOT found (needs {best['bar']})"
        arrows = (f"; pushes {'/'.join(best['encourages'])}, against {'/'.join(best['discourages'])}"
                  if "encourages" in best else "")
        lines.append(f"{title}: {kind} {best['unit']} - {best['description']}: held-out precision "
                     f"{best['precision']:.2f}, recall {best['recall']:.2f}, F1 {best['f1']:.2f}, lift "
                     f"{best['lift']:.1f}, {best['firings']} firings above {best['threshold']:.0%} of max, "
                     f"AUROC {best['auroc']:.3f}{arrows} - {verdict}")
    return "\n".join(lines)

