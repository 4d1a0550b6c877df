"""Automatic labels: which game fact does each feature (or neuron) detect?

One rule, stated once (``LabelRule``) and applied to SAE features and neurons alike: a unit is labeled
with a fact when, on held-out whole episodes and at the activation threshold chosen on the fitting split,
it is above that threshold on at least ``min_firings`` states and either the fact holds on at least
``min_precision`` of them with a lift of ``min_lift`` over the fact's base rate ("when it fires, the fact
holds, far more often than by chance"), or its F1 reaches ``min_f1`` ("it fires on most of the fact's
states and little else"). The fact is chosen on the fitting split: among the facts the unit passes the rule
for there, the one with the best F1 (else the best F1 overall). Scores are those of ``analysis.scores``;
every label carries its held-out precision, recall, F1, lift, firings, threshold and AUROC.

AUROC is kept as a column (``auroc_matrix``) but no longer decides labels: it asks whether a unit ranks
all of a fact's states high, which a dense unit can do and a sparse one cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Generic, TypeVar

import numpy as np
from scipy import sparse
from scipy.stats import rankdata

from rlsae.analysis.explain import ExplainSummary
from rlsae.analysis.per_fact import FactTable, fact_table
from rlsae.analysis.scores import MIN_FIRINGS, DetectionScores, detection_scores
from rlsae.common.records import Described, described, number
from rlsae.envs.conjunctions import SEPARATOR

T = TypeVar("T")


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


@dataclass(frozen=True)
class LabelRule:
    """When a unit's best fact becomes its label (held-out numbers at the fit-chosen threshold)."""

    min_precision: float = 0.8
    min_lift: float = 3.0
    min_f1: float = 0.5
    min_firings: int = MIN_FIRINGS

    def passes(self, precision: np.ndarray, lift: np.ndarray, f1: np.ndarray, firings: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            precise = (np.nan_to_num(precision) >= self.min_precision) & (np.nan_to_num(lift) >= self.min_lift)
            return (np.asarray(firings) >= self.min_firings) & (precise | (np.nan_to_num(f1) >= self.min_f1))

    def __str__(self) -> str:
        return (f"held-out precision >= {self.min_precision:g} with lift >= {self.min_lift:g}, or F1 >= "
                f"{self.min_f1:g}; >= {self.min_firings} held-out firings")


@dataclass(frozen=True)
class LabelScores(Generic[T]):
    """The held-out scores of a unit's label: of its fact, at the threshold chosen on the fitting split.

    One value per field for one unit (the browser's Feature), or one array per field over all units
    (Labels, InterpretResult). These names are the names everywhere: interpret's arrays (``label_<name>``
    in features.npz), the browser's Feature and the page's JSON and columns. A new label metric is one
    field here and its entry in :func:`_at_label`.
    """

    precision: T = number("precision", "the fact holds on {} of the held-out states where the unit fires",
                          "{:.0%}")
    recall: T = number("recall", "the unit fires on {} of the held-out states where the fact holds", "{:.0%}")
    f1: T = number("F1", "held-out F1 of the unit as a detector of the fact: {}", "{:.2f}")
    lift: T = number("lift", "the fact holds {} more often where the unit fires than overall", "{:.1f}", "x")
    firings: T = number("firings", "the unit is above its threshold on {} held-out states (the sample behind "
                        "precision)", "{:,.0f}")
    auroc: T = number("AUROC", "ranking the held-out states by the unit's activation sorts the fact's states "
                      "first with AUROC {} (0.5: chance)", "{:.3f}")
    threshold: T = number("threshold", "the unit counts as firing above {} of its max activation", "{:.0%}")

    def unit(self, i: int) -> LabelScores[float]:
        """One unit's scores as Python numbers (NaN where undefined, e.g. the precision of a unit that never
        fires)."""
        return LabelScores(**{f.name: getattr(self, f.name)[i].item() for f in fields(self)})


LABEL_SCORES = tuple(f.name for f in fields(LabelScores))


def _at_label(scores: DetectionScores, auroc: np.ndarray, best: np.ndarray) -> LabelScores[np.ndarray]:
    """Each unit's scores for the fact ``best`` names."""
    units = np.arange(len(best))
    return LabelScores(precision=scores.precision[units, best], recall=scores.recall[units, best],
                       f1=scores.f1[units, best], lift=scores.lift[units, best],
                       firings=scores.firings[units, best], auroc=auroc[units, best],
                       threshold=scores.thresholds[scores.chosen[units, best]])


@dataclass
class Labels:
    """Per unit: its best fact and that fact's held-out scores; ``label`` is None where the rule fails."""

    fact: list[str]
    label: list[str | None]
    fact_names: list[str]  # the m facts scored, in the column order of ``auroc`` and ``scores``
    held: np.ndarray       # [n_states] the held-out split (whole episodes)
    at_label: LabelScores[np.ndarray]  # [u] each: the scores of each unit's fact
    auroc: np.ndarray      # [u, m] held-out AUROC for every fact
    scores: DetectionScores  # every unit x fact, for per-fact tables
    rule: LabelRule

    @property
    def labeled(self) -> np.ndarray:
        return np.array([lab is not None for lab in self.label], bool)

    def summary(self, units: np.ndarray | None = None) -> LabelSummary:
        """Labeled count/fraction and mean scores of the labels, over ``units`` (a mask) if given."""
        keep = np.ones(len(self.label), bool) if units is None else np.asarray(units, bool)
        labeled = self.labeled[keep]

        def mean(values: np.ndarray) -> float:
            values = values[keep][labeled]
            values = values[np.isfinite(values)]
            return float(values.mean()) if values.size else float("nan")

        best = np.nan_to_num(self.at_label.auroc[keep], nan=0.5)
        return LabelSummary(
            n_units=int(keep.sum()), n_labeled=int(labeled.sum()),
            labeled_fraction=float(labeled.mean()) if keep.any() else 0.0,
            mean_best_auroc=float(best.mean()) if keep.any() else float("nan"),
            mean_label_precision=mean(self.at_label.precision), mean_label_recall=mean(self.at_label.recall),
            mean_label_f1=mean(self.at_label.f1), mean_label_lift=mean(self.at_label.lift))


@dataclass(frozen=True)
class LabelSummary:
    """How many of a set of units (features or neurons) carry a label, and how good their labels are."""

    n_units: int = number("live units", "{} units fire on enough held-out states to be judged", "{:,}")
    n_labeled: int = number("units labeled", "{} of them carry a label", "{:,}")
    labeled_fraction: float = number("labeled share", "{} of the live units carry a label", "{:.1%}")
    mean_best_auroc: float = number("mean label AUROC", "the units rank their fact's held-out states first with "
                                    "AUROC {} (mean over units; 0.5: chance)", "{:.3f}")
    mean_label_precision: float = number("label precision", "the labels hold on {} of the held-out states where "
                                         "their units fire (mean over labels)", "{:.1%}")
    mean_label_recall: float = number("label recall", "the labeled units fire on {} of their fact's held-out "
                                      "states (mean over labels)", "{:.1%}")
    mean_label_f1: float = number("label F1", "the labeled units detect their fact with held-out F1 {} (mean "
                                  "over labels)", "{:.2f}")
    mean_label_lift: float = number("label lift", "the labels hold {} more often where their units fire than "
                                    "overall (mean over labels)", "{:.1f}", "x")


@dataclass(frozen=True)
class UnitStats:
    """What interpret found for one kind of unit (SAE features or the layer's neurons): labels and per-fact
    detection."""

    labels: LabelSummary
    facts: FactTable
    explanations: ExplainSummary | None = None
    """Compositional explanations (analysis/explain.py); None: not searched (a game without facts)."""

    def readability(self) -> list[Described]:
        """The numbers a reader sets side by side for features and neurons (the browser's comparison), each
        named and explained by its record; coverage at F1 >= 0.5 and the 1-sparse probe under their own names."""
        rows = described(self.labels, ("n_units", "labeled_fraction", "mean_label_precision", "mean_best_auroc"))
        if self.explanations is not None:
            rows += described(self.explanations, ("explained_fraction", "mean_f1"))
        rows += described(self.facts, ("mean_best_f1", "mean_or_f1"))
        rows += [replace(row, key=f"coverage_{c.min_f1:g}", name=f"{row.name} at F1 >= {c.min_f1:g}")
                 for c in self.facts.coverage if c.min_f1 == 0.5 for row in described(c)]
        rows += [replace(row, key=f"probe_{p.k}", name=f"{p.k}-sparse probe accuracy")
                 for p in self.facts.probes if p.select == "raw" and p.k == 1 for row in described(p)]
        return rows


@dataclass(frozen=True)
class BestUnit:
    """The unit that best detects a family of facts (chosen on the fitting split), with its held-out scores."""

    unit: int
    fact: str
    scores: LabelScores[float]
    description: str = ""
    """The fact in words."""
    density: float | None = number("density", "the unit fires on {} of the analysed states", "{:.2%}",
                                   default=None)


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


def apply_rule(scores: DetectionScores, rule: LabelRule) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: the fact chosen on the fitting split (the best F1 among the facts the unit passes ``rule``
    for there, else the best F1) and whether it passes the rule on the held-out split. [u] each."""
    with np.errstate(invalid="ignore", divide="ignore"):
        fit_lift = scores.fit_precision / scores.fit_base_rate
    fit_pass = rule.passes(scores.fit_precision, fit_lift, scores.fit_f1,
                           np.where(scores.fit_f1 >= 0, rule.min_firings, 0))
    best = np.argmax(scores.fit_f1 + 2 * fit_pass, 1)  # F1 <= 1: passing the rule comes first
    units = np.arange(len(best))
    passed = rule.passes(scores.precision[units, best], scores.lift[units, best], scores.f1[units, best],
                         scores.firings[units, best])
    return best, passed


def label_units(activations: np.ndarray, facts: dict[str, np.ndarray], episode_ids: np.ndarray,
                descriptions: dict[str, str] | None = None, rule: LabelRule | None = None,
                heldout_fraction: float = 0.3, seed: int = 0) -> Labels:
    """Label each column of ``activations`` [n_states, n_units] with the boolean fact it detects best."""
    rule = rule or LabelRule()
    names = list(facts)
    matrix = np.stack([np.asarray(facts[name], bool) for name in names], 1)
    _, held = split_by_episode(episode_ids, heldout_fraction, seed)
    scores = detection_scores(activations, matrix, held, min_firings=rule.min_firings)
    best, passed = apply_rule(scores, rule)
    auroc = auroc_matrix(_rows(activations, held), matrix[held])
    descriptions = descriptions or {}
    label = [descriptions.get(names[b], names[b]) if ok else None for b, ok in zip(best, passed)]
    return Labels(fact=[names[b] for b in best], label=label, fact_names=names, held=held,
                  at_label=_at_label(scores, auroc, best), auroc=auroc, scores=scores, rule=rule)


def about(fact: str, prefixes: tuple[str, ...]) -> bool:
    """Whether every part of ``fact`` (a conjunction's parts, each perhaps negated) starts with one of
    ``prefixes``: "pill present & dying" is not about dying alone."""
    return all(part.removeprefix("not ").startswith(prefixes) for part in fact.split(SEPARATOR))


def best_unit(labels: Labels, prefixes: tuple[str, ...], units: np.ndarray,
              min_fit_precision: float = 0.0) -> BestUnit | None:
    """Among ``units`` (a mask), the unit and fact with the best fitting-split F1 over the facts whose
    name starts with ``prefixes`` (and, where any qualify, fitting-split precision >= ``min_fit_precision``),
    with its held-out F1, precision, recall, lift, firings, threshold and AUROC.

    For a conjunction every part must match: "pill present & dying" detects dying, not the pill.
    """
    columns = [j for j, name in enumerate(labels.fact_names) if about(name, prefixes)]
    units = np.asarray(units, bool)
    if not columns or not units.any():
        return None
    s = labels.scores
    fit_f1 = s.fit_f1[:, columns]
    precise = np.nan_to_num(s.fit_precision[:, columns]) >= min_fit_precision
    score = np.where(units[:, None], fit_f1 + 2 * (precise & (fit_f1 >= 0)), -np.inf)
    unit, col = np.unravel_index(int(np.argmax(score)), score.shape)
    fact = np.full(len(units), columns[col])
    return BestUnit(int(unit), labels.fact_names[fact[0]], _at_label(s, labels.auroc, fact).unit(int(unit)))


def score_units(activations: np.ndarray, facts: dict[str, np.ndarray], descriptions: dict[str, str],
                primary: list[str], episode_ids: np.ndarray, rule: LabelRule | None = None,
                seed: int = 0) -> tuple[Labels, UnitStats]:
    """Labels of every column of ``activations`` and, over its live units (above 0 on >= min_firings
    held-out states), the label summary and the per-fact table on the ``primary`` facts."""
    rule = rule or LabelRule()
    labels = label_units(activations, facts, episode_ids, descriptions, rule, seed=seed)
    live = labels.scores.held_fires[0] >= rule.min_firings
    columns = [labels.fact_names.index(name) for name in primary]
    matrix = np.stack([facts[name] for name in primary], 1)
    table = fact_table(labels.scores, activations, matrix, columns, labels.fact_names, live, seed=seed,
                       held=labels.held)
    return labels, UnitStats(labels.summary(live), table)
