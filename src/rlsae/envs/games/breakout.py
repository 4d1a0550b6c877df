"""Breakout's game spec: the ball, the paddle, the score and lives from the RAM.

Addresses from the AtariARI RAM annotations (Anand et al. 2019, "Unsupervised State Representation
Learning in Atari", atariari/benchmark/ram_annotations.py): ball_x 99, ball_y 101, player_x 72, and 77
(there blocks_hit_count), which holds the score's low byte in BCD; lives at 57 found here, and the
score's high byte taken to be 76 (random play never passed 99 points, so that byte is unchecked). The
annotations' brick bitmap (bytes 0-29) missed a hit in our check, so a broken brick is read from the
score, which rises exactly when one breaks. Screen offsets measured against rendered frames
(docs/ram_facts.md, tests/envs/test_games.py): ball centre = (ram[99] - 48.5, ram[101] + 10.5) exactly,
paddle centre x = ram[72] - 39.5 (the paddle is clipped at the walls); the paddle's top row is 189.
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
    dying_fact,
    dying_within,
    step_change,
)
from rlsae.envs.sequences import previous_delta, within_next

PADDLE_X, BALL_X, BALL_Y, LIVES = 72, 99, 101, 57
SCORE_BCD = (76, 77)  # high, low byte
PADDLE_OFFSET, BALL_OFFSET = -39.5, (-48.5, 10.5)
PADDLE_ROW = 189
BRICKS_BOTTOM = 93  # the lowest brick row ends here (screen y)
NEAR_PADDLE = 40  # px above the paddle that count as "low"
ALIGNED = 8  # px: half the paddle's width

COLUMNS = ("left", "middle", "right", "none")
HEIGHTS = ("bricks", "mid", "low", "none")
MOTIONS = ("rising", "falling", "none")
BESIDE = ("left", "above", "right", "none")
LABELS = {
    "ball_column": {c: f"the ball is in the {c} third" for c in COLUMNS[:3]} | {"none": "no ball in play"},
    "ball_height": {"bricks": "the ball is up among the bricks", "mid": "the ball is in mid-field",
                    "low": f"the ball is low, within {NEAR_PADDLE} px above the paddle", "none": "no ball in play"},
    "ball_motion": {"rising": "the ball rises", "falling": "the ball falls", "none": "the ball is not moving"},
    "ball_vs_paddle": {"left": "the ball is left of the paddle", "above": "the ball is right above the paddle",
                       "right": "the ball is right of the paddle", "none": "no ball in play"},
}

FACTS: dict[str, Fact] = {f.name: f for f in [
    Fact("paddle_x", "continuous", "the paddle's x (screen pixels)", bins=(SCREEN_WIDTH / 3, 2 * SCREEN_WIDTH / 3),
         bin_labels=("the paddle is in the left third", "the paddle is in the middle third",
                     "the paddle is in the right third")),
    *ball_facts(),
    Fact("ball_column", "categorical", "the ball's third of the screen", categories=COLUMNS),
    Fact("ball_height", "categorical", "the ball's height", categories=HEIGHTS),
    Fact("ball_motion", "categorical", "the ball's vertical motion", categories=MOTIONS),
    Fact("ball_vs_paddle", "categorical", "the ball's side of the paddle", categories=BESIDE),
    Fact("score", "continuous", "game score", bins=(10, 50, 100),
         bin_labels=("score under 10", "score 10-49", "score 50-99", "score 100 or more")),
    Fact("breaks_brick_soon", "binary", f"a brick is broken within {LOOKAHEAD} steps"),
    Fact("lives", "continuous", "lives left (as ALE's lives())", bins=(2, 4),
         bin_labels=("on the last life", "2 or 3 lives left", "4 or 5 lives left")),
    dying_fact(),
]}


def _bcd(byte: np.ndarray) -> np.ndarray:
    return (byte >> 4) * 10 + (byte & 15)


def decode(r: np.ndarray, episodes: np.ndarray, lives: np.ndarray | None,
           dying_horizon: int) -> dict[str, np.ndarray]:
    """Every fact in ``FACTS`` from ``r`` [N, 128] (int64 RAM, one row per agent step, in order)."""
    paddle = r[:, PADDLE_X] + PADDLE_OFFSET
    bx, by = r[:, BALL_X] + BALL_OFFSET[0], r[:, BALL_Y] + BALL_OFFSET[1]
    play = (r[:, BALL_Y] > 0) & (by < PADDLE_ROW + 8)
    none = len(COLUMNS) - 1
    dx = bx - paddle
    dy = previous_delta(by, episodes)
    score = _bcd(r[:, SCORE_BCD[0]]) * 100 + _bcd(r[:, SCORE_BCD[1]])
    out = {
        "paddle_x": paddle, "ball_x": bx, "ball_y": by, "ball_in_play": play,
        "ball_column": np.where(play, np.digitize(bx, FACTS["paddle_x"].bins), none),
        "ball_height": np.where(play, np.digitize(by, (BRICKS_BOTTOM, PADDLE_ROW - NEAR_PADDLE)), none),
        "ball_motion": np.where(play & (dy < 0), 0, np.where(play & (dy > 0), 1, 2)),
        "ball_vs_paddle": np.where(play, np.where(dx < -ALIGNED, 0, np.where(dx > ALIGNED, 2, 1)), none),
        "score": score,
        "breaks_brick_soon": within_next(step_change(score, episodes) > 0, episodes, LOOKAHEAD),
        "lives": r[:, LIVES] if lives is None else lives,
    }
    out["dying"] = dying_within(out["lives"], episodes, dying_horizon)
    return out


SPEC = GameSpec(
    game="breakout", title="Breakout", player="the paddle", facts=FACTS, decode=decode,
    category_label=lambda fact, category: LABELS.get(fact.name, {}).get(category),
    conjunction_groups=(("paddle_x",), ("ball_column",), ("ball_height",), ("ball_motion",), ("ball_vs_paddle",),
                        ("lives",), ("dying",)),
    position=("paddle_x", float(PADDLE_ROW + 2)),
    headlines=(Headline("best_dying", "life lost soon", ("dying",)),
               Headline("best_ball", "ball beside the paddle", ("ball_vs_paddle",)),
               Headline("best_brick", "brick broken soon", ("breaks_brick_soon",))),
    source="AtariARI RAM annotations (Anand et al. 2019); docs/ram_facts.md",
    actions=("NOOP", "FIRE", "RIGHT", "LEFT"),
    steering_goals=(SteeringGoal("break_brick", "breaks_brick_soon", 100),
                    SteeringGoal("paddle_left", "paddle_x=0", 50),
                    SteeringGoal("paddle_right", "paddle_x=2", 50),
                    SteeringGoal("survive", "not dying", 300, holds="throughout")),
)
