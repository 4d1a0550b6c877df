"""Place fields: where on the screen a unit fires, as hippocampus work maps a place cell.

The game spec names the player's position (``GameSpec.position``: facts or constants in screen pixels)
and the playfield it moves in; ``player_places`` cuts the playfield into a grid of tiles and gives each
state the player's tile. A game without position facts has no places (None), and nothing here guesses.

``place_fields`` maps each unit over those tiles on the held-out episodes: its mean activation and
firing rate per tile, and one concentration score, the spatial information of Skaggs et al. (1993) in
bits per unit of activation, I = sum_t p_t (m_t / m) log2(m_t / m) with p_t the share of states on tile t,
m_t the unit's mean activation there and m its mean overall. Chosen over "the share of the mass in the
top tiles" because it needs no choice of how many tiles, weighs each tile by how often the player is
there (a unit that fires wherever the player spends most time scores ~0, as it should: it says nothing
about place), and is in units a reader can compare across unit kinds: 0 for a unit that ignores place,
log2(1 / p_t) for one that fires on tile t only (8 bits for one of 256 equally visited tiles). It is biased
upward for a unit with few firings (a handful of states cover few tiles by chance), so read it beside the
unit's firings.

``best_regions`` gives the formula search (analysis/explain.py) a unit's place literal: the set of tiles
that agrees best with where the unit fires on the fitting split, by F-beta with beta = ``REGION_BETA``.
Maximising a ratio of sums, F_b(S) = (1 + b^2) sum_{t in S} f_t / (b^2 F + sum_{t in S} o_t) (f_t the unit's
firings on tile t, o_t the states there, F all firings), is solved by a level set of the tile's rate
f_t / o_t (Dinkelbach: at the optimum value v a tile belongs to S exactly when (1 + b^2) f_t > v o_t), so
the tiles sorted by rate and the best prefix give the exact optimum over all regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from rlsae.envs.games import game_spec

GRID = 16  # tiles per side: as the spec's finest grid facts (its player's tile, ~one corridor wide)
# The region is one literal of a formula: an AND partner ("moving left") can win back the precision a
# broad region gives away, nothing can win back the firings a tight one leaves out. With beta = 1 (the
# IoU's optimum) a tile joins only above rate F1 / 2, which on the planted "place AND A" of
# tests/analysis/test_place.py (in-field rate ~0.3, ~65 fitting states a tile) dropped one of five field
# tiles; beta = 2 lowers the cut to F2 / 5, and a pure place cell (rate 1 in, 0 out) gets the same region.
# On the demo recording with the shipped SAE (BENCHMARKS.md, 2026-12-07), beta = 2 explains 519 of 1,786
# live features (345 with a place literal), beta = 1 502 (272).
REGION_BETA = 2.0


@dataclass(frozen=True)
class Places:
    """Per state the player's tile, ``row * columns + column`` of a ``grid`` (columns, rows) over the
    playfield, or -1 where the position is unknown."""

    tiles: np.ndarray  # [n] int
    grid: tuple[int, int]
    playfield: tuple[int, int]
    player: str

    @property
    def n_tiles(self) -> int:
        return self.grid[0] * self.grid[1]

    def one_hot(self, rows: np.ndarray | slice = slice(None)) -> sparse.csr_matrix:
        """[n, tiles] sparse one-hot of the tiles of ``rows`` (no entry where unknown)."""
        tiles = self.tiles[rows]
        known = np.flatnonzero(tiles >= 0)
        return sparse.csr_matrix((np.ones(len(known), np.float32), (known, tiles[known])),
                                 shape=(len(tiles), self.n_tiles))


def player_places(decoded: dict[str, np.ndarray], game: str, grid: int = GRID) -> Places | None:
    """The player's tile at each state of ``decode_facts``' arrays, or None for a game whose spec names no
    position (or whose position facts were not decoded)."""
    spec = game_spec(game)
    if spec.position is None or not decoded:
        return None
    n = len(next(iter(decoded.values())))
    if any(isinstance(v, str) and v not in decoded for v in spec.position):
        return None
    x, y = (np.full(n, float(v)) if isinstance(v, (int, float)) else np.asarray(decoded[v], np.float64)
            for v in spec.position)
    width, height = spec.playfield
    # A constant coordinate (a paddle's fixed row) puts every state in one row or column: one of its axis.
    columns = 1 if isinstance(spec.position[0], (int, float)) else grid
    rows = 1 if isinstance(spec.position[1], (int, float)) else grid
    known = np.isfinite(x) & np.isfinite(y)
    col = np.clip(np.floor(np.where(known, x, 0) * columns / width), 0, columns - 1).astype(np.int64)
    row = np.clip(np.floor(np.where(known, y, 0) * rows / height), 0, rows - 1).astype(np.int64)
    return Places(np.where(known, row * columns + col, -1), (columns, rows), (width, height), spec.player)


@dataclass(frozen=True)
class PlaceFields:
    """Per unit and tile, over the held-out states (drawn as a [rows, columns] heatmap per unit)."""

    mean: np.ndarray         # [u, tiles] mean activation with the player on the tile (nan: never there)
    rate: np.ndarray         # [u, tiles] share of those states where the unit fires (above 0)
    occupancy: np.ndarray    # [tiles] held-out states with the player on the tile
    information: np.ndarray  # [u] spatial information, bits per unit of activation (nan: never active)
    grid: tuple[int, int]    # (columns, rows)


def place_fields(activations: np.ndarray, places: Places, held: np.ndarray, block: int = 256) -> PlaceFields:
    """Each column of ``activations`` [n, u] over the tiles of ``places`` on the ``held`` states."""
    rows = np.flatnonzero(np.asarray(held, bool) & (places.tiles >= 0))
    onehot = places.one_hot(rows).T.tocsr()  # [tiles, n_held]
    occupancy = np.asarray(onehot.sum(1)).ravel()
    u = activations.shape[1]
    mass, fires = np.zeros((places.n_tiles, u)), np.zeros((places.n_tiles, u))
    for start in range(0, u, block):
        part = np.maximum(np.asarray(activations[:, start:start + block], np.float32)[rows], 0)
        mass[:, start:start + block] = onehot @ part
        fires[:, start:start + block] = onehot @ (part > 0).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean, rate = (mass / occupancy[:, None]).T, (fires / occupancy[:, None]).T
        share = occupancy / occupancy.sum()
        ratio = mean / (share @ np.nan_to_num(mean.T))[:, None]  # m_t / m
        information = np.nansum(np.where(ratio > 0, share * ratio * np.log2(ratio), 0.0), 1)
    information[mass.sum(0) == 0] = np.nan
    return PlaceFields(mean, rate, occupancy, information, places.grid)


def best_regions(fires: np.ndarray, occupancy: np.ndarray, n_fires: np.ndarray, max_states: float,
                 beta: float = REGION_BETA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit (any leading shape), the region of tiles with the highest F-beta of "the player is there" as a
    detector of the unit's firings (see the module's docstring).

    ``fires`` [..., tiles]: firings with the player on each tile; ``occupancy`` [tiles]: states there;
    ``n_fires`` [...]: all firings (some may have no known tile). Regions over ``max_states`` states are
    not considered. Returns the region's IoU with the firings [...] (-1 if no region), the tiles by rate,
    best first [..., tiles], and how many of them the region takes [...]."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(occupancy > 0, fires / occupancy, -1.0)
    order = np.argsort(-rate, -1, kind="stable")
    inside = np.cumsum(np.take_along_axis(fires, order, -1), -1)
    size = np.cumsum(occupancy[order], -1)
    n_fires = n_fires[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (1 + beta ** 2) * inside / (beta ** 2 * n_fires + size)
        iou = inside / (n_fires + size - inside)
    score = np.where((size <= max_states) & (inside > 0), np.nan_to_num(score, nan=-1.0), -1.0)
    take = score.argmax(-1)
    best = np.take_along_axis(iou, take[..., None], -1)[..., 0]
    return np.where(score.max(-1) > 0, best, -1.0), order, take + 1
