"""What a game spec holds: everything game-specific the analysis and the browser ask for.

A spec decodes facts from the 128-byte RAM (vectorised over steps), describes them, groups them for
conjunctions, says where the player is (for heatmaps), which facts the summaries headline, the words to
use for the player, the action names and frame size, the features interpret looks for (``TalkFeature``)
and the behaviours steering can aim for (``SteeringGoal``). Facts every game shares - a life lost soon,
the agent's own action - are built here once; a game without a spec gets those and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rlsae.envs.atari import SCREEN_HEIGHT, SCREEN_WIDTH, action_names
from rlsae.envs.sequences import episode_array, same_episode_as_next, within_next

RAM_SIZE = 128
LOOKAHEAD = 8  # agent steps for "soon" in every game's event facts


@dataclass(frozen=True)
class Fact:
    """One decoded fact. ``kind`` is binary, categorical (``categories`` name the integer codes) or
    continuous (``bins`` are the edges used by ``binary_facts``; ``bin_labels`` describe the len(bins)+1
    intervals). ``description`` labels a binary fact; for the others it names the quantity."""

    name: str
    kind: str
    description: str
    categories: tuple[str, ...] = ()
    bins: tuple[float, ...] = ()
    bin_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Headline:
    """A fact family the summaries name the best feature for: ``key`` in interpret's summary (e.g.
    ``best_dying``), ``title`` in prose ("life lost soon"), ``prefixes`` of the fact names it covers."""

    key: str
    title: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class TalkFeature:
    """A feature interpret looks for by name (e.g. one a talk showed): the unit that best detects a fact
    named by one of ``prefixes``, chosen on the fitting split among the units whose fitting precision is
    at least ``fit_precision``; ``found`` when its held-out precision >= ``min_precision`` and recall >=
    ``min_recall``. ``key`` names it in interpret's summary, ``title`` in prose."""

    key: str
    title: str
    prefixes: tuple[str, ...]
    min_precision: float
    min_recall: float = 0.0
    fit_precision: float = 0.0


@dataclass(frozen=True)
class SteeringGoal:
    """A behaviour steering can aim for: ``expression`` over binary facts, in ``rlsae steer --goal``'s form
    (a fact name, ``not FACT``, ``A & B``), that should hold at some step within ``horizon`` agent steps
    (``holds="once"``) or at every one of them (``"throughout"``). Meant to be tried from states where it
    does not hold yet; declared here, played by a steering benchmark."""

    name: str
    expression: str
    horizon: int
    holds: Literal["once", "throughout"] = "once"


# decode(ram int64 [N, 128], episodes [N], lives [N] or None (then read from RAM), dying_horizon) -> facts
Decoder = Callable[[np.ndarray, np.ndarray, "np.ndarray | None", int], dict[str, np.ndarray]]


@dataclass(frozen=True)
class GameSpec:
    """One game's knowledge. ``facts`` describe what ``decode`` returns (the shared "action" fact is
    added by ``rlsae.envs.facts``); ``position`` names the facts (or constants, in screen pixels) of
    the player's x and y; ``playfield`` is the (width, height) of the screen area it moves in and
    ``frame_size`` the (width, height) of the screen. ``actions`` names the minimal action set in the
    agents' order (empty: asked from ALE, see ``action_names``)."""

    game: str
    title: str
    player: str
    facts: dict[str, Fact] = field(default_factory=dict)
    decode: Decoder | None = None
    category_label: Callable[[Fact, str], str | None] = lambda fact, category: None
    conjunction_groups: tuple[tuple[str, ...], ...] = ()
    position: tuple[str | float, str | float] | None = None
    playfield: tuple[int, int] = (SCREEN_WIDTH, SCREEN_HEIGHT)
    headlines: tuple[Headline, ...] = ()
    table_excludes: tuple[str, ...] = ()
    source: str = ""
    actions: tuple[str, ...] = ()
    frame_size: tuple[int, int] = (SCREEN_WIDTH, SCREEN_HEIGHT)
    talk_features: tuple[TalkFeature, ...] = ()
    steering_goals: tuple[SteeringGoal, ...] = ()
    # The few goals `rlsae demo` benchmarks (each costs about a CPU-minute); none named: the first two.
    demo_goals: tuple[str, ...] = ()

    @property
    def demo_steering_goals(self) -> tuple[str, ...]:
        return self.demo_goals or tuple(g.name for g in self.steering_goals[:2])

    @property
    def action_names(self) -> tuple[str, ...]:
        """The names of the game's actions, one per Q-value in the head's order."""
        return self.actions or action_names(self.game)

    @property
    def has_facts(self) -> bool:
        """Whether RAM facts are known for this game (else only the shared facts label features)."""
        return self.decode is not None


def dying_fact() -> Fact:
    return Fact("dying", "binary", "a life is lost within {horizon} steps")


def ball_facts() -> list[Fact]:
    """The ball's screen position and whether one is in play, for the ball games."""
    return [Fact("ball_x", "continuous", "the ball's x (screen pixels)"),
            Fact("ball_y", "continuous", "the ball's y (screen pixels)"),
            Fact("ball_in_play", "binary", "the ball is in play")]


def life_lost(lives: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """loss[t]: a life is lost between step t and t + 1 (an episode ending on its last life counts)."""
    loss = np.zeros(len(lives), bool)
    same = same_episode_as_next(episodes)
    loss[:-1] = same & (lives[1:] < lives[:-1])
    loss[:-1] |= ~same & (lives[:-1] == 1)
    return loss


def dying_within(lives: np.ndarray, episode_ids: np.ndarray | None, horizon: int) -> np.ndarray:
    """True where ``lives`` drops within the next ``horizon`` steps of the same episode.

    The last life ends the episode without a drop, so the end of an episode played on its last life
    (lives == 1) counts as a loss, except for the last episode in the arrays, which may be cut off.
    In Ms. Pac-Man the lives counter drops ~20 agent steps after the catch (the death animation), so a
    small horizon flags the animation itself.
    """
    lives = np.asarray(lives, np.int64)
    episodes = episode_array(episode_ids, len(lives))
    return within_next(life_lost(lives, episodes), episodes, horizon)


def step_change(values: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """values[t + 1] - values[t] inside an episode; 0 at each episode's last step."""
    change = np.zeros(len(values), np.int64)
    change[:-1] = np.asarray(values[1:], np.int64) - values[:-1]
    return np.where(np.append(same_episode_as_next(episodes), False), change, 0)


def direction(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Codes of (up, right, down, left) for a displacement: the larger axis wins."""
    return np.where(np.abs(dx) >= np.abs(dy), np.where(dx >= 0, 1, 3), np.where(dy >= 0, 2, 0))
