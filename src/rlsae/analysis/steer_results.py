"""The result of `rlsae steer` (``steering.json``): one record per steered feature, and the run that holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlsae.common.records import Record, build, number


@dataclass(frozen=True)
class GoalReached:
    """How often a fact (the --goal) came to hold within the first steps of each game."""

    share: float = number("goal reached", "the goal held within the step budget in {} of the games", "{:.0%}")
    games: int = number("games", "{} games", "{:d}")
    first_step: list[int | None]
    """Per game: the first step where the goal held (None: not within the budget)."""
    path: list[list[float]]
    """The first game's player positions (x, y) until the budget."""


@dataclass(frozen=True)
class StartsUsed:
    """Games played from recorded states instead of from game starts (--starts)."""

    n: int
    where: str | None
    steps: int


@dataclass(frozen=True)
class SteeredFeature:
    """One feature steered: clean and steered games from the same seeds (or recorded states)."""

    feature: int
    mode: str
    strength: float
    value: float
    """The clamp target or the amount added (``strength`` x ``max_activation``; 0 for ablate)."""
    max_activation: float
    max_activation_source: str
    tv_distance: float = number("action shift", "on the states the steered agent visited, its action distribution "
                                "moved by {} (total variation) from the clean agent's", "{:.2f}")
    score_clean: float = number("score, clean", "the clean agent scores {} a game", "{:,.0f}", "points")
    score_steered: float = number("score, steered", "the steered agent scores {} a game", "{:,.0f}", "points")
    action_clean: list[float]
    """The clean agent's action distribution on the steered agent's states."""
    action_steered: list[float]
    action_clean_own_games: list[float]
    scores_clean: list[float]
    scores_steered: list[float]
    truncated_clean: int
    truncated_steered: int
    steps_steered: int
    heatmap: str | None
    """Relative to the steering folder (absolute once loaded by :func:`rlsae.analysis.steer.load_steering`)."""
    gif: str | None
    starts: StartsUsed | None = None
    goal: str | None = None
    goal_steps: int | None = None
    goal_clean: GoalReached | None = None
    goal_steered: GoalReached | None = None


@dataclass(frozen=True)
class SteeringRun(Record):
    """Every feature steered into one --out folder, with the settings they share."""

    KIND = "rlsae-steering"
    WRITER = "rlsae steer"

    sae: str
    recording: str
    config: dict[str, Any]
    provenance: dict[str, Any]
    results: list[SteeredFeature]

    @classmethod
    def legacy(cls, data: dict[str, Any], origin: str) -> SteeringRun:
        """Files from before versions hold the same keys: their games took minutes to hours, so they are read."""
        return build(cls, {k: v for k, v in data.items() if k != "kind"}, origin,
                     f"rerun `{cls.WRITER}` into a new --out to write it again")
