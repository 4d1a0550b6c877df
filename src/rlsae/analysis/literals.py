"""The words explanations are made of: literals over the game's facts, now and a few steps away.

A literal is one boolean column over the states: a boolean fact as it is ("ghosts_frightened"); a
threshold on a numeric fact ("nearest_ghost_distance <= 24"), at values taken from a few quantiles of the
fitting split only, so no held-out state shapes the words that are scored on it; and, for the facts named
temporal (events first: a dot eaten, a life lost), the same fact shifted in time, "F 3 steps ago", "F in
3 steps" and "F within the next 3 steps". A shift never looks across an episode boundary: at an episode's
first (last) steps a past (future) shift that would leave the episode is False. The negation of each
literal is not stored: the formula search (analysis/explain.py) gets it from the counts (|F and not L| =
|F| - |F and L|). ``game_literals`` makes a game's literals from ``decode_facts``' arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rlsae.analysis.place import Places, player_places
from rlsae.common.errors import UserError
from rlsae.envs.facts import binary_facts, fact_table
from rlsae.envs.games import game_spec
from rlsae.envs.sequences import episode_array, within_next

SHIFTS = (1, 3, 10, 30)  # steps: the next action's effect, a short move, about a corridor, a power pill's life
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)  # thresholds on numeric facts, taken on the fitting split


@dataclass(frozen=True)
class Literals:
    """``values`` [n, L]: where each of the ``names`` [L] holds (the first of identical columns kept);
    ``places``: the player's tile per state, from which the search makes each unit its own place literal
    (analysis/explain.py), None for a game without position facts."""

    names: tuple[str, ...]
    values: np.ndarray
    places: Places | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.names):
            raise ValueError(f"values {self.values.shape} do not match {len(self.names)} names")


def shifted(values: np.ndarray, episodes: np.ndarray, steps: int) -> np.ndarray:
    """values[t + steps] (``steps`` < 0: earlier) where that step is in t's episode, else False.

    Rows are in play order, each episode's steps contiguous (as ``decode_facts`` receives them)."""
    values = np.asarray(values, bool)
    n = len(values)
    out = np.zeros(n, bool)
    if abs(steps) >= n:
        return out
    source = np.arange(n) + steps
    inside = (source >= 0) & (source < n)
    idx = np.flatnonzero(inside)
    # A run of equal ids is one episode: two runs with one id (rows not contiguous) are never joined.
    run = np.concatenate([[0], np.cumsum(episodes[1:] != episodes[:-1])])
    same = run[source[idx]] == run[idx]
    out[idx[same]] = values[source[idx[same]]]
    return out


def temporal_literals(name: str, values: np.ndarray, episodes: np.ndarray,
                      shifts: Sequence[int] = SHIFTS) -> dict[str, np.ndarray]:
    """``name`` k steps ago, in k steps and within the next k steps (strictly later steps), for k in ``shifts``."""
    out = {}
    for k in shifts:
        out[f"{name} {k} step{'s' * (k > 1)} ago"] = shifted(values, episodes, -k)
        out[f"{name} in {k} step{'s' * (k > 1)}"] = shifted(values, episodes, k)
        if k > 1:  # within the next 1 step is "in 1 step"
            out[f"{name} within next {k} steps"] = within_next(np.asarray(values, bool), episodes, k + 1, first=1)
    return out


def threshold_literals(name: str, values: np.ndarray, fit: np.ndarray,
                       quantiles: Sequence[float] = QUANTILES) -> dict[str, np.ndarray]:
    """``name <= q`` for the distinct ``quantiles`` of ``values`` on the fitting split (its NOT is ``> q``).
    Values that are not finite (no such thing on screen: an inf distance) fall on neither side's quantiles."""
    values = np.asarray(values, np.float64)
    known = values[fit & np.isfinite(values)]
    cuts = np.unique(np.quantile(known, quantiles)) if known.size else []
    return {f"{name} <= {q:g}": values <= q for q in cuts}


def build_literals(facts: dict[str, np.ndarray], numeric: dict[str, np.ndarray], temporal: Sequence[str],
                   episode_ids: np.ndarray | None, fit: np.ndarray, shifts: Sequence[int] = SHIFTS,
                   quantiles: Sequence[float] = QUANTILES) -> Literals:
    """Every literal: the boolean ``facts``, thresholds on the ``numeric`` facts, and the ``temporal`` ones
    (names of ``facts``) shifted by ``shifts``. Columns constant on the fitting split say nothing there and
    are left out; of identical columns the first (the simpler word: a fact before its shifts) is kept."""
    fit = np.asarray(fit, bool)
    n = len(fit)
    episodes = episode_array(episode_ids, n)
    unknown = [name for name in temporal if name not in facts]
    if unknown:
        raise UserError(f"temporal facts {unknown} are not among the boolean facts given")
    columns: dict[str, np.ndarray] = {name: np.asarray(v, bool) for name, v in facts.items()}
    for name, values in numeric.items():
        columns.update(threshold_literals(name, values, fit, quantiles))
    for name in temporal:
        columns.update(temporal_literals(name, facts[name], episodes, shifts))
    names, kept, seen = [], [], set()
    for name, values in columns.items():
        if values.shape != (n,):
            raise UserError(f"fact '{name}' has shape {values.shape}, expected ({n},): one value per state")
        count = int(values[fit].sum())
        key = np.packbits(values).tobytes()
        if 0 < count < fit.sum() and key not in seen:
            seen.add(key)
            names.append(name)
            kept.append(values)
    values = np.stack(kept, 1) if kept else np.zeros((n, 0), bool)
    return Literals(tuple(names), values)


def game_literals(decoded: dict[str, np.ndarray], game: str, episode_ids: np.ndarray,
                  fit: np.ndarray) -> Literals:
    """The literals of a game, from ``decode_facts``' arrays (rows in play order): its boolean facts (one-hot
    categories; the names the spec's ``table_excludes`` starts, such as a fine tile grid, left out), quantile
    thresholds on its continuous facts (in place of their fixed bins), its binary facts shifted in time, and
    the player's tile per state where the spec names a position (``analysis/place.py``)."""
    spec = game_spec(game)
    table = fact_table(spec)
    continuous = [name for name, fact in table.items() if fact.kind == "continuous" and name in decoded]
    binary = [name for name, fact in table.items() if fact.kind == "binary" and name in decoded]
    facts = {name: values for name, values in binary_facts(decoded, game).items()
             if name.split("=")[0] not in continuous and not name.startswith(spec.table_excludes)}
    literals = build_literals(facts, {name: decoded[name] for name in continuous}, binary, episode_ids, fit)
    return replace(literals, places=player_places(decoded, game))
