"""The first maze's walls, dots and corridor distances checked against the rendered frames of a real game."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from rlsae.envs.atari import make_render_env
from rlsae.envs.facts import decode_facts
from rlsae.envs.games import ms_pacman_maze as maze
from rlsae.envs.games.ms_pacman import DOTS_EATEN, MAZE_HEIGHT, PILL_CENTRES, PILLS

WALL = (228, 111, 111)  # walls, dots and pills of the first maze
BACKGROUND = (0, 28, 136)


@pytest.fixture(scope="module")
def game() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ram [N, 128], playfield frames [N, 172, 160, 3], episode ids): seed 0, a random policy keeping a
    direction for ~10 steps; it eats dots in several corridors, a power pill, and loses lives."""
    env = make_render_env()
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    ram, frames, episodes = [], [], []
    action, episode = 0, 0
    for _ in range(600):
        ram.append(env.unwrapped.ale.getRAM().copy())
        frames.append(obs[:MAZE_HEIGHT])
        episodes.append(episode)
        if rng.random() < 0.1:
            action = int(rng.integers(1, 5))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset()
    env.close()
    return np.array(ram), np.array(frames), np.array(episodes)


@pytest.fixture(scope="module")
def facts(game: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    ram, _, episodes = game
    return decode_facts(ram, episodes)


def _colour(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return (pixels == np.array(colour, np.uint8)).all(-1)


def test_walls_are_the_frames_walls(game: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, frames, _ = game
    wall = _colour(frames[::5], WALL).mean(0) > 0.5  # pills flash and sprites pass: most frames decide
    top = maze.BAND_TOP
    cells = wall[top:top + maze.BANDS * maze.BAND_HEIGHT].reshape(
        maze.BANDS, maze.BAND_HEIGHT, maze.COLUMNS, maze.COLUMN_WIDTH).mean((1, 3)) > 0.3
    read = tuple("".join("#" if c else "." for c in row) for row in cells)
    assert read == maze.WALLS


def test_dots_are_the_frames_dots(game: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ram, frames, _ = game
    decoded = maze.dots(ram)
    places = maze.dot_places()
    checked = eaten = 0
    for r, y in enumerate(maze.DOT_Y):
        for k, x in enumerate(maze.DOT_X):
            block = frames[:, y:y + 2, x:x + 4]
            drawn, bare = _colour(block, WALL).all((1, 2)), _colour(block, BACKGROUND).all((1, 2))
            if not places[r, k]:
                assert not decoded[:, r, k].any()
                continue
            known = drawn | bare  # else a sprite covers the place
            np.testing.assert_array_equal(decoded[known, r, k], drawn[known], err_msg=f"dot row {r}, place {k}")
            checked += int(known.sum())
            eaten += int(drawn[known][0] and not drawn[known][-1])
    assert checked > 0.9 * places.sum() * len(ram)
    assert eaten >= 20  # the bit order is tested on dots that go, not only on dots that stay


def test_dot_count_follows_the_ram_counter(game: tuple[np.ndarray, np.ndarray, np.ndarray],
                                           facts: dict[str, np.ndarray]) -> None:
    ram, _, episodes = game
    same = episodes[1:] == episodes[:-1]
    pills = -np.diff(facts["pills_left"])
    eaten = np.diff(ram[:, DOTS_EATEN].astype(np.int64))
    fewer = -np.diff(facts["dots_left"])
    level = (eaten >= 0) & same
    np.testing.assert_array_equal(fewer[level], (eaten - pills)[level])
    assert fewer[level].sum() >= 20


def test_pacman_stays_in_the_corridors(facts: dict[str, np.ndarray]) -> None:
    band, column = maze.cell_of(facts["pacman_x"], facts["pacman_y"])
    assert maze.corridors()[band, column].all()
    # Where he turns a corner, the new way is open from the cell he turns in (a junction or a corner).
    motion = facts["pacman_motion"]
    turns = np.flatnonzero((motion[:-1] < 4) & (motion[1:] < 4) & (motion[:-1] % 2 != motion[1:] % 2))
    assert len(turns) >= 5
    _, neighbour = maze._graph()
    assert (neighbour[band[turns] * maze.COLUMNS + column[turns], motion[turns + 1]] >= 0).all()
    assert facts["at_junction"][turns].mean() > 0.5


def test_corridor_distances_follow_pacman(game: tuple[np.ndarray, np.ndarray, np.ndarray],
                                          facts: dict[str, np.ndarray]) -> None:
    _, _, episodes = game
    distance = facts["pill_path_distance"]
    step = np.hypot(np.diff(facts["pacman_x"]), np.diff(facts["pacman_y"]))
    steady = (episodes[1:] == episodes[:-1]) & (np.diff(facts["pills_left"]) == 0) & (step < 40)
    # One step along a corridor changes the distance by at most the step, give or take a cell.
    assert (np.abs(np.diff(distance)) - step)[steady].max() <= maze.BAND_HEIGHT
    assert (distance >= facts["nearest_pill_distance"] - maze.BAND_HEIGHT).all()
    eaten = np.flatnonzero(np.diff(facts["pills_left"]) < 0)
    assert len(eaten) and (distance[eaten] <= maze.BAND_HEIGHT).all()


def _reference_distances(start: tuple[int, int]) -> dict[tuple[int, int], float]:
    """Dijkstra over the corridor cells of ``maze.WALLS`` from ``start`` (written apart from the module)."""
    open_ = [[c == "." for c in row] for row in maze.WALLS]
    width = len(open_[0])

    def walkable(b: int, c: int) -> bool:
        return 0 <= b < len(open_) and all(open_[b][(c + d) % width] for d in (-1, 0, 1))

    best = {start: 0.0}
    queue = [(0.0, start)]
    while queue:
        d, (b, c) = heapq.heappop(queue)
        if d > best[(b, c)]:
            continue
        for nb, nc, length in ((b - 1, c, 12), (b + 1, c, 12), (b, (c + 1) % width, 4), (b, (c - 1) % width, 4)):
            if walkable(nb, nc) and d + length < best.get((nb, nc), np.inf):
                best[(nb, nc)] = d + length
                heapq.heappush(queue, (d + length, (nb, nc)))
    return best


def test_nearest_dot_matches_a_reference_search(game: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                facts: dict[str, np.ndarray]) -> None:
    ram, _, _ = game
    band, column = maze.cell_of(facts["pacman_x"], facts["pacman_y"])
    present = maze.dots(ram)
    moves = ((-1, 0, 12), (0, 1, 4), (1, 0, 12), (0, -1, 4))
    for t in range(0, len(ram), 37):
        reach = _reference_distances((int(band[t]), int(column[t])))
        dots = [(r, x // maze.COLUMN_WIDTH) for r, k in np.argwhere(present[t]) for x in (maze.DOT_X[k],)]
        want = min(reach.get(d, np.inf) for d in dots)
        assert facts["nearest_dot_distance"][t] == want
        pills = [maze.cell_of(*PILL_CENTRES[p]) for p in PILLS if facts[f"pill_{p}"][t]]
        assert facts["pill_path_distance"][t] == min((reach.get((int(b), int(c)), np.inf) for b, c in pills),
                                                     default=np.inf)
        way = facts["nearest_dot_way"][t]
        if want > 0:
            db, dc, length = moves[way]
            after = _reference_distances((int(band[t]) + db, (int(column[t]) + dc) % maze.COLUMNS))
            assert min(after.get(d, np.inf) for d in dots) + length == want


def test_later_mazes_have_no_maze_facts(game: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ram = game[0][:50].copy()
    ram[:, 0] = 1
    facts = decode_facts(ram)
    assert not facts["at_junction"].any()
    assert np.isinf(facts["nearest_dot_distance"]).all() and np.isinf(facts["pill_path_distance"]).all()
    assert (facts["nearest_dot_way"] == 4).all() and np.isinf(facts["dots_left"]).all()
