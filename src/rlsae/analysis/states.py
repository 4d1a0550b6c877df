"""Which recorded states an analysis looks at, and the game facts of those states.

Facts such as "a life is lost within 10 steps" look ahead inside an episode, so states are chosen as
whole episodes (complete ones first) and facts are decoded episode by episode, never across the
interleaved rows of parallel games.
"""

from __future__ import annotations

import numpy as np

from rlsae.analysis.scores import oriented
from rlsae.envs.conjunctions import SEPARATOR, with_conjunctions
from rlsae.envs.facts import binary_descriptions, binary_facts, decode_facts
from rlsae.envs.games import game_spec
from rlsae.envs.games.spec import dying_within
from rlsae.record.recording import Recording


def select_states(rec: Recording, max_states: int) -> np.ndarray:
    """Sorted recording indices of at most ``max_states`` states, taken as whole episodes.

    Complete episodes come first (their look-ahead facts are exact); cut-off ones fill the rest. The
    last episode taken may be cut to fit, like the episodes a recording ends in.
    """
    ids = np.asarray(rec.episode_ids)
    ep = rec.episodes
    order = np.lexsort((ep["episode_id"], ~ep["complete"]))
    fitting = int(np.searchsorted(np.cumsum(ep["length"][order]), max_states, side="right"))
    chosen = ep["episode_id"][order[:fitting + 1]]
    states = np.flatnonzero(np.isin(ids, chosen))
    if len(states) > max_states:  # keep the first steps of the one episode that does not fit
        last = np.flatnonzero(ids[states] == chosen[-1])
        states = np.delete(states, last[len(last) - (len(states) - max_states):])
    return states


def state_facts(rec: Recording, states: np.ndarray, dying_horizon: int = 10) -> dict[str, np.ndarray]:
    """Game facts (``decode_facts``) of the recording's ``states``, in the order of ``states``."""
    order = np.lexsort((rec.episode_steps[states], rec.episode_ids[states]))  # episodes in play order
    ids = rec.episode_ids[states[order]]
    lives = rec.lives[states[order]].astype(np.int64)
    facts = decode_facts(rec.ram[states[order]], ids, lives, dying_horizon, rec.actions[states[order]],
                         game=rec.manifest["game"])
    # decode_facts counts a game's end on its last life as a death; for an episode whose end is not
    # among the states (cut off by the recording or by select_states) only real life drops count.
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    ep = rec.episodes
    pos = np.searchsorted(ep["episode_id"], ids[starts])
    whole = ep["complete"][pos] & (ends - starts == ep["length"][pos])
    if "dying" in facts:  # a game without lives (Pong) has none
        for start, end in zip(starts[~whole], ends[~whole]):
            facts["dying"][start:end] = dying_within(lives[start:end], None, dying_horizon)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return {name: values[inverse] for name, values in facts.items()}


def labelling_facts(rec: Recording, states: np.ndarray, dying_horizon: int = 10,
                    decoded: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str],
                                                                           list[str]]:
    """The boolean facts units are scored and labeled against: every binary fact that holds somewhere,
    informative pairs of them, each oriented to hold on at most half the states. Returns (facts,
    descriptions, the names the per-fact tables average over: the single facts except those the game's
    spec excludes (``GameSpec.table_excludes``, such as a fine grid of positions), whose hundreds of
    near-identical entries would swamp the mean). ``decoded``: ``state_facts(rec, states, dying_horizon)``,
    if the caller has it already."""
    spec = game_spec(rec.manifest["game"])
    decoded = state_facts(rec, states, dying_horizon) if decoded is None else decoded
    facts, descriptions = with_conjunctions(binary_facts(decoded, spec.game),
                                            binary_descriptions(dying_horizon, spec.game), spec.conjunction_groups)
    facts, descriptions = oriented({name: values for name, values in facts.items() if values.any()}, descriptions)
    table = [name for name in facts if SEPARATOR not in name and not name.startswith(spec.table_excludes)]
    return facts, descriptions, table
