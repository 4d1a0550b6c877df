"""Ms. Pac-Man game facts decoded from the 128-byte Atari RAM, vectorised over many steps.

Addresses come from the published maps of OCAtari (Delfosse et al. 2023) and AtariARI (Anand et al.
2019), plus three found here by experiment: per-ghost edible bits, the frightened timer and the level.
Every offset below was checked against rendered frames of the real game; docs/ram_facts.md gives the
method and the measured agreement.

``decode_facts`` gives named arrays (one value per step); ``FACTS`` describes each one; ``binary_facts``
turns them all into boolean facts (one-hot categories, fixed bins of continuous values) to score
features against, and ``binary_descriptions`` gives each boolean fact a human-readable label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlsae.config import UserError

RAM_SIZE = 128
MAZE_WIDTH, MAZE_HEIGHT = 160, 172  # the playfield: screen rows 0..171; the score bar lies below

# RAM addresses (byte indices into ale.getRAM()).
PACMAN_X, PACMAN_Y, FACING = 10, 16, 56
GHOST_X, GHOST_Y, GHOST_STATE = 6, 12, 1  # + ghost index; GHOST_STATE bit 7 = edible (found here)
FRIGHTENED_TIMER = 116  # non-zero while power-pill mode lasts (found here)
FRUIT_X, FRUIT_Y = 11, 17
POWER_PILLS = 117
DOTS_EATEN = 119  # dots + power pills eaten in this level
SCORE_BCD = (120, 121, 122)  # low, middle, high byte
LIVES_LEVEL = 123  # low nibble: spare lives (ALE's lives() is this + 1); high nibble: level - 1
MAZE = 0

# Sprite centre = RAM coordinate + offset (measured against sprite pixel centroids).
PACMAN_OFFSET = (-8.5, 5.5)
SPRITE_OFFSET = (-8.5, 6.0)  # ghosts and fruit

GHOSTS = ("sue", "inky", "pinky", "blinky")  # orange, cyan, pink, red: RAM order 0..3
GHOST_COLOURS = ("orange", "cyan", "pink", "red")
DIRECTIONS = ("up", "right", "down", "left")  # ram[56] & 3
REGIONS = ("top_left", "top", "top_right", "left", "centre", "right", "bottom_left", "bottom", "bottom_right")
GRID = 8  # pacman_cell: an 8x8 grid of 20 x 21.5 px cells, about one corridor crossing each
CELLS = tuple(f"{row}_{col}" for row in range(GRID) for col in range(GRID))
PILLS = {"top_left": 5, "top_right": 3, "bottom_left": 4, "bottom_right": 2}  # bit of ram[117]


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


def _category_label(fact: Fact, category: str) -> str:
    """Human-readable label of one category of a categorical fact."""
    word = category.replace("_", "-")
    if fact.name == "pacman_region":
        return f"Pac-Man is in the {word} region"
    if fact.name == "pacman_cell":
        row, col = (int(i) for i in category.split("_"))
        w, h = MAZE_WIDTH / GRID, MAZE_HEIGHT / GRID
        return f"Pac-Man is at x {col * w:.0f}-{(col + 1) * w:.0f}, y {row * h:.0f}-{(row + 1) * h:.0f} px"
    if fact.name == "pacman_facing":
        return f"Pac-Man faces {word}"
    if fact.name == "nearest_ghost_direction":
        where = {"up": "above", "right": "to the right of", "down": "below", "left": "to the left of"}
        return f"nearest ghost is {where[category]} Pac-Man"
    if fact.name == "pills_left":
        return f"{category} power pill{'' if category == '1' else 's'} left"
    if fact.name == "maze":
        return f"the game is on maze layout {category}"
    return f"{fact.description}: {category}"


FACTS: dict[str, Fact] = {f.name: f for f in [
    Fact("pacman_x", "continuous", "Pac-Man's x (screen pixels)", bins=(MAZE_WIDTH / 3, 2 * MAZE_WIDTH / 3),
         bin_labels=("Pac-Man is in the left third", "Pac-Man is in the middle third (x)",
                     "Pac-Man is in the right third")),
    Fact("pacman_y", "continuous", "Pac-Man's y (screen pixels)", bins=(MAZE_HEIGHT / 3, 2 * MAZE_HEIGHT / 3),
         bin_labels=("Pac-Man is in the top third", "Pac-Man is in the middle third (y)",
                     "Pac-Man is in the bottom third")),
    Fact("pacman_region", "categorical", "Pac-Man's region of the maze (3x3 grid)", categories=REGIONS),
    Fact("pacman_cell", "categorical", f"Pac-Man's cell of a {GRID}x{GRID} grid over the maze",
         categories=CELLS),
    Fact("pacman_facing", "categorical", "Pac-Man's facing direction", categories=DIRECTIONS),
    *[Fact(f"{g}_{axis}", "continuous", f"{g.capitalize()} ({c} ghost) {axis} (screen pixels)")
      for g, c in zip(GHOSTS, GHOST_COLOURS) for axis in "xy"],
    *[Fact(f"{g}_edible", "binary", f"{g.capitalize()} ({c} ghost) is edible")
      for g, c in zip(GHOSTS, GHOST_COLOURS)],
    Fact("ghosts_frightened", "binary", "a power pill is active (ghosts frightened)"),
    Fact("nearest_ghost_distance", "continuous", "distance to the nearest ghost (pixels)",
         bins=(10, 20, 40, 80),
         bin_labels=("nearest ghost is within 10 px", "nearest ghost is 10-20 px away",
                     "nearest ghost is 20-40 px away", "nearest ghost is 40-80 px away",
                     "nearest ghost is over 80 px away")),
    Fact("nearest_ghost_direction", "categorical", "direction from Pac-Man to the nearest ghost",
         categories=DIRECTIONS),
    Fact("nearest_ghost_edible", "binary", "the nearest ghost is edible"),
    *[Fact(f"pill_{p}", "binary", f"power pill ({p.replace('_', '-')}) present") for p in PILLS],
    Fact("pills_left", "categorical", "number of power pills left", categories=tuple("01234")),
    Fact("fruit_present", "binary", "a fruit is in the maze"),
    Fact("lives", "continuous", "lives left, counting the one in play (as ALE's lives())", bins=(2, 3),
         bin_labels=("on the last life", "2 lives left", "3 or more lives left")),
    Fact("dying", "binary", "a life is lost within {horizon} steps"),
    Fact("dots_eaten", "continuous", "dots eaten in this level (power pills count)", bins=(40, 80, 120),
         bin_labels=("under 40 dots eaten this level", "40-79 dots eaten this level",
                     "80-119 dots eaten this level", "120 or more dots eaten this level")),
    Fact("level", "continuous", "level, from 1"),
    Fact("maze", "categorical", "maze layout", categories=("1", "2", "3", "4")),
    Fact("score", "continuous", "game score", bins=(500, 1000, 2000, 4000),
         bin_labels=("score under 500", "score 500-999", "score 1000-1999", "score 2000-3999",
                     "score 4000 or more")),
]}


def _bcd(byte: np.ndarray) -> np.ndarray:
    return (byte >> 4) * 10 + (byte & 15)


def dying_within(lives: np.ndarray, episode_ids: np.ndarray | None, horizon: int) -> np.ndarray:
    """True where ``lives`` drops within the next ``horizon`` steps of the same episode.

    The last life ends the episode without a drop, so the end of an episode played on its last life
    (lives == 1) counts as a loss, except for the last episode in the arrays, which may be cut off.
    Note the game decrements lives ~20 agent steps after a ghost catches Pac-Man (the death animation),
    so a small horizon flags the animation itself ("Pac-Man is dead").
    """
    lives = np.asarray(lives, np.int64)
    n = len(lives)
    episodes = np.zeros(n, np.int64) if episode_ids is None else np.asarray(episode_ids)
    if episodes.shape != (n,):
        raise UserError(f"episode_ids has shape {episodes.shape}, but lives has {n} steps; "
                        "give one episode id per step")
    # loss[t]: a life is lost between step t and t + 1.
    loss = np.zeros(n, bool)
    same = episodes[1:] == episodes[:-1]
    loss[:-1] = same & (lives[1:] < lives[:-1])
    loss[:-1] |= ~same & (lives[:-1] == 1)
    # Steps t with a loss among transitions [t, t + horizon), stopping at the end of t's episode.
    ends = np.append(np.flatnonzero(~same), n - 1)
    idx = np.arange(n)
    stop = np.minimum(idx + horizon, ends[np.searchsorted(ends, idx)] + 1)
    csum = np.concatenate([[0], np.cumsum(loss)])
    return csum[stop] - csum[idx] > 0


def decode_facts(ram: np.ndarray, episode_ids: np.ndarray | None = None, lives: np.ndarray | None = None,
                 dying_horizon: int = 10) -> dict[str, np.ndarray]:
    """Decode every fact in ``FACTS`` from ``ram`` [N, 128] (uint8, one row per agent step, in order).

    ``episode_ids`` [N] keeps "dying" inside episodes; ``lives`` [N] (e.g. ALE's info["lives"]) overrides
    the lives read from RAM. Returns {fact name: array [N]}.
    """
    ram = np.asarray(ram)
    if ram.ndim != 2 or ram.shape[1] != RAM_SIZE:
        raise UserError(f"ram must have shape [steps, {RAM_SIZE}], got {ram.shape}")
    if dying_horizon < 1:
        raise UserError(f"dying_horizon must be at least 1 step, got {dying_horizon}")
    r = ram.astype(np.int64)
    out: dict[str, np.ndarray] = {}
    px = r[:, PACMAN_X] + PACMAN_OFFSET[0]
    py = r[:, PACMAN_Y] + PACMAN_OFFSET[1]
    out["pacman_x"], out["pacman_y"] = px, py
    col = np.digitize(px, FACTS["pacman_x"].bins)
    row = np.digitize(py, FACTS["pacman_y"].bins)
    out["pacman_region"] = row * 3 + col
    out["pacman_cell"] = (np.clip(py * GRID // MAZE_HEIGHT, 0, GRID - 1) * GRID
                          + np.clip(px * GRID // MAZE_WIDTH, 0, GRID - 1)).astype(np.int64)
    out["pacman_facing"] = r[:, FACING] & 3

    gx = r[:, GHOST_X:GHOST_X + 4] + SPRITE_OFFSET[0]
    gy = r[:, GHOST_Y:GHOST_Y + 4] + SPRITE_OFFSET[1]
    edible = (r[:, GHOST_STATE:GHOST_STATE + 4] & 0x80) > 0
    for i, g in enumerate(GHOSTS):
        out[f"{g}_x"], out[f"{g}_y"], out[f"{g}_edible"] = gx[:, i], gy[:, i], edible[:, i]
    out["ghosts_frightened"] = r[:, FRIGHTENED_TIMER] > 0
    dx, dy = gx - px[:, None], gy - py[:, None]
    dist = np.hypot(dx, dy)
    near = dist.argmin(1)
    rows = np.arange(len(r))
    out["nearest_ghost_distance"] = dist[rows, near]
    ndx, ndy = dx[rows, near], dy[rows, near]
    out["nearest_ghost_direction"] = np.where(np.abs(ndx) >= np.abs(ndy), np.where(ndx >= 0, 1, 3),
                                              np.where(ndy >= 0, 2, 0))
    out["nearest_ghost_edible"] = edible[rows, near]

    for pill, bit in PILLS.items():
        out[f"pill_{pill}"] = (r[:, POWER_PILLS] >> bit & 1) > 0
    out["pills_left"] = sum(out[f"pill_{p}"].astype(np.int64) for p in PILLS)
    out["fruit_present"] = r[:, FRUIT_X] > 0
    ram_lives = (r[:, LIVES_LEVEL] & 15) + 1
    out["lives"] = ram_lives if lives is None else np.asarray(lives, np.int64)
    if len(out["lives"]) != len(r):
        raise UserError(f"lives has {len(out['lives'])} steps but ram has {len(r)}; give one value per step")
    out["dying"] = dying_within(out["lives"], episode_ids, dying_horizon)
    out["dots_eaten"] = r[:, DOTS_EATEN]
    out["level"] = (r[:, LIVES_LEVEL] >> 4) + 1
    out["maze"] = np.minimum(r[:, MAZE], 3)
    out["score"] = (_bcd(r[:, SCORE_BCD[2]]) * 10000 + _bcd(r[:, SCORE_BCD[1]]) * 100
                    + _bcd(r[:, SCORE_BCD[0]]))
    return out


def binary_facts(facts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean facts for AUROC scoring: binary facts as they are, each category of a categorical fact
    one-hot (``pacman_region=bottom_left``), each bin of a binned continuous fact one-hot
    (``nearest_ghost_distance=0``: the first interval). Continuous facts without bins are left out;
    names missing from ``FACTS`` (or from ``facts``) are skipped."""
    out: dict[str, np.ndarray] = {}
    for name, values in facts.items():
        fact = FACTS.get(name)
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


def binary_descriptions(dying_horizon: int = 10) -> dict[str, str]:
    """Human-readable label of every name ``binary_facts`` can return."""
    out: dict[str, str] = {}
    for fact in FACTS.values():
        if fact.kind == "binary":
            out[fact.name] = fact.description.format(horizon=dying_horizon)
        elif fact.kind == "categorical":
            for category in fact.categories:
                out[f"{fact.name}={category}"] = _category_label(fact, category)
        else:
            for b, label in enumerate(fact.bin_labels):
                out[f"{fact.name}={b}"] = label
    return out
