"""Game specs: names in ALE's spellings, action names, and Breakout's and Pong's RAM facts checked
against the rendered frames of real games (a few hundred agent steps each)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rlsae.common.errors import UserError
from rlsae.envs.atari import action_names, check_game, make_render_env
from rlsae.envs.facts import binary_descriptions, binary_facts, decode_facts
from rlsae.envs.games import GAMES, game_spec, no_facts_note

PACMAN_WORDS = re.compile(r"pac-?man|ghost|pill|maze|fruit", re.IGNORECASE)


@pytest.mark.parametrize("name", ["pong", "Pong", "ALE/Pong-v5", "PongNoFrameskip-v4", "PongDeterministic-v4"])
def test_any_ale_spelling_names_the_rom(name: str) -> None:
    assert check_game(name) == "pong" and game_spec(name) is GAMES["pong"]


def test_unknown_game_is_one_line_with_a_suggestion() -> None:
    with pytest.raises(UserError, match="Did you mean 'pong'") as err:
        check_game("ALE/Ponk-v5")
    assert "\n" not in str(err.value)
    assert check_game("MsPacman") == "ms_pacman" and check_game("ALE/Breakout-v5") == "breakout"


def test_action_names_are_ale_action_meanings() -> None:
    assert action_names("ms_pacman") == ("NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
                                         "DOWNLEFT")
    assert action_names("breakout") == ("NOOP", "FIRE", "RIGHT", "LEFT")
    assert binary_descriptions(game="pong")["action=RIGHTFIRE"] == "the agent chooses RIGHTFIRE"


@pytest.mark.parametrize("game", ["breakout", "pong", "space_invaders"])
def test_no_pacman_word_outside_ms_pacman(game: str) -> None:
    spec = game_spec(game)
    words = [spec.title, spec.player, *binary_descriptions(game=game).values(), *(h.title for h in spec.headlines)]
    assert not [w for w in words if PACMAN_WORDS.search(w)]


def test_a_game_without_a_spec_gets_the_shared_facts_and_says_so() -> None:
    spec = game_spec("ALE/SpaceInvaders-v5")
    assert not spec.has_facts and "space_invaders" in no_facts_note(spec)
    lives = np.array([3, 3, 2, 2, 2])
    facts = decode_facts(np.zeros((5, 128), np.uint8), np.zeros(5, int), lives, 2, np.array([0, 1, 2, 3, 4]),
                         game="space_invaders")
    assert set(facts) == {"lives", "dying", "action"}
    np.testing.assert_array_equal(facts["dying"], [True, True, False, False, False])  # lost between steps 1 and 2
    assert set(binary_facts(facts, "space_invaders")) == {"dying", *(f"action={a}" for a in
                                                                    action_names("space_invaders"))}


def _play(game: str, steps: int, fire_every: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frames [n, 210, 160, 3], RAM [n, 128], lives [n], rewards [n]) of one seeded game, random actions."""
    env = make_render_env(game)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    frames, rams, lives, rewards = [], [], [], []
    for t in range(steps):
        action = 1 if t % fire_every == 0 else int(rng.integers(env.action_space.n))  # 1 = FIRE serves the ball
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        frames.append(obs)
        rams.append(env.unwrapped.ale.getRAM().copy())
        lives.append(info["lives"])
        if terminated or truncated:
            break
    env.close()
    return np.array(frames), np.array(rams), np.array(lives), np.array(rewards)


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return (float(cols.mean()), float(rows.mean())) if len(rows) else (np.nan, np.nan)


def _check_ball(facts: dict[str, np.ndarray], ball: np.ndarray, top: int, atol_y: float) -> None:
    """The decoded ball against its pixel centre ``ball`` [n, 2] (NaN where not drawn), found below row ``top``."""
    seen = np.isfinite(ball[:, 0])
    assert seen.sum() > 100
    np.testing.assert_allclose(facts["ball_x"][seen], ball[seen, 0], atol=0.6)
    np.testing.assert_allclose(facts["ball_y"][seen], ball[seen, 1] + top, atol=atol_y)
    assert facts["ball_in_play"][seen].all()


def test_breakout_facts_match_the_frames() -> None:
    frames, ram, lives, rewards = _play("breakout", 400, 10)
    facts = decode_facts(ram, None, lives, 10, game="breakout")
    red = np.all(frames == (200, 72, 72), -1)  # the paddle and the ball share a colour
    red[:, :, :8] = red[:, :, 152:] = False
    paddle = np.array([_centre(m[189:194])[0] for m in red])
    ball = np.array([_centre(m[93:189]) for m in red])  # below the bricks, above the paddle
    _check_ball(facts, ball, 93, 0.6)
    # At the walls the paddle is clipped, and the ball passing its rows moves the pixel centre.
    middle = (facts["paddle_x"] > 30) & (facts["paddle_x"] < 130)
    assert (np.abs(facts["paddle_x"] - paddle)[middle] <= 0.6).mean() > 0.95
    np.testing.assert_array_equal(facts["lives"], lives)
    # The score is the summed reward; a brick is broken exactly where it rises.
    np.testing.assert_array_equal(facts["score"], np.cumsum(rewards))
    score_up = rewards[1:] > 0
    assert score_up.any() and facts["breaks_brick_soon"][:-1][score_up].all()


def test_pong_facts_match_the_frames() -> None:
    frames, ram, _, rewards = _play("pong", 400, 10)
    facts = decode_facts(ram, None, None, 10, game="pong")
    field = frames[:, 34:194]
    ball = np.array([_centre(np.all(f == (236, 236, 236), -1)) for f in field])
    agent = np.array([_centre(np.all(f == (92, 186, 92), -1))[1] for f in field]) + 34
    _check_ball(facts, ball, 34, 1.1)
    middle = (facts["paddle_y"] > 60) & (facts["paddle_y"] < 170)
    assert (np.abs(facts["paddle_y"] - agent)[middle] <= 1.1).mean() > 0.95
    # The opponent scores often against random play: each point is "soon" for the steps before it.
    points = rewards[1:] < 0
    np.testing.assert_array_equal(np.diff(ram[:, 13].astype(int)) > 0, points)
    assert points.any() and facts["opponent_scores_soon"][:-1][points].all()
    assert "dying" not in facts  # Pong has no lives
