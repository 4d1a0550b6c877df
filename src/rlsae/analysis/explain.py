"""Compositional explanations: per unit, the formula of up to three literals that agrees best with it.

Mu & Andreas (2020, "Compositional Explanations of Neurons"): a unit "fires" above a threshold; a formula
joins literals (analysis/literals.py: facts, thresholds on numeric facts, facts shifted in time) by AND,
OR and AND NOT, and the first literal may be negated; the agreement is IoU, the Jaccard index of "fires"
and "the formula holds". A beam search finds the formula per unit on the FITTING split only, and it is
scored on the held-out whole episodes (precision, recall, F1, IoU, lift, firings, and the share of the
unit's activation mass on states where it holds). One rule (``ExplainRule``) says which units are
explained, whatever their kind (SAE features, neurons, rotated neurons, random-weight SAEs).

Where the literals know the player's tile (``Literals.places``), each unit also gets its own place literal
(analysis/place.py): the region of tiles that best matches where it fires on the fitting split, chosen at
each threshold, one more literal (index L, one past the shared ones) that its formulas may use anywhere
but negated first. Its counts are the unit's own: |P and l| sums the shared tile-by-literal counts over the
region, |g and P| for a shared g sums g's counts per tile, and a longer g holding P is counted with the
shared ones in ``_Counts.fill`` under the unit's key; the bounds below hold for it as for any literal.

The unit's threshold is a fraction of its max on the fitting split (``scores.threshold_levels``), the one
among ``ExplainConfig.thresholds`` where its best single literal agrees best. Shorter formulas win ties,
and a longer one replaces a shorter only when it raises the fitting IoU by ``MARGIN``.

All counts come from boolean matrix products. With F the unit's firing states and g a formula, a step
adds a literal l to g by one of three operations, and every IoU follows from |F and g and l| (a product
over F's rows only: few for a sparse unit), |g and l| (over all states: for one-literal g the Gram matrix
of the literals; for longer g one product per distinct g, shared across units) and sizes already known:
AND: |F g l| / (|F| + |g l| - |F g l|); AND NOT and OR by complements. The second of those products is
the expensive one, so at the last step candidates are pruned by upper bounds that need only the first:
IoU(g AND l) <= |F g l| / |F|, IoU(g AND NOT l) <= (|F g| - |F g l|) / |F| and IoU(g OR l) <=
|F and (g or l)| / max(|F|, |g|, |l|); a candidate whose bound cannot beat the best shorter formula by
the margin is never counted. The pruned search returns the formula the unpruned one does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from rlsae.analysis.literals import Literals
from rlsae.analysis.place import Places, best_regions
from rlsae.analysis.scores import MIN_FIRINGS, count_above, threshold_levels
from rlsae.common.records import number

OPS = ("AND", "OR", "AND NOT")
# An extra literal must raise the fitting IoU by this much. The best of a few hundred extensions always
# gains something by chance: for a unit firing at random on 5% of 4,200 fitting states (the planted game
# of tests/analysis/test_explain.py, 21 literals, 5 seeds), the best 3-literal formula beat the best single
# literal by 0.003-0.008 fitting IoU and did no better held out; 0.02 is several times that, and small
# beside the gains that carry meaning (a planted "A and not B" gains ~0.3 over "A").
MARGIN = 0.02
BEAM = 5  # formulas kept per length; Mu & Andreas used 5-10
MAX_LITERALS = 3
# x the unit's max on the fitting split: "fires at all" (0) suits a Top-K SAE's features, a dense ReLU
# neuron may need a higher cut to be about anything.
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.5)
# At most this share of the fitting states: where a unit fires (its threshold rises until it does) and
# where a formula holds. As ``scores.oriented`` does for facts: a unit firing on 99% of states "is" any
# fact true on 99% of them with F1 ~1, an agreement that says nothing (a neuron above 0 almost always,
# explained as "NOT in cell 6_6").
MAX_SHARE = 0.5
FORMULA_BLOCK = 256  # formulas per product when counting |g and l| over all states
UNIT_BLOCK = 256     # units read from the activations at a time


@dataclass(frozen=True)
class ExplainConfig:
    """How the formula search runs."""

    beam: int = BEAM
    max_literals: int = MAX_LITERALS
    margin: float = MARGIN
    thresholds: tuple[float, ...] = THRESHOLDS
    min_firings: int = MIN_FIRINGS  # fitting-split firings a unit needs at a threshold to be searched
    prune: bool = True  # False: count every candidate (the reference the pruned search must match)
    place: bool = True  # each unit's place literal, where the literals know the player's tile

    def __post_init__(self) -> None:
        if self.beam < 1 or not 1 <= self.max_literals <= 3:
            raise ValueError(f"beam must be >= 1 and max_literals 1-3, got {self.beam}, {self.max_literals}")


@dataclass(frozen=True)
class Formula:
    """``literals`` (column indices) joined left to right by ``ops``; ``negated``: NOT the first literal."""

    literals: tuple[int, ...]
    ops: tuple[str, ...] = ()
    negated: bool = False

    def holds(self, values: np.ndarray) -> np.ndarray:
        """[n] where the formula holds, from literal ``values`` [n, L] (bool)."""
        out = values[:, self.literals[0]] != self.negated
        for op, lit in zip(self.ops, self.literals[1:]):
            out = out | values[:, lit] if op == "OR" else out & (values[:, lit] != (op == "AND NOT"))
        return out

    def extend(self, op: str, literal: int) -> Formula:
        return Formula((*self.literals, literal), (*self.ops, op), self.negated)

    def text(self, names: tuple[str, ...]) -> str:
        """Readable: "ghosts_frightened AND NOT (eats_dot_soon in 3 steps)", "(A OR B) AND C"."""
        def word(i: int) -> str:
            return f"({names[i]})" if " " in names[i] and (len(self.literals) > 1 or self.negated) else names[i]

        out = ("NOT " if self.negated else "") + word(self.literals[0])
        for j, (op, lit) in enumerate(zip(self.ops, self.literals[1:])):
            if j and op != self.ops[j - 1]:
                out = f"({out})"
            out = f"{out} {op} {word(lit)}"
        return out


@dataclass(frozen=True)
class ExplanationScores:
    """The held-out agreement of a unit and its explanation (whole held-out episodes)."""

    precision: float = number("precision", "the explanation holds on {} of the held-out states where the unit "
                              "fires", "{:.0%}")
    recall: float = number("recall", "the unit fires on {} of the held-out states where the explanation holds",
                           "{:.0%}")
    f1: float = number("F1", "held-out F1 of the unit as a detector of its explanation: {}", "{:.2f}")
    iou: float = number("IoU", "held-out IoU (Jaccard) of 'fires' and 'the explanation holds': {}", "{:.2f}")
    lift: float = number("lift", "the explanation holds {} more often where the unit fires than overall",
                         "{:.1f}", "x")
    firings: float = number("firings", "the unit is above its threshold on {} held-out states", "{:,.0f}")
    mass: float = number("activation mass", "{} of the unit's held-out activation falls on states where the "
                         "explanation holds", "{:.0%}")
    fit_iou: float = number("fitting IoU", "IoU on the fitting split, where the formula was chosen: {}", "{:.2f}")
    threshold: float = number("threshold", "the unit counts as firing above {} of its max activation", "{:.0%}")


@dataclass(frozen=True)
class ExplainSummary:
    """Over the live units of one kind (features or neurons): how many have an explanation that passes the
    rule (``ExplainRule``), and how well the explanations agree with their units on held-out episodes."""

    n_units: int = number("live units", "{} units fire on enough held-out states to be judged", "{:,}")
    n_explained: int = number("units explained", "{} of them have an explanation that passes the rule", "{:,}")
    explained_fraction: float = number("explained share", "{} of the live units have an explanation that passes "
                                       "the rule", "{:.1%}")
    mean_f1: float = number("mean explanation F1", "the live units agree with their explanations with held-out "
                            "F1 {} (mean over units; a unit too rare to search counts 0)", "{:.2f}")


@dataclass(frozen=True)
class ExplainRule:
    """When a unit counts as explained: its explanation's held-out F1, on enough held-out firings."""

    min_f1: float = 0.5  # the label rule's F1 branch (analysis/labels.py): most firings and most holds agree
    # Twice the explanation's base rate where the unit fires: a unit and a formula each on half the states
    # agree with F1 0.5 by chance (lift 1); only a perfect agreement at that density reaches lift 2.
    min_lift: float = 2.0
    min_firings: int = MIN_FIRINGS

    def passes(self, scores: ExplanationScores) -> bool:
        return bool(scores.firings >= self.min_firings and np.nan_to_num(scores.f1) >= self.min_f1
                    and np.nan_to_num(scores.lift) >= self.min_lift)

    def __str__(self) -> str:
        return (f"held-out explanation F1 >= {self.min_f1:g} with lift >= {self.min_lift:g}, on >= "
                f"{self.min_firings} held-out firings")


@dataclass(frozen=True)
class Explanation:
    """One unit's best formula, as text and as its parts, with its held-out scores."""

    unit: int
    formula: str
    literals: tuple[str, ...]  # the literal names, in the formula's order
    ops: tuple[str, ...]       # between them: AND, OR, AND NOT
    negated: bool              # NOT the first literal
    scores: ExplanationScores
    explained: bool            # the rule passes
    place_tiles: tuple[int, ...] = ()  # the tiles of the unit's place literal, if the formula uses it


@dataclass(frozen=True)
class Explanations:
    """Per unit its explanation (None: never fires enough on the fitting split to search)."""

    units: tuple[Explanation | None, ...]
    live: np.ndarray  # [u] fires (above 0) on >= min_firings held-out states: the units a share counts
    rule: ExplainRule
    config: ExplainConfig = field(default_factory=ExplainConfig)
    pruned: float = 0.0  # share of the last step's candidates the upper bounds left uncounted

    def summary(self, units: np.ndarray | None = None) -> ExplainSummary:
        """Over the live units (and ``units``, a mask, if given): how many are explained, and the mean
        held-out F1 of the explanations (unsearched live units count as F1 0)."""
        keep = self.live if units is None else self.live & np.asarray(units, bool)
        chosen = [self.units[i] for i in np.flatnonzero(keep)]
        f1 = [np.nan_to_num(e.scores.f1) if e is not None else 0.0 for e in chosen]
        explained = sum(e is not None and e.explained for e in chosen)
        return ExplainSummary(len(chosen), int(explained), explained / len(chosen) if chosen else float("nan"),
                              float(np.mean(f1)) if chosen else float("nan"))


@dataclass
class _Place:
    """One unit's place literal on the fitting split: its formulas name it by the index L (one past the
    shared literals), and the counts that involve it are this unit's own."""

    unit: int
    tiles: np.ndarray  # the region's tiles, by the unit's firing rate there, highest first
    mask: np.ndarray   # [T] the region as a tile mask
    holds: np.ndarray  # [n_fit] the player is in the region
    row: np.ndarray    # [L] |P and l| for every shared literal l
    size: float        # |P|


class _WithPlace:
    """The fitting split's literal matrix with the unit's place literal as column L, without a copy:
    ``Formula.holds`` reads ``values[:, i]`` only."""

    def __init__(self, values: np.ndarray, place: np.ndarray) -> None:
        self.values, self.place, self.n = values, place, values.shape[1]

    def __getitem__(self, key: tuple[slice, int]) -> np.ndarray:
        return self.place if key[1] == self.n else self.values[key]


@dataclass
class _Search:
    """One unit's search state between the passes over all units."""

    level: float     # the activation above which the unit fires
    fraction: float  # that level as a fraction of the unit's max on the fitting split
    best: tuple[float, Formula]  # (fitting IoU, formula)
    beam: list[tuple[float, Formula]]  # the last step's formulas, best first
    place: _Place | None = None
    alive: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 0), bool))  # [B, 3, L] may still win
    candidates: int = 0  # the last step's candidates before the bounds (no literal twice)


def _candidates(n_fires: float, fl: np.ndarray, sizes: np.ndarray, n: int, fg: np.ndarray, size_g: np.ndarray,
                a: np.ndarray, gl: np.ndarray) -> np.ndarray:
    """[B, 3, L] IoU of g op l for each of B formulas g (``fg`` = |F g|, ``size_g`` = |g| [B]) and literal
    l (``fl`` = |F l|, ``sizes`` = |l|), from ``a`` = |F g l| and ``gl`` = |g l| [B, L]; ops as OPS; -1 where
    g op l holds on more than ``MAX_SHARE`` of the ``n`` states."""
    fg, size_g = fg[:, None], size_g[:, None]
    inter = np.stack([a, fg + fl - a, fg - a], 1)
    size = np.stack([gl, size_g + sizes - gl, size_g - gl], 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # only where |g and l| is left uncounted (pruned)
        return np.where(size <= MAX_SHARE * n, inter / (n_fires + size - inter), -1.0)


def _bounds(n_fires: float, fl: np.ndarray, sizes: np.ndarray, fg: np.ndarray, size_g: np.ndarray,
            a: np.ndarray) -> np.ndarray:
    """[B, 3, L] upper bounds of ``_candidates`` that need no |g and l| (see the module's docstring)."""
    fg, size_g = fg[:, None], size_g[:, None]
    union_at_least = np.maximum(np.maximum(n_fires, size_g), sizes)
    return np.stack([a / n_fires, (fg + fl - a) / union_at_least, (fg - a) / n_fires], 1)


def _top(iou: np.ndarray, make: Callable[[tuple[int, ...]], Formula], k: int) -> list[tuple[float, Formula]]:
    """The ``k`` best distinct-scoring entries of ``iou`` as (IoU, ``make(index)``), best first. Of equal
    scores only the first (the lowest index: simpler literals come first) is kept: equal IoU is nearly
    always one formula written twice (A AND B, B AND A), which would fill the beam with copies."""
    flat = np.nan_to_num(iou.ravel(), nan=-1.0)
    order = np.argsort(-flat, kind="stable")
    out, seen = [], set()
    for i in order:
        if flat[i] < 0 or len(out) == k:
            break
        if round(float(flat[i]), 9) not in seen:
            seen.add(round(float(flat[i]), 9))
            out.append((float(flat[i]), make(np.unravel_index(i, iou.shape))))
    return out


class _Counts:
    """The fitting split's literal matrix and the global counts every unit shares; with places, the
    counts of each tile with each literal, from which any unit's place literal is counted."""

    def __init__(self, values: np.ndarray, tiles: np.ndarray | None = None, n_tiles: int = 0) -> None:
        self.values = np.asarray(values, bool)  # [n_fit, L]
        self.x = self.values.astype(np.float32)
        self.n, self.n_literals = self.values.shape
        self.sizes = self.x.sum(0)
        self.gram = self.x.T @ self.x  # |l and l'|: exact in float32 below 2**24 states
        self.tiles = tiles  # [n_fit] the player's tile (-1 unknown), None without places
        self.onehot = None
        if tiles is not None:
            known = np.flatnonzero(tiles >= 0)
            self.onehot = sparse.csr_matrix((np.ones(len(known), np.float32), (tiles[known], known)),
                                            shape=(n_tiles, self.n))  # [T, n_fit]
            self.occupancy = np.asarray(self.onehot.sum(1)).ravel()
            self.tile_x = np.asarray(self.onehot @ self.x)  # [T, L] |tile and l|
            # x with one more column that holds the unit being visited's place literal: its rows where the
            # unit fires are then one copy, not two (a dense neuron fires on up to half the states).
            self.with_place = np.concatenate([self.x, np.zeros((self.n, 1), np.float32)], 1)
        self.sized: dict[tuple[int | None, Formula], float] = {}
        self.joint: dict[tuple[int | None, Formula], tuple[np.ndarray, np.ndarray | None]] = {}

    def place(self, unit: int, tiles: np.ndarray) -> _Place:
        mask = np.zeros(len(self.occupancy), bool)
        mask[tiles] = True
        return _Place(unit, tiles, mask, mask[self.tiles] & (self.tiles >= 0), self.tile_x[mask].sum(0),
                      float(self.occupancy[mask].sum()))

    def view(self, place: _Place | None) -> np.ndarray | _WithPlace:
        return self.values if place is None else _WithPlace(self.values, place.holds)

    def key(self, formula: Formula, place: _Place | None) -> tuple[int | None, Formula]:
        """Formulas with the place literal are the unit's own; the others are shared by every unit."""
        return (place.unit if place is not None and self.n_literals in formula.literals else None, formula)

    def sizes_for(self, place: _Place | None) -> np.ndarray:
        return self.sizes if place is None else np.append(self.sizes, place.size)

    def size(self, formula: Formula, place: _Place | None) -> float:
        """|g| over the fitting split."""
        key = self.key(formula, place)
        if key not in self.sized:
            self.sized[key] = float(formula.holds(self.view(place)).sum())
        return self.sized[key]

    def with_literals(self, formula: Formula, place: _Place | None) -> np.ndarray:
        """[L] (L + 1 with a place) |g and l| for every literal l (for a longer g, once ``fill`` has counted it)."""
        first = formula.literals[0]
        if len(formula.literals) == 1:
            if place is None:
                row = self.gram[first]
            elif first == self.n_literals:
                row = np.append(place.row, place.size)
            else:
                row = np.append(self.gram[first], place.row[first])
            return self.sizes_for(place) - row if formula.negated else row
        row, by_tile = self.joint[self.key(formula, place)]
        return row if place is None else np.append(row, by_tile[place.mask].sum())

    def fill(self, wanted: dict[tuple[int | None, Formula], _Place | None]) -> None:
        """Count |g and l| (and |g and tile|, with places) for the longer formulas ``wanted`` not yet
        counted, ``FORMULA_BLOCK`` per product; a formula with a unit's place literal comes with its place."""
        todo = sorted((key for key in wanted if key not in self.joint), key=repr)
        for start in range(0, len(todo), FORMULA_BLOCK):
            block = todo[start:start + FORMULA_BLOCK]
            holds = np.stack([f.holds(self.view(wanted[(u, f)])) for u, f in block], 1).astype(np.float32)
            by_tile = (self.onehot @ holds).T if self.onehot is not None else [None] * len(block)
            for key, row, tiles in zip(block, (self.x.T @ holds).T, by_tile):  # this order: see _beam_counts
                self.joint[key] = row, tiles


def _beam_counts(search: _Search, sub: np.ndarray,
                 counts: _Counts) -> tuple[list[Formula], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the beam's formulas g: g, |F g l| [B, L], |F g| [B], |g| [B], and where l is already in g."""
    formulas = [f for _, f in search.beam]
    on = sub > 0
    held_by = np.stack([f.holds(on) for f in formulas], 1).astype(np.float32)  # [r, B]
    size_g = np.array([counts.size(f, search.place) for f in formulas], np.float32)
    repeated = np.zeros((len(formulas), sub.shape[1]), bool)
    for b, f in enumerate(formulas):
        repeated[b, list(f.literals)] = True  # a literal twice says nothing new
    # (sub.T @ held_by).T, not held_by.T @ sub: the same numbers, but with torch loaded (as in interpret)
    # numpy's BLAS takes ~25x longer on the second form (measured: 20 ms against 0.8 ms, 5.6k x 508).
    return formulas, (sub.T @ held_by).T, held_by.sum(0), size_g, repeated


def _extension(formulas: list[Formula]) -> Callable[[tuple[int, ...]], Formula]:
    """The formula an index (b, op, l) into a [B, 3, L] candidate array stands for."""
    return lambda i: formulas[i[0]].extend(OPS[i[1]], int(i[2]))


def _step(search: _Search, sub: np.ndarray, counts: _Counts, cfg: ExplainConfig) -> None:
    """The next beam, one literal longer, scored exactly (|g and l| for a one-literal g is the Gram row)."""
    formulas, a, fg, size_g, repeated = _beam_counts(search, sub, counts)
    gl = np.stack([counts.with_literals(f, search.place) for f in formulas])
    iou = _candidates(float(len(sub)), sub.sum(0), counts.sizes_for(search.place), counts.n, fg, size_g, a, gl)
    search.beam = _top(np.where(repeated[:, None], -1.0, iou), _extension(formulas), cfg.beam)
    _keep_if_it_pays(search, search.beam, cfg)


def _mark(search: _Search, sub: np.ndarray, counts: _Counts, cfg: ExplainConfig) -> None:
    """The last step's candidates whose upper bound can beat the best shorter formula by the margin."""
    formulas, a, fg, size_g, repeated = _beam_counts(search, sub, counts)
    bound = _bounds(float(len(sub)), sub.sum(0), counts.sizes_for(search.place), fg, size_g, a)
    need = search.best[0] + cfg.margin if cfg.prune else -np.inf
    search.alive = (bound >= need) & ~repeated[:, None]
    search.candidates = 3 * int((~repeated).sum())


def _finish(search: _Search, sub: np.ndarray, counts: _Counts, cfg: ExplainConfig) -> None:
    """The last step's exact IoU, for the candidates ``_mark`` left (their |g and l| now counted)."""
    formulas, a, fg, size_g, _ = _beam_counts(search, sub, counts)
    gl = np.stack([counts.with_literals(f, search.place) if search.alive[b].any()
                   else np.zeros(sub.shape[1], np.float32) for b, f in enumerate(formulas)])
    iou = _candidates(float(len(sub)), sub.sum(0), counts.sizes_for(search.place), counts.n, fg, size_g, a, gl)
    _keep_if_it_pays(search, _top(np.where(search.alive, iou, -1.0), _extension(formulas), 1), cfg)


def _keep_if_it_pays(search: _Search, top: list[tuple[float, Formula]], cfg: ExplainConfig) -> None:
    """A longer formula replaces the best only when it raises the fitting IoU by the margin."""
    if top and top[0][0] >= search.best[0] + cfg.margin:
        search.best = top[0]


def _each_unit(searches: list[_Search | None], activations: np.ndarray, fit_rows: np.ndarray,
               counts: _Counts, visit: Callable[[_Search, np.ndarray], None]) -> None:
    """``visit(search, the literal rows [F, L] where the unit fires)`` for every searched unit; with a
    place literal, its column last."""
    for start in range(0, activations.shape[1], UNIT_BLOCK):
        block = np.asarray(activations[:, start:start + UNIT_BLOCK], np.float32)[fit_rows]
        for j in range(block.shape[1]):
            search = searches[start + j]
            if search is not None:
                fires = block[:, j] > search.level
                if search.place is None:
                    visit(search, counts.x[fires])
                else:
                    counts.with_place[:, -1] = search.place.holds
                    visit(search, counts.with_place[fires])


def _start(activations: np.ndarray, literals: Literals, fit: np.ndarray, counts: _Counts,
           cfg: ExplainConfig) -> list[_Search | None]:
    """Per unit the threshold where its best single literal (or NOT literal, or place literal) agrees best,
    and the beam of single literals there; None for a unit above no threshold on ``min_firings`` to
    ``MAX_SHARE`` of the fitting states."""
    levels = threshold_levels(activations, fit, cfg.thresholds)  # [T, u]
    facts = literals.values
    if counts.onehot is not None:  # and each tile, for the place literals: one pass for both
        facts = np.concatenate([facts, literals.places.one_hot().toarray() > 0], 1)
    above = count_above(activations, levels, facts, ~fit)[:, :, 0]  # [T, u, L (+ tiles) + 1] fitting split
    n_lit = counts.n_literals
    fl, fires = above[..., :n_lit], above[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.stack([fl / (fires + counts.sizes - fl),
                        (fires - fl) / (fires + counts.n - counts.sizes - (fires - fl))])  # [2, T, u, L]
    sizes = np.stack([counts.sizes, counts.n - counts.sizes])[:, None, None]
    usable = (fires >= cfg.min_firings) & (fires <= MAX_SHARE * counts.n)
    iou = np.where(usable & (sizes <= MAX_SHARE * counts.n), np.nan_to_num(iou, nan=-1.0), -1.0)
    if counts.onehot is not None:
        region_iou, order, take = best_regions(above[..., n_lit:-1], counts.occupancy, fires[..., 0],
                                               MAX_SHARE * counts.n)
        region_iou = np.where(usable[..., 0], region_iou, -1.0)
        never = np.full(region_iou.shape, -1.0)  # NOT (in the place field): the region is chosen to hold
        iou = np.concatenate([iou, np.stack([region_iou, never])[..., None]], -1)  # place literal last
    chosen = iou.max((0, 3)).argmax(0)
    searches: list[_Search | None] = []
    for u, t in enumerate(chosen):
        place = None
        if counts.onehot is not None and iou[0, t, u, n_lit] >= 0:
            place = counts.place(u, order[t, u, :take[t, u]])
        beam = _top(iou[:, t, u, :n_lit + (place is not None)], lambda i: Formula((int(i[1]),), negated=bool(i[0])),
                    cfg.beam)
        searches.append(_Search(float(levels[t, u]), cfg.thresholds[t], beam[0], beam, place) if beam else None)
    return searches


def _search_all(activations: np.ndarray, literals: Literals, fit: np.ndarray,
                cfg: ExplainConfig) -> tuple[list[_Search | None], float]:
    """Every unit's search on the fitting split: threshold and single literals, then one literal more
    per pass over the units; the third literal in two passes, bounds first, with the counts of |g and l|
    between them shared by every unit whose beam holds g. Returns the searches and the share pruned."""
    fit_rows = np.flatnonzero(fit)
    places = literals.places if cfg.place else None
    counts = _Counts(literals.values[fit_rows], None if places is None else places.tiles[fit_rows],
                     0 if places is None else places.n_tiles)
    searches = _start(activations, literals, fit, counts, cfg)
    if cfg.max_literals >= 2:
        _each_unit(searches, activations, fit_rows, counts, lambda s, sub: _step(s, sub, counts, cfg))
    if cfg.max_literals == 3:
        _each_unit(searches, activations, fit_rows, counts, lambda s, sub: _mark(s, sub, counts, cfg))
        counts.fill({counts.key(f, s.place): s.place for s in searches if s is not None
                     for (_, f), alive in zip(s.beam, s.alive) if alive.any()})
        _each_unit(searches, activations, fit_rows, counts, lambda s, sub: _finish(s, sub, counts, cfg))
    marked = [s for s in searches if s is not None and cfg.max_literals == 3]
    total = sum(s.candidates for s in marked)
    return searches, 1 - sum(int(s.alive.sum()) for s in marked) / total if total else 0.0


def held_out_scores(activation: np.ndarray, holds: np.ndarray, level: float, fit_iou: float,
                    threshold: float) -> ExplanationScores:
    """The agreement of one unit's ``activation`` [n] above ``level`` and its formula's ``holds`` [n], both
    over the held-out states."""
    fires = activation > level
    hits, n_fires, n_holds = (np.float64(v.sum()) for v in (fires & holds, fires, holds))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = hits / n_fires, hits / n_holds
        mass = np.maximum(activation, 0)
        return ExplanationScores(
            precision=float(precision), recall=float(recall),
            f1=float(2 * hits / (n_fires + n_holds)) if n_fires + n_holds else 0.0,
            iou=float(hits / (n_fires + n_holds - hits)) if n_fires + n_holds else 0.0,
            lift=float(precision / (n_holds / len(holds))), firings=n_fires,
            mass=float(mass[holds].sum() / mass.sum()), fit_iou=fit_iou, threshold=threshold)




def explain_units(activations: np.ndarray, literals: Literals, held: np.ndarray, rule: ExplainRule | None = None,
                  config: ExplainConfig | None = None) -> Explanations:
    """The best formula of each column of ``activations`` [n, u], searched on the states not ``held``
    (whole episodes; rows in play order if the literals look along episodes) and scored on ``held``."""
    rule, cfg = rule or ExplainRule(), config or ExplainConfig()
    held = np.asarray(held, bool)
    searches, pruned = _search_all(activations, literals, ~held, cfg)
    held_rows = np.flatnonzero(held)
    held_values = literals.values[held_rows]
    out: list[Explanation | None] = []
    live = np.zeros(activations.shape[1], bool)
    for start in range(0, activations.shape[1], UNIT_BLOCK):
        block = np.asarray(activations[:, start:start + UNIT_BLOCK], np.float32)[held_rows]
        live[start:start + block.shape[1]] = (block > 0).sum(0) >= rule.min_firings
        for j, search in enumerate(searches[start:start + block.shape[1]]):
            if search is None:
                out.append(None)
                continue
            fit_iou, formula = search.best
            names, values, tiles = literals.names, held_values, ()
            if literals.values.shape[1] in formula.literals:  # the unit's place literal
                tiles = tuple(sorted(int(t) for t in search.place.tiles))
                names = (*names, place_name(literals.places, len(tiles)))
                values = _WithPlace(held_values, np.isin(literals.places.tiles[held_rows], tiles))
            scores = held_out_scores(block[:, j], formula.holds(values), search.level, fit_iou, search.fraction)
            out.append(Explanation(start + j, formula.text(names), tuple(names[i] for i in formula.literals),
                                   formula.ops, formula.negated, scores, rule.passes(scores), tiles))
    return Explanations(tuple(out), live, rule, cfg, pruned)


def place_name(places: Places, n_tiles: int) -> str:
    """The place literal's words: "<player> in the unit's place field (14 tiles)"."""
    return f"{places.player} in the unit's place field ({n_tiles} tile{'s' * (n_tiles != 1)})"
