"""The seed talk's two features, found automatically: "Pac-Man is dead" and "heading for a power pill,
not turning around" (the talk's #1410 and #55).

(a) "Pac-Man is dead": the feature that best detects the death animation (fact ``dead``: caught, the life
not yet taken); found when its held-out precision is >= 0.9 at recall >= 0.8.
(b) "heading for a specific power pill, not reversing": the feature that best detects one of the
``heading_to_pill_*`` facts among those precise for it on the fitting split; found at held-out precision
>= 0.8. Its action effect says which joystick directions it pushes.

Both are chosen on the fitting split and reported on held-out episodes (``labels.best_unit``). They are
defined by Ms. Pac-Man's facts: on a game without them there is nothing to find and nothing is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.analysis.labels import Labels, best_unit
from rlsae.analysis.results import SUMMARY

DEAD = {"fact": ("dead",), "min_precision": 0.9, "min_recall": 0.8}
HEADING = {"fact": ("heading_to_pill_",), "min_precision": 0.8}


def find_talk_features(labels: Labels, units: np.ndarray, action_effect: np.ndarray | None,
                       descriptions: dict[str, str], action_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """{"dead": ..., "heading_to_pill": ...}: each the chosen unit with its held-out numbers, whether it
    meets the talk's bar (``found``), and (given ``action_effect`` [u, n_actions], named by
    ``action_names``) the actions it pushes. A feature whose facts the recording lacks is left out."""
    out: dict[str, Any] = {}
    for key, spec, precision in (("dead", DEAD, 0.0), ("heading_to_pill", HEADING, HEADING["min_precision"])):
        if not any(name.startswith(spec["fact"]) for name in labels.fact_names):
            continue
        best = best_unit(labels, spec["fact"], units, min_fit_precision=precision)
        if best is None:
            out[key] = None
            continue
        best["description"] = descriptions.get(best["fact"], best["fact"])
        best["found"] = bool(best["firings"] >= labels.rule.min_firings
                             and np.nan_to_num(best["precision"]) >= spec["min_precision"]
                             and np.nan_to_num(best["recall"]) >= spec.get("min_recall", 0.0))
        best["bar"] = (f"held-out precision >= {spec['min_precision']}"
                       + (f" at recall >= {spec['min_recall']}" if "min_recall" in spec else ""))
        if action_effect is not None:
            effect = action_effect[best["unit"]]
            order = np.argsort(-effect)
            names = action_names if len(action_names) == len(effect) else [f"action {i}" for i in range(len(effect))]
            best["encourages"] = [names[i] for i in order[:2]]
            best["discourages"] = [names[i] for i in order[-2:][::-1]]
        out[key] = best
    return out


def format_talk_features(talk: dict[str, Any], kind: str = "feature") -> str:
    """A line per talk feature the recording has facts for: its numbers, or why it was not found."""
    lines = []
    for key, title in (("dead", "'Pac-Man is dead'"), ("heading_to_pill", "'heading for a power pill'")):
        if key not in talk:
            continue
        best = talk[key]
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


def describe_talk_features(interpret_dir: Path) -> str:
    """The talk's two features as found by ``rlsae interpret`` in ``interpret_dir`` (for the demo)."""
    summary = json.loads((Path(interpret_dir) / SUMMARY).read_text())
    return format_talk_features(summary.get("talk_features", {}))
