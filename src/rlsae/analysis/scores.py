"""Detection scores that are fair to sparse units, the same for SAE features and for neurons.

A unit "detects" a boolean fact at a threshold when it fires above that threshold exactly where the fact
holds. Per unit and fact this module counts, on the fitting and the held-out split (whole episodes each),
how often the unit is above t x its max activation (t in ``THRESHOLDS``; t = 0 is "fires at all") and how
often the fact holds there. From those counts come precision (P(fact | unit above t)), recall, F1 and lift
(precision over the fact's base rate). The threshold is chosen on the fitting split (best F1 with at least
``min_firings`` states above it) and the scores are read on the held-out split, so no number is the
maximum of many noisy draws on the data that reports it.

The per-fact tables built on these scores (best unit, coverage, OR, k-sparse probing) are in
analysis/per_fact.py.

AUROC (``labels.auroc_matrix``) asks whether a unit ranks all of a fact's states high, which a unit firing
on 2% of states cannot do for a fact true on 20%; precision, recall and F1 at a threshold do not punish
sparsity, and F1 rewards a unit only as far as it covers the fact.

Counting is two products of boolean matrices per threshold: (unit above t)^T @ (fact holds), with the unit
matrix sparse for sparse units and dense (BLAS) for dense ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# x the unit's max activation (fit split). Steps of 0.05, not 0.1: a unit's best operating point often lies
# between two tenths (the lab SAE's "dead" feature: precision 0.84-0.90 at 0.1, recall 0.78-0.82 at 0.2,
# both bars met at 0.15), and the binned counting makes the finer grid cheap for sparse units.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(19))
MIN_FIRINGS = 10
OR_PRECISION = 0.9  # a unit joins a fact's OR when this precise on the fitting split
SPARSE_FILL = 0.05  # below this share of non-zero entries a block of units is handled as a sparse matrix
ROWS, COLUMNS = 32_768, 256  # block sizes: bound memory to ~100 MB whatever the number of states


@dataclass
class DetectionScores:
    """Every unit as a detector of every fact: counts on the held-out split at each threshold, and the
    threshold chosen on the fitting split. [T] = one per threshold, [u] = unit, [m] = fact."""

    thresholds: np.ndarray  # [T] fractions of the max activation
    levels: np.ndarray      # [T, u] the activation values those fractions stand for
    chosen: np.ndarray      # [u, m] index into thresholds: best fit-split F1 with >= min_firings there
    fit_f1: np.ndarray      # [u, m] F1 on the fitting split at the chosen threshold (-1: too few firings)
    fit_precision: np.ndarray  # [u, m]
    fit_base_rate: np.ndarray  # [m]
    held_hits: np.ndarray   # [T, u, m] held-out states above the threshold where the fact holds (every t:
    #                         t = 0 gives the scores at the unit's own firing threshold)
    held_fires: np.ndarray  # [T, u] held-out states above the threshold
    held_positives: np.ndarray  # [m] held-out states where the fact holds
    n_held: int
    or_f1: np.ndarray       # [m] held-out F1 of the OR of the fact's precise units
    or_units: np.ndarray    # [m] how many units that OR joins
    min_firings: int

    def _at_chosen(self, values: np.ndarray) -> np.ndarray:
        """[T, u, m] -> [u, m] at each unit and fact's chosen threshold."""
        return np.take_along_axis(values, self.chosen[None], 0)[0]

    @property
    def hits(self) -> np.ndarray:
        return self._at_chosen(self.held_hits)

    @property
    def firings(self) -> np.ndarray:
        """[u, m] held-out states above the chosen threshold."""
        return self._at_chosen(np.broadcast_to(self.held_fires[:, :, None], self.held_hits.shape))

    @property
    def precision(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.hits / self.firings

    @property
    def recall(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.hits / self.held_positives

    @property
    def f1(self) -> np.ndarray:
        """[u, m] held-out F1 at the chosen threshold (0 where neither fires nor holds)."""
        denominator = self.firings + self.held_positives
        return np.divide(2 * self.hits, denominator, out=np.zeros(self.hits.shape), where=denominator > 0)

    @property
    def lift(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.precision / (self.held_positives / self.n_held)

    def best_units(self, units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per fact, the unit (among ``units``) with the best fitting-split F1 and its held-out F1."""
        candidates = np.flatnonzero(np.ones(self.chosen.shape[0], bool) if units is None else units)
        if not candidates.size:
            m = self.chosen.shape[1]
            return np.full(m, -1), np.zeros(m)
        best = candidates[np.argmax(self.fit_f1[candidates], 0)]
        facts = np.arange(self.chosen.shape[1])
        return best, self.f1[best, facts]


def threshold_levels(activations: np.ndarray, fit: np.ndarray,
                     thresholds: tuple[float, ...] = THRESHOLDS) -> np.ndarray:
    """[T, u] activation levels t x (the unit's max on the fitting split; 0 for a unit never positive)."""
    top = np.zeros(activations.shape[1], np.float32)
    for start in range(0, len(activations), ROWS):
        rows = fit[start:start + ROWS]
        if rows.any():
            top = np.maximum(top, np.asarray(activations[start:start + ROWS])[rows].max(0))
    return np.asarray(thresholds, np.float32)[:, None] * top[None]


def _blocks(activations: np.ndarray, mask: np.ndarray | None = None) -> Iterator[tuple[slice, np.ndarray]]:
    """(row slice, dense float32 rows) of ``activations`` in blocks of ``ROWS``, only rows in ``mask``."""
    for start in range(0, len(activations), ROWS):
        rows = slice(start, min(start + ROWS, len(activations)))
        if mask is not None and not mask[rows].any():
            continue
        block = np.asarray(activations[rows], np.float32)
        yield rows, block if mask is None else block[mask[rows]]


def _binned(block: np.ndarray, levels: np.ndarray) -> sparse.csr_matrix | None:
    """``block`` [n, c] as a sparse [n, c * T] one-hot of each entry's threshold bin (the highest t with the
    entry above ``levels[t]``; entries above no level are left out), or None when too few entries are above
    the lowest level for sparse arithmetic to pay. An entry above threshold t lies in a bin >= t, so the
    counts above each threshold are suffix sums over the bins: one product for all T thresholds."""
    rows, cols = np.nonzero(block > levels.min(0))
    if len(rows) >= SPARSE_FILL * block.size:
        return None
    n_t = len(levels)
    bins = (block[rows, cols][None] > levels[:, cols]).sum(0) - 1
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols * n_t + bins)),
                             shape=(block.shape[0], block.shape[1] * n_t))


def count_above(activations: np.ndarray, levels: np.ndarray, facts: np.ndarray,
           held: np.ndarray) -> np.ndarray:
    """[T, u, 2, m + 1]: per threshold and unit, on the fitting (0) and held-out (1) split, the states above
    the threshold where each fact holds; the last column counts all states above it."""
    n_t, u = levels.shape
    m = facts.shape[1]
    out = np.zeros((n_t, u, 2, m + 1), np.float32)  # exact: counts stay far below 2**24
    for rows, block in _blocks(activations):
        # Each split's rows against that split's facts: half the products of one matrix for both splits.
        for split, mask in enumerate((~held[rows], held[rows])):
            if not mask.any():
                continue
            part = block[mask]
            targets = np.concatenate([facts[rows][mask], np.ones((len(part), 1), bool)], 1).astype(np.float32)
            for c in range(0, u, COLUMNS):
                cols = slice(c, min(c + COLUMNS, u))
                binned = _binned(part[:, cols], levels[:, cols])
                if binned is None:
                    for t, level in enumerate(levels[:, cols]):
                        out[t, cols, split] += (part[:, cols] > level).astype(np.float32).T @ targets
                    continue
                per_bin = (binned.T @ targets).reshape(-1, n_t, m + 1)  # [c, T, m + 1]
                out[:, cols, split] += np.cumsum(per_bin[:, ::-1], 1)[:, ::-1].transpose(1, 0, 2)
    return out


def detection_scores(activations: np.ndarray, facts: np.ndarray, held: np.ndarray,
                     thresholds: tuple[float, ...] = THRESHOLDS, min_firings: int = MIN_FIRINGS,
                     or_precision: float = OR_PRECISION) -> DetectionScores:
    """Score each column of ``activations`` [n, u] against each column of ``facts`` [n, m] (bool).

    ``held`` [n] marks the held-out states (whole episodes); the rest is the fitting split.
    """
    facts = np.asarray(facts, bool)
    held = np.asarray(held, bool)
    fit = ~held
    levels = threshold_levels(activations, fit, thresholds)
    counts = count_above(activations, levels, facts, held)
    fit_hits, fit_fires = counts[:, :, 0, :-1], counts[:, :, 0, -1:]
    fit_positives = facts[fit].sum(0)
    enough = fit_fires >= min_firings
    fit_f1 = np.where(enough, 2 * fit_hits / np.maximum(fit_fires + fit_positives, 1), -1.0)
    chosen = np.argmax(fit_f1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fit_precision = np.where(enough, fit_hits / fit_fires, np.nan)
    # The OR joins, per fact, each unit at the lowest threshold where it is precise (the most recall).
    precise = np.nan_to_num(fit_precision, nan=0.0) >= or_precision
    or_level = np.where(precise.any(0), np.argmax(precise, 0), -1)
    or_f1, or_units = _or_scores(activations, levels, facts, held, or_level)
    return DetectionScores(
        thresholds=np.asarray(thresholds), levels=levels, chosen=chosen,
        fit_f1=np.take_along_axis(fit_f1, chosen[None], 0)[0],
        fit_precision=np.take_along_axis(fit_precision, chosen[None], 0)[0],
        fit_base_rate=fit_positives / max(int(fit.sum()), 1),
        held_hits=counts[:, :, 1, :-1], held_fires=counts[:, :, 1, -1], held_positives=facts[held].sum(0),
        n_held=int(held.sum()), or_f1=or_f1, or_units=or_units, min_firings=min_firings)


def _or_weights(or_level: np.ndarray, n_t: int) -> sparse.csr_matrix:
    """[c * T, m]: 1 where unit c's threshold bin b puts it in fact f's OR (b >= its level ``or_level[c, f]``),
    so that ``_binned(block) @ weights`` counts, per state and fact, the OR's units above their levels."""
    unit, fact = np.nonzero(or_level >= 0)
    start = or_level[unit, fact]
    count = n_t - start
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0 .. count - 1 per pair
    rows = np.repeat(unit * n_t + start, count) + offset
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, np.repeat(fact, count))),
                             shape=(or_level.shape[0] * n_t, or_level.shape[1]))


def _or_scores(activations: np.ndarray, levels: np.ndarray, facts: np.ndarray, held: np.ndarray,
               or_level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Held-out F1 of each fact's OR: fires where any of its units is above its own level ([u, m] index
    into levels, -1 = not in the OR). Returns (F1 [m], units per fact [m])."""
    n_t = len(levels)
    u, m = or_level.shape
    hits, fires = np.zeros(m), np.zeros(m)
    chunks = [slice(c, min(c + COLUMNS, u)) for c in range(0, u, COLUMNS)]
    chunks = [cols for cols in chunks if (or_level[cols] >= 0).any()]
    weights = [_or_weights(or_level[cols], n_t) for cols in chunks]
    for rows, block in _blocks(activations, held):
        union = np.zeros((len(block), m), np.float32)
        for cols, weight in zip(chunks, weights):
            binned = _binned(block[:, cols], levels[:, cols])
            if binned is not None:
                union += (binned @ weight).toarray()
                continue
            for t, level in enumerate(levels[:, cols]):
                members = (or_level[cols] == t).astype(np.float32)
                if members.any():
                    union += (block[:, cols] > level).astype(np.float32) @ members
        on = union > 0
        hits += (on & facts[rows][held[rows]]).sum(0)
        fires += on.sum(0)
    positives = facts[held].sum(0)
    f1 = np.divide(2 * hits, fires + positives, out=np.zeros(m), where=fires + positives > 0)
    return f1, (or_level >= 0).sum(0)


def oriented(facts: dict[str, np.ndarray], descriptions: dict[str, str],
             rows: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Facts true on more than half the states (over ``rows``) replaced by their negation ("not: ...").

    A unit firing on every state has precision p and recall 1 for a fact true on a share p: for p = 0.9,
    F1 0.95 for doing nothing. Negated, the same fact is rare and that unit scores F1 ~0.18.
    """
    out, text = {}, {}
    for name, values in facts.items():
        values = np.asarray(values, bool)
        rate = values[rows].mean() if rows is not None else values.mean()
        if rate > 0.5:
            out[f"not {name}"] = ~values
            text[f"not {name}"] = f"not: {descriptions.get(name, name)}"
        else:
            out[name] = values
            text[name] = descriptions.get(name, name)
    return out, text
