"""Detection scores against brute-force definitions and planted units whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from rlsae.analysis import scores as scores_module
from rlsae.analysis.per_fact import coverage, fact_table, logistic_regression, sparse_probing
from rlsae.analysis.scores import OR_PRECISION, THRESHOLDS, detection_scores, oriented


def _brute(acts: np.ndarray, facts: np.ndarray, held: np.ndarray, min_firings: int) -> dict[str, np.ndarray]:
    """Threshold choice and held-out scores by loops over units, facts and thresholds."""
    u, m = acts.shape[1], facts.shape[1]
    out = {key: np.zeros((u, m)) for key in ("f1", "precision", "chosen")}
    for i in range(u):
        top = max(acts[~held, i].max(), 0)
        for j in range(m):
            best, best_t = -1.0, 0
            for t, frac in enumerate(THRESHOLDS):
                on = acts[~held, i] > frac * top
                if on.sum() < min_firings:
                    continue
                f1 = 2 * (on & facts[~held, j]).sum() / (on.sum() + facts[~held, j].sum())
                if f1 > best:
                    best, best_t = f1, t
            on = acts[held, i] > THRESHOLDS[best_t] * top
            hits = (on & facts[held, j]).sum()
            out["f1"][i, j] = 2 * hits / (on.sum() + facts[held, j].sum())
            out["precision"][i, j] = hits / on.sum() if on.sum() else np.nan
            out["chosen"][i, j] = best_t
    # The OR: each unit joins at the lowest threshold where it is precise for the fact on the fitting split.
    out["or_f1"] = np.zeros(m)
    for j in range(m):
        union = np.zeros(held.sum(), bool)
        for i in range(u):
            top = max(acts[~held, i].max(), 0)
            for frac in THRESHOLDS:
                on = acts[~held, i] > frac * top
                if on.sum() >= min_firings and (on & facts[~held, j]).sum() / on.sum() >= OR_PRECISION:
                    union |= acts[held, i] > frac * top
                    break
        out["or_f1"][j] = 2 * (union & facts[held, j]).sum() / (union.sum() + facts[held, j].sum())
    return out


@pytest.mark.parametrize("sparse_fill", [0.0, 1.0])  # every block dense (BLAS) or every block sparse
def test_scores_match_brute_force(monkeypatch: pytest.MonkeyPatch, sparse_fill: float) -> None:
    monkeypatch.setattr(scores_module, "SPARSE_FILL", sparse_fill)
    monkeypatch.setattr(scores_module, "ROWS", 97)  # several row and column blocks
    monkeypatch.setattr(scores_module, "COLUMNS", 3)
    rng = np.random.default_rng(0)
    n = 600
    acts = np.maximum(rng.normal(size=(n, 7)) - rng.uniform(0, 2, 7), 0).astype(np.float32)
    acts[:, 0] = rng.normal(size=n)  # negative values (a rotated neuron)
    facts = rng.random((n, 4)) < [0.05, 0.2, 0.5, 0.02]
    facts[:, 1] |= acts[:, 2] > 0.5  # something to detect
    held = np.repeat(np.arange(20), n // 20) % 3 == 0
    got = detection_scores(acts, facts, held, min_firings=5)
    want = _brute(acts, facts, held, 5)
    np.testing.assert_array_equal(got.chosen, want["chosen"])
    np.testing.assert_allclose(got.f1, want["f1"], atol=1e-12)
    np.testing.assert_allclose(got.precision, want["precision"], atol=1e-12)
    np.testing.assert_allclose(got.or_f1, want["or_f1"], atol=1e-12)
    assert got.or_units.sum() > 0  # some unit is precise enough to join an OR
    base = facts[held].mean(0)
    assert base.min() > 0
    np.testing.assert_allclose(got.lift, want["precision"] / base, atol=1e-9)


def test_unit_firing_everywhere_scores_no_better_than_the_base_rate() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    fact = rng.random(n) < 0.1
    acts = rng.uniform(1, 2, (n, 1)).astype(np.float32)
    held = np.arange(n) % 3 == 0
    s = detection_scores(acts, fact[:, None], held)
    assert s.lift[0, 0] == pytest.approx(1.0, abs=0.25) and s.f1[0, 0] < 0.25


def test_or_of_precise_units_finds_a_split_fact() -> None:
    rng = np.random.default_rng(2)
    n = 8000
    fact = rng.random(n) < 0.1
    part = rng.integers(0, 3, n)
    # Feature splitting: three units each fire on a third of the fact, nothing else.
    acts = np.stack([(fact & (part == p)) * rng.uniform(1, 2, n) for p in range(3)], 1).astype(np.float32)
    s = detection_scores(acts, fact[:, None], np.repeat(np.arange(80), n // 80) % 4 == 0)
    assert s.f1[:, 0].max() < 0.6  # no single unit covers it
    assert s.or_units[0] == 3 and s.or_f1[0] == pytest.approx(1.0)
    best, best_f1 = s.best_units()
    assert best_f1[0] == s.f1[best[0], 0]


def test_sparse_probing_finds_the_informative_unit_and_chance_elsewhere() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    fact = rng.random(n) < 0.2
    acts = rng.normal(size=(n, 30))
    acts[:, 17] += 3 * fact
    held = np.repeat(np.arange(60), n // 60) % 3 == 0
    acc = sparse_probing(acts, np.stack([fact, rng.random(n) < 0.3], 1), held, (("raw", 1), ("raw", 5)))
    assert acc[0, 0] > 0.9 and acc[0, 1] > 0.9
    assert acc[1, 0] == pytest.approx(0.5, abs=0.06)


def test_logistic_regression_separates_a_linear_rule() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 2))
    y = (x[:, 0] - 2 * x[:, 1] > 0.5).astype(float)
    w = logistic_regression(x, y, l2=1e-4)
    assert np.mean((x @ w[:2] + w[2] > 0) == y) > 0.98
    assert w[1] / w[0] == pytest.approx(-2, rel=0.15)


def test_frequent_facts_are_negated() -> None:
    facts = {"rare": np.array([1, 0, 0, 0], bool), "common": np.array([1, 1, 1, 0], bool)}
    got, text = oriented(facts, {"common": "pill present"})
    assert set(got) == {"rare", "not common"} and text["not common"] == "not: pill present"
    np.testing.assert_array_equal(got["not common"], [0, 0, 0, 1])


def test_sparse_probing_selects_in_the_units_own_scale_or_in_standard_deviations() -> None:
    # Unit 0 is sparse and strong: 10 on half the positives, else 0 (mean difference 5, about 1.2 sd).
    # Unit 1 is dense and weak: 0.3 higher on every positive, noise 0.1 (difference 0.3, about 1.7 sd).
    rng = np.random.default_rng(4)
    n = 8000
    fact = rng.random(n) < 0.3
    acts = np.stack([10.0 * (fact & (rng.random(n) < 0.5)), 0.3 * fact + rng.normal(0, 0.1, n)], 1)
    held = np.repeat(np.arange(80), n // 80) % 3 == 0
    raw, standardised = sparse_probing(acts, fact[:, None], held, (("raw", 1), ("standardised", 1)))[0]
    assert raw == pytest.approx(0.75, abs=0.03)  # the sparse unit: every negative, half the positives
    assert standardised > 0.9
    with pytest.raises(ValueError, match="select"):
        sparse_probing(acts, fact[:, None], held, (("zscore", 1),))


def test_fact_table_counts_only_judgeable_facts() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    facts = np.stack([rng.random(n) < 0.1, np.zeros(n, bool)], 1)
    facts[5, 1] = True  # one positive: cannot be judged
    acts = (facts[:, :1] * 1.0).astype(np.float32)
    held = np.arange(n) % 3 == 0
    s = detection_scores(acts, facts, held)
    table = fact_table(s, acts, facts, [0, 1], ["a", "b"], np.ones(1, bool), ks=(1,), held=held)
    assert table.n_facts == 1 and table.mean_best_f1 == 1.0 and table.covered(0.8) == 1.0
    assert table.probe(1) == 1.0 and [row.fact for row in table.per_fact] == ["a"]
    assert table.per_fact[0].base_rate == pytest.approx(facts[~held, 0].mean())
    assert table.probe(1, "standardised") == 1.0 and table.probe(5) is None and table.covered(0.3) is None
    assert coverage(np.array([0.4, 0.6, 0.9]), 0.5) == pytest.approx(2 / 3)
