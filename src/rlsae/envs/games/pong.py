"""Pong's game spec: the ball, both paddles and the score from the RAM.

Addresses from the AtariARI RAM annotations (Anand et al. 2019, "Unsupervised State Representation
Learning in Atari", atariari/benchmark/ram_annotations.py: player_y 51, enemy_y 50, ball_x 49,
ball_y 54, enemy_score 13, player_score 14). Screen offsets measured against rendered frames
(docs/ram_facts.md, tests/envs/test_games.py): ball centre = (ram[49] - 48.5, ram[54] - 12.5),
the agent's (green, right) paddle centre y = ram[51] - 5.5 and the opponent's = ram[50] - 7.5 (both
clipped at the walls); ram[54] is 0 while no ball is served. The agent's paddle stays at x ~141.
"""

from __future__ import annotations

import numpy as np

from rlsae.envs.games.spec import (
    LOOKAHEAD,
    SCREEN_WIDTH,
    Fact,
    GameSpec,
    Headline,
    SteeringGoal,
    ball_facts,
    step_change,
)
from rlsae.envs.sequences import previous_delta, within_next

PLAYER_Y, OPPONENT_Y, BALL_X, BALL_Y, OPPONENT_SCORE, PLAYER_SCORE = 51, 50, 49, 54, 13, 14
PLAYER_OFFSET, OPPONENT_OFFSET, BALL_OFFSET = -5.5, -7.5, (-48.5, -12.5)
PLAYER_X = 141.5
FIELD = (34, 194)  # screen rows between the walls
LEVEL = 8  # px: half a paddle's height

SIDES = ("opponent", "middle", "agent", "none")
BESIDE = ("above", "level", "below", "none")
MOTIONS = ("towards_agent", "towards_opponent", "none")
LABELS = {
    "ball_side": {"opponent": "the ball is in the opponent's third", "middle": "the ball is in the middle third",
                  "agent": "the ball is in the agent's third", "none": "no ball in play"},
    "ball_vs_paddle": {"above": "the ball is above the agent's paddle", "level": "the ball is level with the "
                       "agent's paddle", "below": "the ball is below the agent's paddle", "none": "no ball in play"},
    "ball_motion": {"towards_agent": "the ball moves towards the agent", "towards_opponent": "the ball moves "
                    "towards the opponent", "none": "the ball is not moving"},
}
HEIGHT = FIELD[1] - FIELD[0]

FACTS: dict[str, Fact] = {f.name: f for f in [
    Fact("paddle_y", "continuous", "the agent's paddle's y (screen pixels)",
         bins=(FIELD[0] + HEIGHT / 3, FIELD[0] + 2 * HEIGHT / 3),
         bin_labels=("the agent's paddle is in the top third", "the agent's paddle is in the middle third",
                     "the agent's paddle is in the bottom third")),
    Fact("opponent_y", "continuous", "the opponent's paddle's y (screen pixels)",
         bins=(FIELD[0] + HEIGHT / 3, FIELD[0] + 2 * HEIGHT / 3),
         bin_labels=("the opponent's paddle is in the top third", "the opponent's paddle is in the middle third",
                     "the opponent's paddle is in the bottom third")),
    *ball_facts(),
    Fact("ball_side", "categorical", "the ball's third of the court", categories=SIDES),
    Fact("ball_vs_paddle", "categorical", "the ball's height against the agent's paddle", categories=BESIDE),
    Fact("ball_motion", "categorical", "the ball's horizontal motion", categories=MOTIONS),
    Fact("agent_scores_soon", "binary", f"the agent wins a point within {LOOKAHEAD} steps"),
    Fact("opponent_scores_soon", "binary", f"the opponent wins a point within {LOOKAHEAD} steps"),
    Fact("score_lead", "continuous", "the agent's points minus the opponent's", bins=(0, 1),
         bin_labels=("the agent trails", "the score is level", "the agent leads")),
]}


def decode(r: np.ndarray, episodes: np.ndarray, lives: np.ndarray | None,
           dying_horizon: int) -> dict[str, np.ndarray]:
    """Every fact in ``FACTS`` from ``r`` [N, 128] (int64 RAM, one row per agent step, in order).
    Pong has no lives (ALE reports 0), so ``lives`` and ``dying_horizon`` are unused."""
    paddle = r[:, PLAYER_Y] + PLAYER_OFFSET
    bx, by = r[:, BALL_X] + BALL_OFFSET[0], r[:, BALL_Y] + BALL_OFFSET[1]
    play = r[:, BALL_Y] > 0
    none = len(SIDES) - 1
    dy = by - paddle
    dx = previous_delta(bx, episodes)
    return {
        "paddle_y": paddle, "opponent_y": r[:, OPPONENT_Y] + OPPONENT_OFFSET, "ball_x": bx, "ball_y": by,
        "ball_in_play": play,
        "ball_side": np.where(play, np.digitize(bx, (SCREEN_WIDTH / 3, 2 * SCREEN_WIDTH / 3)), none),
        "ball_vs_paddle": np.where(play, np.where(dy < -LEVEL, 0, np.where(dy > LEVEL, 2, 1)), none),
        "ball_motion": np.where(play & (dx > 0), 0, np.where(play & (dx < 0), 1, 2)),
        "agent_scores_soon": within_next(step_change(r[:, PLAYER_SCORE], episodes) > 0, episodes, LOOKAHEAD),
        "opponent_scores_soon": within_next(step_change(r[:, OPPONENT_SCORE], episodes) > 0, episodes, LOOKAHEAD),
        "score_lead": r[:, PLAYER_SCORE] - r[:, OPPONENT_SCORE],
    }


SPEC = GameSpec(
    game="pong", title="Pong", player="the agent's paddle", facts=FACTS, decode=decode,
    category_label=lambda fact, category: LABELS.get(fact.name, {}).get(category),
    conjunction_groups=(("paddle_y",), ("ball_side",), ("ball_vs_paddle",), ("ball_motion",), ("score_lead",)),
    position=(PLAYER_X, "paddle_y"),
    headlines=(Headline("best_point", "point scored soon", ("agent_scores_soon", "opponent_scores_soon")),
               Headline("best_ball", "ball against the agent's paddle", ("ball_vs_paddle",))),
    source="AtariARI RAM annotations (Anand et al. 2019); docs/ram_facts.md",
    actions=("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"),
    steering_goals=(SteeringGoal("win_point", "agent_scores_soon", 300),
                    SteeringGoal("meet_ball", "ball_vs_paddle=level", 50),
                    SteeringGoal("keep_point", "not opponent_scores_soon", 300, holds="throughout")),
)
