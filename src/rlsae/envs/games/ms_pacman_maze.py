"""Ms. Pac-Man's first maze: its walls, its dots in RAM, and distances along its corridors.

The walls were read once from rendered frames (a cell is wall when over 30% of its pixels are wall-coloured
over a game; dots fill 17% of a cell, the ghost house's thin lid 42%) and are kept here as data:
14 bands of 12 screen rows (from row 2) by 40 columns of 4 px. Pac-Man's centre lies in one cell of a
corridor: a cell whose left and right neighbours are open too (corridors are 3 cells = 12 px wide).
Those cells are the nodes of the corridor graph; a step to a side neighbour is 4 px, to the band above or
below 12 px, and the rows open at both screen edges wrap (the side tunnels).

Dots (found here by experiment, tests/envs/test_maze.py): 14 rows of 18 dot places, one row per band,
at screen x 8, 16 ... 72 and 84 ... 148; row r is ram[59 + 3r .. 61 + 3r], and the bit of each place is
``DOT_BITS`` (the order of the Atari playfield registers). A bit is also set where a wall covers the
place, so a dot exists only where its cell is open. Levels 1 and 2 use this maze (ram[0] == 0); on later
mazes the facts that need it are undefined (``None`` from ``maze_facts``).
"""

from __future__ import annotations

from functools import cache

import numpy as np

WALLS = (
    "#.........#..................#.........#",
    "#...###...#...############...#...###...#",
    "#......................................#",
    "###...#...###...########...###...#...###",
    "......#..........................#......",
    "###...#######...########...#######...###",
    "..#.............#......#.............#..",
    "###...#######...########...#######...###",
    "......#..........................#......",
    "###...#...#...#...####...#...#...#...###",
    "#.........#...#..........#...#.........#",
    "#...###...#.......####.......#...###...#",
    "#...###...#####...####...#####...###...#",
    "#......................................#",
)
BANDS, COLUMNS = len(WALLS), len(WALLS[0])
BAND_TOP, BAND_HEIGHT, COLUMN_WIDTH = 2, 12, 4  # screen rows and px
DOT_RAM = 59  # first byte of the dot rows
DOT_X = (*range(8, 73, 8), *range(84, 149, 8))  # left screen x of each dot place (4 px wide, 2 rows high)
DOT_Y = tuple(BAND_TOP + 5 + BAND_HEIGHT * r for r in range(BANDS))  # top screen row of each dot row
# (byte of the row's three, bit) of each of the 18 dot places, left to right.
DOT_BITS = ((0, 6), (1, 7), (1, 5), (1, 3), (1, 1), (2, 0), (2, 2), (2, 4), (2, 6),
            (1, 6), (1, 4), (1, 2), (1, 0), (2, 1), (2, 3), (2, 5), (2, 7), (0, 4))
PILL_PLACES = ((1, 0), (1, 17), (12, 0), (12, 17))  # (row, place) of the power pills, which ram[117] holds
STEPS = ((-1, 0, BAND_HEIGHT), (0, 1, COLUMN_WIDTH), (1, 0, BAND_HEIGHT), (0, -1, COLUMN_WIDTH))  # up right down left


def cell_of(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(band, column) of the cells holding screen points (x, y), clipped to the maze."""
    band = np.clip(np.floor((np.asarray(y) - BAND_TOP) / BAND_HEIGHT), 0, BANDS - 1).astype(np.int64)
    column = np.clip(np.floor(np.asarray(x) / COLUMN_WIDTH), 0, COLUMNS - 1).astype(np.int64)
    return band, column


@cache
def corridors() -> np.ndarray:
    """[BANDS, COLUMNS] True where Pac-Man's centre can be: an open cell between two open cells."""
    open_ = np.array([[c == "." for c in row] for row in WALLS])
    return open_ & np.roll(open_, 1, 1) & np.roll(open_, -1, 1)


@cache
def _graph() -> tuple[np.ndarray, np.ndarray]:
    """Shortest corridor distances in px between all cells [cells, cells] (inf from or to a wall), and
    each cell's neighbour in each of ``STEPS`` [cells, 4] (-1 where that way is blocked)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    walk = corridors()
    n = BANDS * COLUMNS
    neighbour = np.full((n, len(STEPS)), -1)
    rows, cols, weights = [], [], []
    for b, c in np.argwhere(walk):
        for k, (db, dc, length) in enumerate(STEPS):
            nb, nc = b + db, (c + dc) % COLUMNS  # the modulo is the side tunnels
            if 0 <= nb < BANDS and walk[nb, nc]:
                neighbour[b * COLUMNS + c, k] = nb * COLUMNS + nc
                rows.append(b * COLUMNS + c)
                cols.append(nb * COLUMNS + nc)
                weights.append(length)
    distance = shortest_path(coo_matrix((weights, (rows, cols)), shape=(n, n)).tocsr(), directed=False)
    return distance.astype(np.float32), neighbour


def dot_places() -> np.ndarray:
    """[BANDS, 18] True where the maze has a dot place: its cell is a corridor and no power pill is there."""
    walk = corridors()
    places = np.array([[walk[r, x // COLUMN_WIDTH] for x in DOT_X] for r in range(BANDS)])
    places[tuple(np.array(PILL_PLACES).T)] = False
    return places


def dots(ram: np.ndarray) -> np.ndarray:
    """[N, BANDS, 18] True where a dot is still in the maze, from ram [N, 128]."""
    ram = np.asarray(ram, np.int64)
    rows = [[(ram[:, DOT_RAM + 3 * r + byte] >> bit) & 1 for byte, bit in DOT_BITS] for r in range(BANDS)]
    return np.moveaxis(np.array(rows, bool), -1, 0) & dot_places()


def junctions() -> np.ndarray:
    """[BANDS, COLUMNS] True at corridor cells with three or four open ways (a choice to make)."""
    _, neighbour = _graph()
    return ((neighbour >= 0).sum(1) >= 3).reshape(BANDS, COLUMNS)


def _nearest(node: np.ndarray, targets: np.ndarray, target_nodes: np.ndarray,
             chunk: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """Corridor distance from each ``node`` [N] to the nearest of its ``targets`` [N, T] (True = present;
    at ``target_nodes`` [T]), and the first way there (index into ``STEPS``; -1 at a target or with none)."""
    distance, neighbour = _graph()
    to_targets = distance[:, target_nodes]  # [cells, T]
    best = np.full(len(node), np.inf, np.float32)
    way = np.full(len(node), -1)
    for start in range(0, len(node), chunk):
        part = slice(start, start + chunk)
        present = targets[part]
        best[part] = np.where(present, to_targets[node[part]], np.inf).min(1)
        via = neighbour[node[part]]  # [n, 4]
        through = np.where(present[:, None], to_targets[np.maximum(via, 0)], np.inf).min(2)
        through = np.where(via >= 0, through + np.array([s[2] for s in STEPS]), np.inf)
        way[part] = np.where(np.isfinite(best[part]) & (best[part] > 0), through.argmin(1), -1)
    return best, way


def path_lengths(ram: np.ndarray, x: np.ndarray, y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[N, P] corridor distance (px) from Pac-Man at screen (x, y) [N] to each of ``points`` [P, 2] (screen
    px); infinite on steps on another maze (ram[0] != 0)."""
    band, column = cell_of(x, y)
    point_band, point_column = cell_of(points[:, 0], points[:, 1])
    lengths = _graph()[0][band * COLUMNS + column][:, point_band * COLUMNS + point_column]
    return np.where((np.asarray(ram)[:, 0] == 0)[:, None], lengths, np.inf)


def maze_facts(ram: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Facts on the first maze for Pac-Man at screen (x, y) [N]: at a junction, dots left, and the corridor
    distance (px) and first way (index into up, right, down, left; 4 = none) to the nearest dot. Steps on
    another maze (ram[0] != 0) get no junction, infinite counts and distances, and no way."""
    first_maze = np.asarray(ram)[:, 0] == 0
    band, column = cell_of(x, y)
    node = band * COLUMNS + column
    present = dots(ram).reshape(len(node), -1)
    places = np.flatnonzero(dot_places().ravel())
    dot_nodes = np.array([r * COLUMNS + DOT_X[k] // COLUMN_WIDTH for r in range(BANDS) for k in range(len(DOT_X))])
    dot_distance, dot_way = _nearest(node, present[:, places], dot_nodes[places])
    return {"at_junction": first_maze & junctions()[band, column],
            "dots_left": np.where(first_maze, present.sum(1), np.inf),
            "nearest_dot_distance": np.where(first_maze, dot_distance, np.inf),
            "nearest_dot_way": np.where(first_maze & (dot_way >= 0), dot_way, len(STEPS))}
