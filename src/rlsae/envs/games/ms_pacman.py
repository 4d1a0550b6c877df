"""Ms. Pac-Man's game spec: facts decoded from the 128-byte Atari RAM, vectorised over many steps.

Addresses come from the published maps of OCAtari (Delfosse et al. 2023) and AtariARI (Anand et al.
2019), plus three found here by experiment: per-ghost edible bits, the frightened timer and the level.
Every offset below was checked against rendered frames of the real game; docs/ram_facts.md gives the
method and the measured agreement.

``decode`` gives named arrays (one value per step) and ``FACTS`` describes each one; ``SPEC`` holds
them with the conjunction groups, Pac-Man's position and the headline facts (``rlsae.envs.games``).

Besides what one RAM snapshot shows, the facts that drive Pac-Man's choices look along the episode:
his direction of motion (position change), turning around, heading for a power pill, a ghost ahead,
ghosts approaching, what he eats in the next steps, the death animation, and the agent's own action.
This module is the one place that knows Ms. Pac-Man.
"""

from __future__ import annotations

import numpy as np

from rlsae.envs.games.ms_pacman_maze import maze_facts, path_lengths
from rlsae.envs.games.spec import (
    LOOKAHEAD,
    Fact,
    GameSpec,
    Headline,
    SteeringGoal,
    TalkFeature,
    direction,
    dying_fact,
    dying_within,
    life_lost,
    step_change,
)
from rlsae.envs.sequences import previous_delta, value_after, within_next

MAZE_WIDTH, MAZE_HEIGHT = 160, 172  # the playfield: screen rows 0..171; the score bar lies below

# RAM addresses (byte indices into ale.getRAM()).
PACMAN_X, PACMAN_Y, FACING = 10, 16, 56
GHOST_X, GHOST_Y, GHOST_STATE = 6, 12, 1  # + ghost index; GHOST_STATE bit 7 = edible (found here)
FRIGHTENED_TIMER = 116  # non-zero while power-pill mode lasts (found here)
FRUIT_X, FRUIT_Y = 11, 17
POWER_PILLS = 117
DOTS_EATEN = 119  # dots + power pills eaten in this level
SCORE_BCD = (120, 121, 122)  # low, middle, high byte
DEATH_SPIN = 33  # 255 while Pac-Man spins in the second half of the death animation, ghosts gone (found here)
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
FINE_GRID = 16  # pacman_tile: 10 x 10.75 px, about one corridor wide; many SAE features are this local
TILES = tuple(f"{row}_{col}" for row in range(FINE_GRID) for col in range(FINE_GRID))
PILLS = {"top_left": 5, "top_right": 3, "bottom_left": 4, "bottom_right": 2}  # bit of ram[117]
# Power pill centres (screen px) in the first two levels' maze, from their pixels in rendered frames
# (tests/envs/test_facts.py PILL_BOXES); later mazes put them within a few pixels of the same corners.
PILL_CENTRES = {"top_left": (10.0, 18.5), "top_right": (150.0, 17.5), "bottom_left": (10.0, 150.5),
                "bottom_right": (150.0, 149.5)}
MOTIONS = (*DIRECTIONS, "still")
DEAD_WITHIN = 30  # the death animation lasts ~20 agent steps before the lives counter drops
GHOST_AHEAD = 48  # px along the direction of motion
CORRIDOR = 6  # px off the line of motion that still counts as the same corridor
HEADING_GAIN = 6  # px closer to a pill after LOOKAHEAD steps that count as heading for it
WRAP = 40  # a position jump this large is the side tunnel, not motion


def _category_label(fact: Fact, category: str) -> str | None:
    """Human-readable label of one category of a categorical fact."""
    word = category.replace("_", "-")
    if fact.name == "pacman_region":
        return f"Pac-Man is in the {word} region"
    if fact.name in ("pacman_cell", "pacman_tile"):
        row, col = (int(i) for i in category.split("_"))
        grid = GRID if fact.name == "pacman_cell" else FINE_GRID
        w, h = MAZE_WIDTH / grid, MAZE_HEIGHT / grid
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
    if fact.name == "pacman_motion":
        return "Pac-Man stands still" if category == "still" else f"Pac-Man moves {word}"
    if fact.name == "nearest_pill":
        return "no power pill is left" if category == "none" else f"the nearest power pill is the {word} one"
    if fact.name == "nearest_pill_direction":
        where = {"up": "above", "right": "to the right of", "down": "below", "left": "to the left of"}
        return f"the nearest power pill is {where[category]} Pac-Man"
    if fact.name == "nearest_dot_way":
        return "no dot path is known" if category == "none" else f"the nearest dot is reached by going {word}"
    if fact.name == "nearest_ghost_motion":
        return f"the nearest ghost is {category} Pac-Man" if category != "steady" else \
            "the nearest ghost keeps its distance"
    return None


def _along_corridors(name: str, what: str, bins: tuple[int, ...], beyond: str) -> Fact:
    """A distance along the corridors to ``what`` ("the nearest dot"), binned at ``bins`` px; ``beyond``
    says what else the last bin holds."""
    labels = (f"{what} is within {bins[0]} px along the corridors",
              *[f"{what} is {a}-{b} px along the corridors" for a, b in zip(bins, bins[1:])],
              f"{what} is over {bins[-1]} px along the corridors ({beyond})")
    return Fact(name, "continuous", f"distance along the corridors to {what} (px)", bins=bins, bin_labels=labels)


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
    Fact("pacman_tile", "categorical", f"Pac-Man's tile of a {FINE_GRID}x{FINE_GRID} grid over the maze",
         categories=TILES),
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
    dying_fact(),
    Fact("dead", "binary", "Pac-Man is dead (caught; the death animation plays, the life not yet taken)"),
    Fact("death_freeze", "binary", "Pac-Man has just been caught (the death animation's frozen first half, "
                                   "ghosts still shown)"),
    Fact("death_spin", "binary", "Pac-Man spins in the death animation (its second half, the ghosts gone)"),
    Fact("pacman_motion", "categorical", "Pac-Man's direction of motion since the previous step",
         categories=MOTIONS),
    Fact("reverses_soon", "binary", f"Pac-Man turns around within {LOOKAHEAD} steps"),
    Fact("nearest_pill", "categorical", "the nearest remaining power pill (along the corridors on the first maze)",
         categories=(*PILLS, "none")),
    Fact("nearest_pill_direction", "categorical", "direction from Pac-Man to the nearest power pill",
         categories=DIRECTIONS),
    Fact("nearest_pill_distance", "continuous", "straight-line distance to the nearest power pill (pixels)",
         bins=(20, 40, 80),
         bin_labels=("the nearest power pill is within 20 px", "the nearest power pill is 20-40 px away",
                     "the nearest power pill is 40-80 px away",
                     "the nearest power pill is over 80 px away (or none left)")),
    _along_corridors("pill_path_distance", "the nearest power pill", (24, 48, 96), "or none left, or a later maze"),
    Fact("at_junction", "binary", "Pac-Man is at a junction (three or four ways open; first maze)"),
    Fact("dots_left", "continuous", "dots left in the maze (first maze; power pills apart)", bins=(10, 50, 100),
         bin_labels=("10 or fewer dots left", "11-50 dots left", "51-100 dots left",
                     "over 100 dots left (or a later maze)")),
    _along_corridors("nearest_dot_distance", "the nearest dot", (8, 24, 48), "or none, or a later maze"),
    Fact("nearest_dot_way", "categorical", "the first move along the corridors to the nearest dot",
         categories=(*DIRECTIONS, "none")),
    *[Fact(f"heading_to_pill_{p}", "binary",
           f"Pac-Man heads for the {p.replace('_', '-')} power pill (the nearest) without turning around")
      for p in PILLS],
    Fact("ghost_ahead", "binary", f"a dangerous ghost is ahead within {GHOST_AHEAD} px in Pac-Man's direction "
                                  "of motion"),
    Fact("ghost_ahead_near", "binary", "a dangerous ghost is ahead within 20 px in Pac-Man's direction of motion"),
    Fact("nearest_ghost_motion", "categorical", "the nearest ghost's distance since the previous step",
         categories=("approaching", "leaving", "steady")),
    Fact("eats_dot_soon", "binary", f"Pac-Man eats a dot within {LOOKAHEAD} steps"),
    Fact("eats_pill_soon", "binary", f"Pac-Man eats a power pill within {LOOKAHEAD} steps"),
    Fact("eats_ghost_soon", "binary", f"Pac-Man eats a ghost within {LOOKAHEAD} steps"),
    Fact("eats_fruit_soon", "binary", f"Pac-Man eats a fruit within {LOOKAHEAD} steps"),
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


def decode(r: np.ndarray, episodes: np.ndarray, lives: np.ndarray | None,
           dying_horizon: int) -> dict[str, np.ndarray]:
    """Every fact in ``FACTS`` from ``r`` [N, 128] (int64 RAM, one row per agent step, in order)."""
    out: dict[str, np.ndarray] = {}
    px = r[:, PACMAN_X] + PACMAN_OFFSET[0]
    py = r[:, PACMAN_Y] + PACMAN_OFFSET[1]
    out["pacman_x"], out["pacman_y"] = px, py
    col = np.digitize(px, FACTS["pacman_x"].bins)
    row = np.digitize(py, FACTS["pacman_y"].bins)
    out["pacman_region"] = row * 3 + col
    for name, grid in (("pacman_cell", GRID), ("pacman_tile", FINE_GRID)):
        out[name] = (np.clip(py * grid // MAZE_HEIGHT, 0, grid - 1) * grid
                     + np.clip(px * grid // MAZE_WIDTH, 0, grid - 1)).astype(np.int64)
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
    out["nearest_ghost_direction"] = direction(ndx, ndy)
    out["nearest_ghost_edible"] = edible[rows, near]

    for pill, bit in PILLS.items():
        out[f"pill_{pill}"] = (r[:, POWER_PILLS] >> bit & 1) > 0
    out["pills_left"] = sum(out[f"pill_{p}"].astype(np.int64) for p in PILLS)
    out["fruit_present"] = r[:, FRUIT_X] > 0
    ram_lives = (r[:, LIVES_LEVEL] & 15) + 1
    out["lives"] = ram_lives if lives is None else lives
    out["dying"] = dying_within(out["lives"], episodes, dying_horizon)
    out["dots_eaten"] = r[:, DOTS_EATEN]
    out["level"] = (r[:, LIVES_LEVEL] >> 4) + 1
    out["maze"] = np.minimum(r[:, MAZE], 3)
    out["score"] = (_bcd(r[:, SCORE_BCD[2]]) * 10000 + _bcd(r[:, SCORE_BCD[1]]) * 100
                    + _bcd(r[:, SCORE_BCD[0]]))
    out.update(_motion_facts(r, out, episodes, gx, gy, edible))
    out.update(_event_facts(r, out, episodes))
    return out


def _motion(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Code into ``MOTIONS`` of a step's displacement (the larger axis wins; none = still)."""
    horizontal = np.abs(dx) >= np.abs(dy)
    code = np.where(horizontal, np.where(dx > 0, 1, 3), np.where(dy > 0, 2, 0))
    return np.where((dx == 0) & (dy == 0), len(DIRECTIONS), code)


def _motion_facts(r: np.ndarray, out: dict[str, np.ndarray], episodes: np.ndarray, gx: np.ndarray, gy: np.ndarray,
                  edible: np.ndarray) -> dict[str, np.ndarray]:
    """Direction of motion, turning around, the nearest pill and dot (along the corridors where the maze is
    known), heading for a pill, ghosts ahead and approaching."""
    px, py = out["pacman_x"], out["pacman_y"]
    dx, dy = previous_delta(px, episodes), previous_delta(py, episodes)
    dx = np.where(np.abs(dx) > WRAP, -np.sign(dx), dx)  # through the side tunnel: the other way, one step
    motion = _motion(dx, dy)
    moving = motion < len(DIRECTIONS)
    # Reversal: a later step within LOOKAHEAD moves opposite to this one (up<->down, right<->left).
    reversals = np.zeros(len(px), bool)
    for code in range(len(DIRECTIONS)):
        later_opposite = within_next(motion == (code + 2) % 4, episodes, LOOKAHEAD + 1, first=1)
        reversals |= (motion == code) & later_opposite
    facts: dict[str, np.ndarray] = {"pacman_motion": motion, "reverses_soon": reversals}

    present = np.stack([out[f"pill_{p}"] for p in PILLS], 1)
    centres = np.array(list(PILL_CENTRES.values()))
    straight = np.hypot(centres[:, 0] - px[:, None], centres[:, 1] - py[:, None])  # [N, 4]
    # How far each pill is for Pac-Man: along the corridors where the maze is known, else a straight line.
    path = path_lengths(r, px, py, centres)
    reach = np.where(np.isfinite(path), path, straight)
    nearest = np.where(present, reach, np.inf).argmin(1)
    rows = np.arange(len(px))
    none_left = ~present.any(1)
    facts["nearest_pill"] = np.where(none_left, len(PILLS), nearest)
    pdx, pdy = centres[nearest, 0] - px, centres[nearest, 1] - py
    facts["nearest_pill_direction"] = direction(pdx, pdy)
    facts["nearest_pill_distance"] = np.where(none_left, 1e3, straight[rows, nearest])
    facts["pill_path_distance"] = np.where(present, path, np.inf).min(1)
    facts.update(maze_facts(r, px, py))
    later = value_after(reach, episodes, LOOKAHEAD)
    for i, pill in enumerate(PILLS):
        facts[f"heading_to_pill_{pill}"] = (present[:, i] & (nearest == i) & moving & ~reversals
                                            & (later[:, i] <= reach[:, i] - HEADING_GAIN))

    # Ghosts relative to the direction of motion: forward distance and sideways offset.
    along = np.array([[0, -1], [1, 0], [0, 1], [-1, 0], [0, 0]], float)[motion]
    rel_x, rel_y = gx - px[:, None], gy - py[:, None]
    forward = rel_x * along[:, :1] + rel_y * along[:, 1:]
    sideways = np.abs(rel_x * along[:, 1:] - rel_y * along[:, :1])
    ahead = moving[:, None] & ~edible & (forward > 0) & (sideways <= CORRIDOR)
    facts["ghost_ahead"] = (ahead & (forward <= GHOST_AHEAD)).any(1)
    facts["ghost_ahead_near"] = (ahead & (forward <= 20)).any(1)
    change = previous_delta(out["nearest_ghost_distance"], episodes)
    facts["nearest_ghost_motion"] = np.where(change < -1, 0, np.where(change > 1, 1, 2))
    return facts


def _event_facts(r: np.ndarray, out: dict[str, np.ndarray], episodes: np.ndarray) -> dict[str, np.ndarray]:
    """What Pac-Man eats in the next LOOKAHEAD steps, and the death animation.

    Events are read from the change between step t and t + 1: the dot counter, the power-pill bits, the
    score (a ghost is worth 200/400/800/1600, a fruit 100 or more) and the fruit leaving the maze.
    """
    n = len(episodes)
    same = np.append(episodes[1:] == episodes[:-1], False)
    pill = step_change(out["pills_left"], episodes) < 0
    dot = (step_change(out["dots_eaten"], episodes) > 0) & ~pill
    rest = step_change(out["score"], episodes) - 10 * dot - 50 * pill
    ghost = out["ghosts_frightened"] & np.isin(rest, (200, 400, 800, 1600))
    fruit = (out["fruit_present"] & (step_change(out["fruit_present"].astype(np.int64), episodes) < 0)
             & (rest >= 100) & ~ghost)
    facts = {f"eats_{what}_soon": within_next(event, episodes, LOOKAHEAD)
             for what, event in (("dot", dot), ("pill", pill), ("ghost", ghost), ("fruit", fruit))}
    # Dead: a life is lost within DEAD_WITHIN steps and nothing moves before it: the game freezes Pac-Man
    # and the ghosts from the catch to the loss (~19 steps; docs/ram_facts.md). Pac-Man alone also stands
    # still against a wall, so the ghosts must be frozen too. The respawn at the loss itself is allowed.
    loss = life_lost(out["lives"], episodes)
    # The RAM bytes, not the decoded half-pixel centres: step_change works in integers.
    positions = (PACMAN_X, PACMAN_Y, *range(GHOST_X, GHOST_X + 4), *range(GHOST_Y, GHOST_Y + 4))
    moved = np.any([step_change(r[:, byte], episodes) != 0 for byte in positions], axis=0)
    next_loss = _next_index(loss)
    next_move = _next_index(moved & ~loss)
    idx = np.arange(n)
    ends = np.flatnonzero(~same)
    end = ends[np.searchsorted(ends, idx)]
    facts["dead"] = (next_loss <= np.minimum(end, idx + DEAD_WITHIN - 1)) & (next_move > next_loss)
    facts["death_spin"] = facts["dead"] & (r[:, DEATH_SPIN] == 255)
    facts["death_freeze"] = facts["dead"] & ~facts["death_spin"]
    return facts


def _next_index(event: np.ndarray) -> np.ndarray:
    """For each step, the index of the first step >= it where ``event`` holds (len(event) if none)."""
    hits = np.flatnonzero(event)
    pos = np.searchsorted(hits, np.arange(len(event)))
    return np.append(hits, len(event))[pos]


# Facts in one group describe the same thing (one-hot categories, or overlapping facts such as Pac-Man's
# region and grid cell), so they are never paired with each other. Groups name ``binary_facts`` names or
# their prefix before "=". Order sets the reading order: Pac-Man first, then ghosts, pills, outcome.
CONJUNCTION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("pacman_region", "pacman_cell"),
    ("pacman_facing",),
    ("nearest_ghost_distance",),
    ("nearest_ghost_direction",),
    ("ghosts_frightened", "nearest_ghost_edible"),
    tuple(f"pill_{p}" for p in PILLS),
    ("fruit_present",),
    ("lives",),
    ("dying",),
)

SPEC = GameSpec(
    game="ms_pacman", title="Ms. Pac-Man", player="Pac-Man", facts=FACTS, decode=decode,
    category_label=_category_label, conjunction_groups=CONJUNCTION_GROUPS, position=("pacman_x", "pacman_y"),
    playfield=(MAZE_WIDTH, MAZE_HEIGHT),
    headlines=(Headline("best_dying", "life lost soon", ("dying", "dead")),
               Headline("best_power_pill", "power pill", ("pill_", "pills_left", "ghosts_frightened"))),
    table_excludes=("pacman_tile=",),
    actions=("NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT"),
    # The seed talk's two features (its #1410 and #55), found automatically by interpret.
    talk_features=(TalkFeature("dead", "'Pac-Man is dead'", ("dead",), min_precision=0.9, min_recall=0.8),
                   TalkFeature("heading_to_pill", "'heading for a power pill'", ("heading_to_pill_",),
                               min_precision=0.8, fit_precision=0.8)),
    steering_goals=(*[SteeringGoal(f"eat_pill_{p}", f"not pill_{p}", 200) for p in PILLS],
                    *[SteeringGoal(f"reach_{r}", f"pacman_region={r}", 200) for r in REGIONS],
                    SteeringGoal("eat_ghost", "eats_ghost_soon", 200),
                    SteeringGoal("turn_around", "reverses_soon", 50),
                    SteeringGoal("survive", "not dying", 300, holds="throughout"),
                    SteeringGoal("eat_fruit", "eats_fruit_soon", 300)),
    # one target, one manoeuvre, one long-run goal; the bottom-left pill has no start (the agent always eats it)
    demo_goals=("eat_pill_top_left", "turn_around", "survive"),
    source="OCAtari (Delfosse et al. 2023) and AtariARI (Anand et al. 2019) RAM maps, plus addresses found "
           "here; docs/ram_facts.md",
)
