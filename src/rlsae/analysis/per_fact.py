"""Per-fact scores of a set of units (SAE features or neurons), on the detection scores of analysis/scores.py.

Per fact (Karvonen et al. 2024, "Measuring Progress in Dictionary Learning ... with Board Game Models"):
the best single unit's held-out F1 (the unit chosen on the fitting split) and coverage (the share of facts
whose best unit reaches an F1); the OR of every unit that is precise for the fact (precision >= 0.9 on the
fitting split), which counts a fact split over several features as found; and k-sparse probing (SAEBench,
Karvonen et al. 2025; Gurnee et al. 2023): class-balanced, the k units with the largest mean difference
between the classes (in the units' own scale, as SAEBench; at k = 1 also in standard deviations, which
favours dense units), logistic regression on the chosen units standardised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlsae.analysis.scores import MIN_FIRINGS, DetectionScores
from rlsae.common.records import number

COVERAGE_F1 = (0.5, 0.8)
PROBE_KS = (1, 2, 5, 20)
SAEBENCH_PROBES = tuple(("raw", k) for k in PROBE_KS)


def _balanced(positive: np.ndarray, rows: np.ndarray, per_class: int,
              rng: np.random.Generator) -> np.ndarray | None:
    """Indices of an equal number (at most ``per_class``) of positive and negative states among ``rows``."""
    pos, neg = np.flatnonzero(positive & rows), np.flatnonzero(~positive & rows)
    size = min(len(pos), len(neg), per_class)
    if size < MIN_FIRINGS:
        return None
    return np.sort(np.concatenate([rng.choice(pos, size, replace=False), rng.choice(neg, size, replace=False)]))


def logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights [d + 1] (bias last) of an L2-regularised logistic regression, by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2 * len(x))
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def sparse_probing(activations: np.ndarray, facts: np.ndarray, held: np.ndarray,
                   probes: tuple[tuple[str, int], ...] = SAEBENCH_PROBES, per_class: int = 2000,
                   seed: int = 0) -> np.ndarray:
    """[m, len(probes)] held-out accuracy of k-sparse logistic probes (chance = 0.5; NaN: too few states).

    Class-balanced training and test sets, drawn once per fact for every probe. A probe ``(select, k)``
    takes the k units with the largest absolute difference of the class means on the training set, in
    the units' own scale as SAEBench chooses them (``select="raw"``) or after standardising
    (``"standardised"``, which ranks by separation in standard deviations and so favours dense units);
    it is fitted on the chosen units standardised on the training set.
    """
    selects = {select for select, _ in probes}
    if not selects <= {"raw", "standardised"}:
        raise ValueError(f"select must be 'raw' or 'standardised', got {sorted(selects)}")
    facts = np.asarray(facts, bool)
    held = np.asarray(held, bool)
    rng = np.random.default_rng(seed)
    out = np.full((facts.shape[1], len(probes)), np.nan)
    for j in range(facts.shape[1]):
        train = _balanced(facts[:, j], ~held, per_class, rng)
        test = _balanced(facts[:, j], held, per_class, rng)
        if train is None or test is None:
            continue
        x_train = np.asarray(activations[train], np.float64)
        mean, std = x_train.mean(0), x_train.std(0)
        std[std == 0] = 1.0
        z_train = (x_train - mean) / std
        z_test = (np.asarray(activations[test], np.float64) - mean) / std
        y_train, y_test = facts[train, j], facts[test, j]
        order = {select: np.argsort(-np.abs(ranked[y_train].mean(0) - ranked[~y_train].mean(0)), kind="stable")
                 for select, ranked in (("raw", x_train), ("standardised", z_train)) if select in selects}
        for i, (select, k) in enumerate(probes):
            cols = order[select][:k]
            w = logistic_regression(z_train[:, cols], y_train.astype(np.float64))
            out[j, i] = np.mean((z_test[:, cols] @ w[:-1] + w[-1] > 0) == y_test)
    return out


@dataclass(frozen=True)
class Coverage:
    """The share of facts whose best single unit reaches a held-out F1."""

    min_f1: float
    share: float = number("facts covered", "{} of the facts have a single unit reaching the F1", "{:.0%}")


@dataclass(frozen=True)
class ProbeAccuracy:
    """Mean held-out accuracy of a k-sparse probe over the facts (chance = 0.5)."""

    k: int
    select: str
    """How the k units are chosen: ``raw`` (SAEBench, the units' own scale) or ``standardised``."""
    accuracy: float = number("k-sparse probe accuracy", "a logistic probe on the best k units tells the fact "
                             "from its absence on {} of balanced held-out states (chance: 50%)", "{:.3f}")


@dataclass(frozen=True)
class FactScores:
    """One fact's row: its base rate, its best single unit, the OR of its precise units, its probes."""

    fact: str
    base_rate: float = number("base rate", "the fact holds on {} of the fitting states", "{:.1%}")
    best_unit: int
    f1: float = number("best unit F1", "the best single unit (chosen on the fitting split) detects the fact with "
                       "held-out F1 {}", "{:.3f}")
    or_f1: float = number("OR of precise units F1", "the OR of the units precise for the fact detects it with "
                          "held-out F1 {}", "{:.3f}")
    or_units: int = number("units in the OR", "{} units are precise for the fact", "{:d}")
    probe: list[float] | None = None
    """Held-out accuracy of the raw k-sparse probes, one per k of ``FactTable.probes``."""


@dataclass(frozen=True)
class FactTable:
    """Per-fact scores of one set of units (features or neurons) on the facts seen often enough to judge."""

    n_facts: int = number("facts judged", "{} single facts hold often enough on both splits to be judged", "{:d}")
    mean_best_f1: float = number("mean best-unit F1", "per fact, the best single unit detects it with held-out "
                                 "F1 {} (mean over facts)", "{:.3f}")
    mean_or_f1: float = number("mean OR F1", "per fact, the OR of the precise units detects it with held-out F1 "
                               "{} (mean over facts)", "{:.3f}")
    coverage: list[Coverage]
    probes: list[ProbeAccuracy]
    per_fact: list[FactScores]

    def covered(self, min_f1: float) -> float | None:
        """The share of facts with a unit at held-out F1 >= ``min_f1`` (None: not measured at that F1)."""
        return next((c.share for c in self.coverage if c.min_f1 == min_f1), None)

    def probe(self, k: int, select: str = "raw") -> float | None:
        """The mean accuracy of the k-sparse probe (None: not measured)."""
        return next((p.accuracy for p in self.probes if p.k == k and p.select == select), None)


def fact_table(scores: DetectionScores, activations: np.ndarray, facts: np.ndarray, columns: list[int],
               names: list[str], units: np.ndarray, ks: tuple[int, ...] = PROBE_KS, seed: int = 0,
               held: np.ndarray | None = None) -> FactTable:
    """Per-fact scores of one set of units (``units`` mask) on the facts ``columns`` of ``scores``
    (``facts`` [n, len(columns)] holds those columns): best single unit, coverage, OR, k-sparse probing.

    Facts seen on fewer than ``min_firings`` states of either split are left out: they cannot be judged.
    """
    positives_fit = np.round(scores.fit_base_rate * (len(facts) - scores.n_held))
    judged = [i for i, j in enumerate(columns)
              if min(scores.held_positives[j], positives_fit[j]) >= scores.min_firings]
    cols = [columns[i] for i in judged]
    best, best_f1 = scores.best_units(units)
    best, best_f1 = best[cols], best_f1[cols]
    # The k = 1 probe with units chosen in standard deviations rides along, last, on the same draws.
    kinds = (*(("raw", k) for k in ks), ("standardised", 1))
    probes = sparse_probing(activations, facts[:, judged], held, kinds, seed=seed) if held is not None else None

    def mean(values: np.ndarray) -> float:
        return float(np.nanmean(values)) if len(values) else float("nan")

    return FactTable(
        n_facts=len(cols), mean_best_f1=mean(best_f1), mean_or_f1=mean(scores.or_f1[cols]),
        coverage=[Coverage(at, coverage(best_f1, at)) for at in COVERAGE_F1],
        probes=[] if probes is None else [ProbeAccuracy(k, select, mean(probes[:, i]))
                                          for i, (select, k) in enumerate(kinds)],
        per_fact=[FactScores(names[j], float(scores.fit_base_rate[j]), int(best[i]), float(best_f1[i]),
                             float(scores.or_f1[j]), int(scores.or_units[j]),
                             probes[i, :len(ks)].tolist() if probes is not None else None)
                  for i, j in enumerate(cols)])


def coverage(best_f1: np.ndarray, at: float) -> float:
    """Share of facts whose best single unit reaches held-out F1 ``at``."""
    return float(np.mean(best_f1 >= at)) if len(best_f1) else float("nan")
