"""Game facts for any game: decoded from the RAM by the game's spec, turned into boolean facts.

``decode_facts`` gives named arrays (one value per step) from the game's spec (``rlsae.envs.games``)
plus the facts every game shares (a life lost soon, given lives; the agent's action, given actions);
``fact_table`` describes each one; ``binary_facts`` turns them into boolean facts (one-hot categories,
fixed bins of continuous values) to score features against, and ``binary_descriptions`` labels each.
"""

from __future__ import annotations

import numpy as np

from rlsae.common.errors import UserError
from rlsae.envs.atari import DEFAULT_GAME
from rlsae.envs.games import game_spec
from rlsae.envs.games.spec import RAM_SIZE, Fact, GameSpec, dying_within
from rlsae.envs.sequences import episode_array


def fact_table(spec: GameSpec) -> dict[str, Fact]:
    """The spec's facts and the agent's action (named by ALE's action meanings)."""
    return {**spec.facts, "action": Fact("action", "categorical", "the agent's chosen action",
                                         categories=spec.action_names)}


def decode_facts(ram: np.ndarray, episode_ids: np.ndarray | None = None, lives: np.ndarray | None = None,
                 dying_horizon: int = 10, actions: np.ndarray | None = None,
                 game: str = DEFAULT_GAME) -> dict[str, np.ndarray]:
    """Decode the facts of ``game`` from ``ram`` [N, 128] (uint8, one row per agent step, in order).

    ``episode_ids`` [N] keeps the facts that look along an episode inside it; ``lives`` [N] (e.g. ALE's
    info["lives"]) overrides the lives read from RAM; ``actions`` [N] gives the "action" fact (left out
    without). Returns {fact name: array [N]}.
    """
    ram = np.asarray(ram)
    if ram.ndim != 2 or ram.shape[1] != RAM_SIZE:
        raise UserError(f"ram must have shape [steps, {RAM_SIZE}], got {ram.shape}")
    if dying_horizon < 1:
        raise UserError(f"dying_horizon must be at least 1 step, got {dying_horizon}")
    for name, values in (("lives", lives), ("actions", actions)):
        if values is not None and np.shape(values) != (len(ram),):
            raise UserError(f"{name} has shape {np.shape(values)} but ram has {len(ram)} steps; "
                            "give one value per step")
    spec = game_spec(game)
    episodes = episode_array(episode_ids, len(ram))
    given = None if lives is None else np.asarray(lives, np.int64)
    if spec.decode is not None:
        out = spec.decode(ram.astype(np.int64), episodes, given, dying_horizon)
    else:
        out = {} if given is None else {"lives": given, "dying": dying_within(given, episodes, dying_horizon)}
    if actions is not None:
        out["action"] = np.asarray(actions, np.int64)
    return out


def binary_facts(facts: dict[str, np.ndarray], game: str = DEFAULT_GAME) -> dict[str, np.ndarray]:
    """Boolean facts for scoring: binary facts as they are, each category of a categorical fact one-hot
    (``pacman_region=bottom_left``), each bin of a binned continuous fact one-hot (``nearest_ghost_distance=0``:
    the first interval). Continuous facts without bins, and names the game does not describe, are left out."""
    table = fact_table(game_spec(game))
    out: dict[str, np.ndarray] = {}
    for name, values in facts.items():
        fact = table.get(name)
        if fact is None:
            continue
        values = np.asarray(values)
        if fact.kind == "binary":
            out[name] = values.astype(bool)
        elif fact.kind == "categorical":
            for code, category in enumerate(fact.categories):
                out[f"{name}={category}"] = values == code
        elif fact.bins:
            which = np.digitize(values, fact.bins)
            for b in range(len(fact.bins) + 1):
                out[f"{name}={b}"] = which == b
    return out


def binary_descriptions(dying_horizon: int = 10, game: str = DEFAULT_GAME) -> dict[str, str]:
    """Human-readable label of every name ``binary_facts`` can return for ``game``."""
    spec = game_spec(game)
    out: dict[str, str] = {}
    for fact in fact_table(spec).values():
        if fact.kind == "binary":
            out[fact.name] = fact.description.format(horizon=dying_horizon)
        elif fact.kind == "categorical":
            for category in fact.categories:
                label = spec.category_label(fact, category)
                if label is None:
                    label = (f"the agent chooses {category}" if fact.name == "action"
                             else f"{fact.description}: {category}")
                out[f"{fact.name}={category}"] = label
        else:
            for b, label in enumerate(fact.bin_labels):
                out[f"{fact.name}={b}"] = label
    return out
