"""RAM facts checked against the rendered frames of a real game (one seeded game, ~700 agent steps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from rlsae.common.errors import UserError
from rlsae.envs.atari import make_render_env
from rlsae.envs.facts import binary_descriptions, binary_facts, decode_facts
from rlsae.envs.games.ms_pacman import (
    FACTS,
    FRUIT_X,
    FRUIT_Y,
    GHOST_AHEAD,
    GHOSTS,
    LOOKAHEAD,
    MAZE_HEIGHT,
    PILLS,
    SPRITE_OFFSET,
)
from rlsae.envs.games.spec import dying_within

# Colours of the first maze (RGB), read off frames.
PACMAN = (210, 164, 74)
GHOST_COLOURS = {"sue": (180, 122, 48), "inky": (84, 184, 153), "pinky": (198, 89, 179),
                 "blinky": (200, 72, 72)}
FRIGHTENED = (66, 114, 194)
CHERRY = (184, 50, 50)
WALL = (228, 111, 111)
# Pixel boxes (rows, cols) of the four power pills in the first maze.
PILL_BOXES = {"top_left": (15, 22, 8, 12), "top_right": (14, 21, 148, 152),
              "bottom_left": (147, 154, 8, 12), "bottom_right": (146, 153, 148, 152)}


@dataclass
class Trace:
    ram: np.ndarray  # [N, 128]
    frames: np.ndarray  # [N, 172, 160, 3], the playfield
    lives: np.ndarray  # ALE's lives()
    episode: np.ndarray
    reward: np.ndarray  # reward of the step taken from this state


@pytest.fixture(scope="module")
def trace() -> Trace:
    """A seeded game played by a random policy that keeps a direction for ~10 steps: in seed 0's first
    700 steps it loses lives, eats a power pill (ghosts turn blue), sees a fruit and ends one game."""
    env = make_render_env()
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    ram, frames, lives, episode, reward = [], [], [], [], []
    action, ep = 0, 0
    for _ in range(700):
        ram.append(env.unwrapped.ale.getRAM().copy())
        frames.append(obs[:MAZE_HEIGHT])
        lives.append(env.unwrapped.ale.lives())
        episode.append(ep)
        if rng.random() < 0.1:
            action = int(rng.integers(1, 5))
        obs, r, terminated, truncated, _ = env.step(action)
        reward.append(r)
        if terminated or truncated:
            ep += 1
            obs, _ = env.reset()
    env.close()
    return Trace(np.array(ram), np.array(frames), np.array(lives), np.array(episode), np.array(reward))


@pytest.fixture(scope="module")
def facts(trace: Trace) -> dict[str, np.ndarray]:
    return decode_facts(trace.ram, trace.episode)


def _mask(frames: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return (frames == np.array(colour, np.uint8)).all(-1)


def _centroids(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(visible, x, y) of the pixels in each frame's mask."""
    n = mask.sum((1, 2))
    ys, xs = np.arange(mask.shape[1]), np.arange(mask.shape[2])
    with np.errstate(invalid="ignore"):
        return n > 0, (mask.sum(1) * xs).sum(1) / n, (mask.sum(2) * ys).sum(1) / n


def _near(mask: np.ndarray, x: np.ndarray, y: np.ndarray, r: int) -> np.ndarray:
    """Whether each frame's mask has a pixel within ``r`` px (box) of (x, y)."""
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    return np.array([m[max(0, b - r):max(0, b + r + 1), max(0, a - r):max(0, a + r + 1)].any()
                     for m, a, b in zip(mask, xi, yi)])


def test_pacman_position_is_on_the_sprite(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    visible, x, y = _centroids(_mask(trace.frames, PACMAN))
    assert visible.mean() > 0.95
    err = np.hypot(x - facts["pacman_x"], y - facts["pacman_y"])[visible]
    assert np.mean(err <= 2) > 0.98
    assert _near(_mask(trace.frames, PACMAN), facts["pacman_x"], facts["pacman_y"], 1)[visible].mean() > 0.98


@pytest.mark.parametrize("ghost", GHOSTS)
def test_ghost_positions_are_on_their_sprites(trace: Trace, facts: dict[str, np.ndarray], ghost: str) -> None:
    # Ghosts flicker (not every ghost is drawn every frame) and move within the 4-frame skip: 3 px.
    visible, x, y = _centroids(_mask(trace.frames, GHOST_COLOURS[ghost]))
    assert visible.sum() > 100
    err = np.hypot(x - facts[f"{ghost}_x"], y - facts[f"{ghost}_y"])[visible]
    assert np.mean(err <= 3) > 0.97


def test_facing_matches_movement(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    dx = np.diff(trace.ram[:, 10].astype(int))
    dy = np.diff(trace.ram[:, 16].astype(int))
    moved = np.full(len(dx), -1)
    moved[(dy < 0) & (dx == 0)], moved[(dx > 0) & (dy == 0)] = 0, 1
    moved[(dy > 0) & (dx == 0)], moved[(dx < 0) & (dy == 0)] = 2, 3
    keep = (moved >= 0) & (np.abs(dx) < 20) & (trace.episode[1:] == trace.episode[:-1])
    assert keep.sum() > 200
    assert np.mean(facts["pacman_facing"][1:][keep] == moved[keep]) > 0.97


def test_power_pill_bit_clears_when_the_pill_leaves_the_frame(trace: Trace,
                                                              facts: dict[str, np.ndarray]) -> None:
    eaten = 0
    for pill in PILLS:
        bit = facts[f"pill_{pill}"]
        r0, r1, c0, c1 = PILL_BOXES[pill]
        drawn = _mask(trace.frames[:, r0:r1, c0:c1], WALL).any((1, 2))
        for t in np.flatnonzero(bit[:-1] & ~bit[1:] & (trace.episode[:-1] == trace.episode[1:])):
            eaten += 1
            assert drawn[t - 8:t + 1].any(), "pill flashes, so it shows in some of the frames before"
            assert not drawn[t + 2:t + 40].any(), "gone from the frame once the bit is cleared"
            assert facts["ghosts_frightened"][t + 1:t + 20].all()
            assert _mask(trace.frames[t + 1:t + 20], FRIGHTENED).any((1, 2)).mean() > 0.5
        # Where the bit says present, the flashing pill shows within any 4 consecutive frames.
        present = np.flatnonzero(bit[:-4])
        windows = np.stack([drawn[present + k] for k in range(4)]).any(0)
        assert windows.mean() > 0.99
    assert eaten >= 1


def test_edible_flag_matches_blue_ghosts(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    blue = _mask(trace.frames, FRIGHTENED)
    agree, n_blue = [], 0
    for ghost in GHOSTS:
        x, y = facts[f"{ghost}_x"], facts[f"{ghost}_y"]
        as_blue = _near(blue, x, y, 4)
        as_self = _near(_mask(trace.frames, GHOST_COLOURS[ghost]), x, y, 4)
        drawn = as_blue != as_self  # the ghost is drawn, unambiguously in one colour
        agree.append(facts[f"{ghost}_edible"][drawn] == as_blue[drawn])
        n_blue += as_blue[drawn].sum()
    assert n_blue > 50
    assert np.concatenate(agree).mean() > 0.98


def test_fruit_is_present_when_drawn(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    visible, x, y = _centroids(_mask(trace.frames, CHERRY))
    assert visible.sum() > 5
    assert facts["fruit_present"][visible].all()
    fx = trace.ram[:, FRUIT_X] + SPRITE_OFFSET[0]
    fy = trace.ram[:, FRUIT_Y] + SPRITE_OFFSET[1]
    assert np.mean(np.hypot(x - fx, y - fy)[visible] <= 2) > 0.98
    assert not facts["fruit_present"][:100].any()


def test_lives_score_and_dots_match_the_emulator(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(facts["lives"], trace.lives)
    same = trace.episode[1:] == trace.episode[:-1]
    np.testing.assert_array_equal(np.diff(facts["score"])[same], trace.reward[:-1][same])
    dot = np.isin(trace.reward[:-1] % 100, (10, 50))  # a dot is 10 points, a power pill 50
    np.testing.assert_array_equal(np.diff(facts["dots_eaten"])[same] == 1, dot[same])
    assert (facts["level"] == 1).all() and (facts["maze"] == 0).all()


def test_dying_flags_the_steps_before_a_real_life_loss(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    same = trace.episode[1:] == trace.episode[:-1]
    drops = np.flatnonzero(same & (np.diff(trace.lives) < 0))
    game_over = np.flatnonzero(~same)
    assert len(drops) >= 1 and len(game_over) >= 1
    for t in np.concatenate([drops, game_over]):
        assert facts["dying"][t - 9:t + 1].all()
        assert not facts["dying"][t - 10]
    assert not facts["dying"][game_over[0] + 1:game_over[0] + 50].any()
    expected = (len(drops) + len(game_over)) * 10
    assert facts["dying"].sum() == expected
    wider = decode_facts(trace.ram, trace.episode, dying_horizon=30)["dying"]
    assert wider.sum() == (len(drops) + len(game_over)) * 30


def test_dying_on_synthetic_sequences() -> None:
    lives = np.array([3, 3, 3, 2, 2, 3, 3, 1, 1, 1, 3, 3])
    episode = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    got = dying_within(lives, episode, horizon=2)
    # Lives drop after steps 2 and 6 (the extra life after step 4 is not a loss) and the game ends after
    # step 9 on the last life; episode 1 is the last one in the arrays, so its end is not judged.
    np.testing.assert_array_equal(got, [0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(dying_within(lives, episode, 1), [0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    # Without episode ids everything is one episode: the reset 1->3 is not a loss.
    np.testing.assert_array_equal(dying_within(lives, None, 1), [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    # A drop just after an episode boundary is not seen from the previous episode.
    np.testing.assert_array_equal(dying_within([2, 2, 3, 2], [0, 0, 1, 1], horizon=3), [0, 0, 1, 0])
    assert dying_within(np.array([], int), None, 5).shape == (0,)
    with pytest.raises(UserError, match="episode_ids"):
        dying_within(lives, episode[:-1], 2)


def test_binary_facts_are_one_hot_and_described(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    binary = binary_facts(facts)
    descriptions = binary_descriptions(dying_horizon=10)
    assert set(binary) <= set(descriptions)
    assert descriptions["dying"] == "a life is lost within 10 steps"
    assert descriptions["pacman_region=bottom_left"] == "Pac-Man is in the bottom-left region"
    assert descriptions["pill_bottom_left"] == "power pill (bottom-left) present"
    assert descriptions["nearest_ghost_distance=1"] == "nearest ghost is 10-20 px away"
    assert descriptions["nearest_ghost_direction=left"] == "nearest ghost is to the left of Pac-Man"
    n = len(trace.ram)
    for name, values in binary.items():
        assert values.dtype == bool and values.shape == (n,), name
    for fact in FACTS.values():
        group = [k for k in binary if k.startswith(fact.name + "=")]
        if fact.name in facts and (fact.kind == "categorical" or fact.bins):
            assert len(group) == max(len(fact.categories), len(fact.bins) + 1), fact.name
            assert (np.sum([binary[k] for k in group], 0) == 1).all(), f"{fact.name} is not one-hot"
    # Bins and regions agree with the raw values they came from.
    near = facts["nearest_ghost_distance"]
    np.testing.assert_array_equal(binary["nearest_ghost_distance=0"], near < 10)
    np.testing.assert_array_equal(binary["pacman_region=bottom_left"],
                                  (facts["pacman_x"] < 160 / 3) & (facts["pacman_y"] >= 2 * 172 / 3))
    assert binary["pacman_facing=left"].any() and binary["pacman_facing=up"].any()
    # Grid cells are 20 x 21.5 px, row-major from the top left, and nest in the 3x3 regions' bounds.
    x, y = facts["pacman_x"], facts["pacman_y"]
    np.testing.assert_array_equal(binary["pacman_cell=5_2"], (x >= 40) & (x < 60) & (y >= 107.5) & (y < 129))
    assert descriptions["pacman_cell=5_2"] == "Pac-Man is at x 40-60, y 108-129 px"


def test_decode_facts_rejects_bad_input() -> None:
    with pytest.raises(UserError, match="shape"):
        decode_facts(np.zeros((5, 64), np.uint8))
    with pytest.raises(UserError, match="lives"):
        decode_facts(np.zeros((5, 128), np.uint8), lives=np.ones(4))
    with pytest.raises(UserError, match="dying_horizon"):
        decode_facts(np.zeros((5, 128), np.uint8), dying_horizon=0)


def test_motion_matches_the_sprite(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    visible, x, y = _centroids(_mask(trace.frames, PACMAN))
    same = (trace.episode[1:] == trace.episode[:-1]) & visible[1:] & visible[:-1]
    motion = facts["pacman_motion"][1:]
    keep = same & (motion < 4) & (np.abs(np.diff(x)) < 20)
    assert keep.sum() > 200
    along = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]])[motion[keep]]
    moved = np.diff(x)[keep] * along[:, 0] + np.diff(y)[keep] * along[:, 1]
    assert np.mean(moved > 0) > 0.98  # the sprite moves the way the RAM says


def test_dead_is_the_frozen_animation_before_each_life_loss(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    same = trace.episode[1:] == trace.episode[:-1]
    losses = np.flatnonzero(same & (np.diff(trace.lives) < 0))
    dead = facts["dead"]
    starts = np.flatnonzero(np.diff(np.r_[0, dead.astype(int)]) == 1)
    ends = np.flatnonzero(np.diff(np.r_[dead.astype(int), 0]) == -1)
    assert len(losses) >= 1 and set(losses) <= set(ends)
    assert ((ends - starts + 1 >= 17) & (ends - starts + 1 <= 22)).all()  # ~19 steps: the animation
    r = trace.ram.astype(int)
    for start, end in zip(starts, ends):
        frozen = r[start:end + 1][:, [10, 16, 6, 7, 8, 9, 12, 13, 14, 15]]
        assert (frozen == frozen[0]).all()  # nothing moves while Pac-Man dies
        assert start == 0 or (r[start - 1, [10, 16, 6, 7, 8, 9, 12, 13, 14, 15]] != frozen[0]).any()


def test_eating_soon_matches_the_rewards(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    n = len(trace.reward)
    for name, points in (("eats_dot_soon", (10,)), ("eats_pill_soon", (50,))):
        event = np.isin(trace.reward % 100, points)
        want = np.array([any(event[s] for s in range(t, min(t + LOOKAHEAD, n))
                             if trace.episode[s] == trace.episode[t] and s + 1 < n
                             and trace.episode[s + 1] == trace.episode[t]) for t in range(n)])
        assert want.any()
        np.testing.assert_array_equal(facts[name], want, err_msg=name)
    ghost = np.isin(trace.reward, (200, 210, 250, 400, 410, 800, 1600))
    assert facts["eats_ghost_soon"][np.flatnonzero(ghost)].all()


def _ram(px: list[int], py: list[int], ghost: tuple[int, int] = (10, 10), pills: int = 0b111100) -> np.ndarray:
    """RAM rows with Pac-Man at (px, py) (sprite-centre pixels), one ghost parked at ``ghost``."""
    ram = np.zeros((len(px), 128), np.uint8)
    ram[:, 10] = np.array(px) + 9  # decoded x = ram - 8.5: +0.5 px from the given value
    ram[:, 16] = np.array(py) - 6  # decoded y = ram + 5.5
    ram[:, 6:10], ram[:, 12:16] = ghost[0] + 9, ghost[1] - 6
    ram[:, 117] = pills
    ram[:, 123] = 2
    return ram


def test_motion_reversal_heading_and_ghost_ahead_on_synthetic_paths() -> None:
    # Left along y = 150 towards the bottom-left pill (x 10), a turn-around after 5 steps, then left again.
    xs = [60 - 3 * i for i in range(6)] + [48 + 3 * i for i in range(3)] + [54 - 3 * i for i in range(12)]
    got = decode_facts(_ram(xs, [150] * len(xs), ghost=(20, 150)))
    assert got["pacman_motion"][0] == 4 and (got["pacman_motion"][1:6] == 3).all()  # still, then left
    assert (got["pacman_motion"][6:9] == 1).all()
    assert got["reverses_soon"][1:6].all() and not got["reverses_soon"][12:].any()
    heading = got["heading_to_pill_bottom_left"]
    assert not heading[1:6].any()  # turns around soon: not heading there
    assert not heading[9] and heading[10:13].all()  # standing still at step 9, then left for good
    assert not got["heading_to_pill_top_left"].any()
    assert (got["nearest_pill"] == 2).all()  # PILLS order: top_left, top_right, bottom_left, ...
    # The ghost at x 20 on the same row is ahead when moving left, within 48 px.
    ahead = (got["pacman_motion"] == 3) & (np.array(xs) - 20 <= GHOST_AHEAD)
    assert ahead.sum() > 10
    np.testing.assert_array_equal(got["ghost_ahead"], ahead)
    assert not got["ghost_ahead"][6:9].any()  # moving right, away from it
    np.testing.assert_array_equal(decode_facts(_ram(xs, [150] * len(xs), ghost=(20, 120)))["ghost_ahead"],
                                  np.zeros(len(xs), bool))  # another corridor


def test_action_fact_needs_one_action_per_step() -> None:
    ram = _ram([50, 53, 56], [100] * 3)
    assert list(decode_facts(ram, actions=np.array([2, 2, 3]))["action"]) == [2, 2, 3]
    assert "action" not in decode_facts(ram)
    with pytest.raises(UserError, match="actions"):
        decode_facts(ram, actions=np.array([1, 2]))
    assert binary_descriptions()["action=UP"] == "the agent chooses UP"


def test_dead_sees_a_one_pixel_move() -> None:
    # Frozen ghost, then the life lost at the end (game over on the last life). Pac-Man creeps right 1 px
    # a step at first: he is alive then; only the still steps before the loss are the animation. Decoded
    # x is a half pixel (ram - 8.5), which a float-to-int step change used to round a +1 move down to 0.
    xs = [50, 51, 52, 53] + [53] * 10
    ram = _ram(xs, [100] * len(xs))
    ram[:, 123] = 0  # the last life
    # A one-step next episode after it, so this one is judged as ended.
    dead = decode_facts(np.vstack([ram, ram[-1:]]), np.r_[np.zeros(len(xs), int), 1])["dead"]
    np.testing.assert_array_equal(dead[:len(xs)], np.arange(len(xs)) >= 3)


def test_death_spin_is_the_animation_without_ghosts(trace: Trace, facts: dict[str, np.ndarray]) -> None:
    ghosts = sum(_mask(trace.frames, colour).sum((1, 2)) for colour in (*GHOST_COLOURS.values(), FRIGHTENED))
    dead, spin, freeze = facts["dead"], facts["death_spin"], facts["death_freeze"]
    assert spin.sum() >= 15 and freeze.sum() >= 15
    np.testing.assert_array_equal(spin, dead & (ghosts == 0))  # the ghosts vanish, Pac-Man spins
    assert (ghosts[freeze] > 0).all()  # caught: everything frozen, the ghosts still drawn
    np.testing.assert_array_equal(spin | freeze, dead)
    assert not (spin & freeze).any()
