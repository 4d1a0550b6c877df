"""Automatic labels: which game fact does each feature (or neuron) detect?

Every unit's activation is scored as a detector of every binary game fact by AUROC. The best fact is
chosen on a fitting split (by its lower AUROC over two halves of it) and its AUROC is re-measured on a
held-out split of whole episodes, so a label's score is never the maximum of many noisy draws on the
same data. A unit is labeled only when that held-out AUROC reaches ``min_auroc``. AUROC asks "does the
unit fire whenever the fact holds?"; each label also reports the converse, its held-out precision: on
what fraction of the states where the unit is positive the fact holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.stats import rankdata


def auroc_matrix(activations: np.ndarray, facts: np.ndarray, chunk: int = 256) -> np.ndarray:
    """AUROC of each unit as a detector of each fact: [n_units, n_facts].

    Uses the Mann-Whitney rank-sum identity with tie-averaged ranks (most sparse-feature activations are
    tied at zero), so one sort per unit scores it against all facts at once. Facts with no positives or
    no negatives get NaN.
    """
    n = activations.shape[0]
    # Sparse [n_facts, n_states]: a state holds a few dozen of the hundreds of facts (most are conjunctions).
    facts_t = sparse.csr_matrix(np.asarray(facts, bool).T, dtype=np.float64)
    n_pos = np.asarray(facts_t.sum(1)).ravel()
    n_neg = n - n_pos
    out = np.empty((activations.shape[1], facts_t.shape[0]))
    for start in range(0, activations.shape[1], chunk):
        rank_sums = _rank_sums(np.asarray(activations[:, start:start + chunk]), facts_t, n_pos)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start:start + chunk] = (rank_sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    out[:, (n_pos == 0) | (n_neg == 0)] = np.nan
    return out


def _rank_sums(block: np.ndarray, facts_t: sparse.csr_matrix, n_pos: np.ndarray) -> np.ndarray:
    """``rankdata(block, axis=0).T @ facts_t.T``, the tie-averaged rank sums [n_units, n_facts].

    A sparse feature is zero on most states and all its zeros share one rank, (n_zero + 1) / 2, so for
    columns that are non-negative and mostly zero the rank sum is that shared rank times the fact's count
    plus, over the active states only, the excess of their ranks over it: one sort of the non-zeros and
    a product with the facts of the active rows. ~50x faster for Top-K features.
    """
    block = np.asfortranarray(block)  # column-contiguous: 2x faster to scan column by column
    n = len(block)
    out = np.empty((block.shape[1], facts_t.shape[0]))
    is_sparse = (block.min(0) >= 0) & (np.count_nonzero(block, axis=0) < n // 2)
    dense = np.flatnonzero(~is_sparse)
    if dense.size:
        out[dense] = (facts_t @ rankdata(block[:, dense], axis=0)).T
    columns = np.flatnonzero(is_sparse)
    if columns.size:
        rows, values, tied = [], [], np.empty(columns.size)
        for i, j in enumerate(columns):
            nz = np.flatnonzero(block[:, j])
            tied[i] = (n - len(nz) + 1) / 2
            rows.append(nz)
            values.append(n - len(nz) + rankdata(block[nz, j]) - tied[i])
        counts = [len(r) for r in rows]
        excess = sparse.csc_matrix((np.concatenate(values), np.concatenate(rows), np.r_[0, np.cumsum(counts)]),
                                   shape=(n, columns.size))
        out[columns] = tied[:, None] * n_pos + (facts_t @ excess).T.toarray()
    return out


@dataclass
class Labels:
    """Per-unit best fact and its held-out AUROC; ``label`` is None below the threshold."""

    fact: list[str]
    heldout_auroc: np.ndarray
    fit_auroc: np.ndarray  # the selection score: the lower AUROC of the fit split's two halves
    label: list[str | None]
    auroc: np.ndarray  # [n_units, n_facts] on the held-out split, for per-fact tables
    precision: np.ndarray  # [n_units] held-out P(best fact | unit > 0): "when it fires, the fact holds"

    @property
    def labeled_fraction(self) -> float:
        return float(np.mean([lab is not None for lab in self.label])) if self.label else 0.0

    def summary(self, alive: np.ndarray | None = None) -> dict[str, float | int]:
        """Labeled count/fraction and mean best held-out AUROC, over ``alive`` units if given."""
        keep = np.ones(len(self.label), bool) if alive is None else alive
        labeled = np.array([lab is not None for lab in self.label])[keep]
        best = np.nan_to_num(self.heldout_auroc[keep], nan=0.5)
        precision = self.precision[keep][labeled]
        precision = precision[~np.isnan(precision)]  # a unit never positive on the held-out split
        return {"n_units": int(keep.sum()), "n_labeled": int(labeled.sum()),
                "labeled_fraction": float(labeled.mean()) if keep.any() else 0.0,
                "mean_best_auroc": float(best.mean()) if keep.any() else float("nan"),
                "mean_label_precision": float(precision.mean()) if precision.size else float("nan")}


def split_by_episode(episode_ids: np.ndarray, heldout_fraction: float = 0.3,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (fit, heldout) that keep whole episodes together."""
    episodes = np.unique(episode_ids)
    rng = np.random.default_rng(seed)
    n_held = max(1, int(round(len(episodes) * heldout_fraction))) if len(episodes) > 1 else 0
    held = np.isin(episode_ids, rng.choice(episodes, n_held, replace=False))
    if not held.any() or held.all():  # one episode: fall back to a contiguous tail
        held = np.arange(len(episode_ids)) >= int(len(episode_ids) * (1 - heldout_fraction))
    return ~held, held


def _rows(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``a[mask]``, keeping a column-major array column-major (``a[mask]`` itself returns row-major)."""
    return np.compress(mask, a.T, axis=1).T if a.flags.f_contiguous and not a.flags.c_contiguous else a[mask]


def label_units(activations: np.ndarray, facts: dict[str, np.ndarray], episode_ids: np.ndarray,
                descriptions: dict[str, str] | None = None, min_auroc: float = 0.8,
                heldout_fraction: float = 0.3, seed: int = 0) -> Labels:
    """Label each column of ``activations`` [n_states, n_units] with the binary fact it detects best."""
    names = list(facts)
    matrix = np.stack([np.asarray(facts[name], bool) for name in names], 1)
    fit, held = split_by_episode(episode_ids, heldout_fraction, seed)
    fit_scores = _fit_scores(activations, matrix, episode_ids, fit, seed)
    held_scores = auroc_matrix(_rows(activations, held), matrix[held])
    # A fact absent from either split cannot be judged honestly.
    fit_scores[:, np.isnan(held_scores).all(0)] = np.nan
    best = np.nanargmax(np.nan_to_num(fit_scores, nan=-1.0), axis=1)
    units = np.arange(activations.shape[1])
    held_best = held_scores[units, best]
    descriptions = descriptions or {}
    label = [descriptions.get(names[b], names[b]) if score >= min_auroc else None
             for b, score in zip(best, np.nan_to_num(held_best, nan=0.0))]
    return Labels(fact=[names[b] for b in best], heldout_auroc=held_best, fit_auroc=fit_scores[units, best],
                  label=label, auroc=held_scores, precision=_precision(_rows(activations, held), matrix[held], best))


def _fit_scores(activations: np.ndarray, facts: np.ndarray, episode_ids: np.ndarray, fit: np.ndarray,
                seed: int) -> np.ndarray:
    """The lower of a unit's AUROCs for a fact on two halves of the fit split (whole episodes each).

    Choosing the best of hundreds of facts by one AUROC favours rare facts, whose AUROC is noisiest (a
    conjunction true on a dozen deaths beats "dying" by luck); a fact must score well in both halves.
    """
    rows = np.flatnonzero(fit)
    first, _ = split_by_episode(episode_ids[rows], 0.5, seed + 1)
    halves = np.zeros((2, len(fit)), bool)
    halves[0, rows[first]], halves[1, rows[~first]] = True, True
    return np.minimum(*[auroc_matrix(_rows(activations, half), facts[half]) for half in halves])


def _precision(activations: np.ndarray, facts: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Per unit, the fraction of the states where it is positive on which its ``best`` fact holds."""
    out = np.full(activations.shape[1], np.nan)
    for unit, fact in enumerate(best):
        active = np.asarray(activations[:, unit]) > 0
        if active.any():
            out[unit] = facts[active, fact].mean()
    return out
