import itertools

import numpy as np
import pytest

from rlsae.analysis.explain import MARGIN, MAX_SHARE, OPS, ExplainConfig, Formula, explain_units
from rlsae.analysis.labels import split_by_episode
from rlsae.analysis.literals import build_literals, game_literals, shifted

N_EPISODES, LENGTH = 40, 150


def _game(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Episodes of random facts A-D, a rare event E and a numeric distance; (episodes, facts, fit, held)."""
    rng = np.random.default_rng(seed)
    n = N_EPISODES * LENGTH
    episodes = np.repeat(np.arange(N_EPISODES), LENGTH)
    facts = {"A": rng.random(n) < 0.3, "B": rng.random(n) < 0.3, "C": rng.random(n) < 0.1,
             "D": rng.random(n) < 0.1, "E": rng.random(n) < 0.03}
    fit, held = split_by_episode(episodes, 0.3, seed=0)
    return episodes, facts, fit, held


def _explain(unit: np.ndarray, seed: int = 0, **config: object):
    episodes, facts, fit, held = _game(seed)
    rng = np.random.default_rng(seed + 100)
    distance = rng.uniform(0, 100, len(episodes))
    literals = build_literals(facts, {"distance": distance}, ["E"], episodes, fit)
    acts = (unit * rng.uniform(1, 2, len(unit)))[:, None]
    return explain_units(acts, literals, held, config=ExplainConfig(**config)).units[0], literals


def test_a_and_not_b_is_found_exactly() -> None:
    _, facts, _, _ = _game()
    found, _ = _explain(facts["A"] & ~facts["B"])
    assert found.formula == "A AND NOT B"
    assert found.scores.f1 == 1.0 and found.scores.mass == 1.0 and found.explained


def test_a_unit_firing_three_steps_before_an_event_reads_the_future() -> None:
    episodes, facts, _, _ = _game()
    event = facts["E"]
    fires = np.zeros(len(event), bool)
    for t in range(len(event) - 3):  # by hand: the event 3 steps later, in the same episode
        fires[t] = event[t + 3] and episodes[t + 3] == episodes[t]
    found, _ = _explain(fires)
    assert found.formula == "E in 3 steps"
    assert found.scores.f1 == 1.0 and found.explained


def test_an_or_of_two_facts() -> None:
    _, facts, _, _ = _game()
    found, _ = _explain(facts["C"] | facts["D"])
    assert found.formula in ("C OR D", "D OR C") and found.scores.f1 == 1.0


def test_a_threshold_on_a_numeric_fact_and_a_fact() -> None:
    episodes, facts, fit, _ = _game()
    distance = np.random.default_rng(100).uniform(0, 100, len(episodes))
    cut = np.quantile(distance[fit], 0.25)  # one of the thresholds taken on the fitting split
    found, _ = _explain(facts["A"] & (distance <= cut))
    assert set(found.literals) == {"A", f"distance <= {cut:g}"} and found.ops == ("AND",)
    assert found.scores.f1 == 1.0


def test_a_random_unit_is_explained_by_nothing() -> None:
    rng = np.random.default_rng(7)
    found, _ = _explain(rng.random(N_EPISODES * LENGTH) < 0.05)
    assert not found.explained and found.scores.f1 < 0.3
    assert len(found.literals) == 1  # no extra literal paid for itself by the margin


def test_a_unit_firing_almost_always_is_not_searched() -> None:
    _, facts, _, _ = _game()
    found, _ = _explain(~facts["C"])  # on ~90% of states at every threshold: "NOT C" would say nothing
    assert found is None


def _brute_force(fires: np.ndarray, values: np.ndarray) -> tuple[float, np.ndarray]:
    """Every formula of 1-3 literals on these states; the margin rule between lengths."""
    n_lit = values.shape[1]

    def iou(holds: np.ndarray) -> float:
        return (fires & holds).sum() / (fires | holds).sum()

    best_iou, best_holds = -1.0, None
    for length in (1, 2, 3):
        top, top_holds = -1.0, None
        for lits in itertools.permutations(range(n_lit), length):
            for negated in (False, True):
                for ops in itertools.product(OPS, repeat=length - 1):
                    holds = Formula(lits, ops, negated).holds(values)
                    if holds.mean() > MAX_SHARE:
                        continue
                    score = iou(holds)
                    if score > top:
                        top, top_holds = score, holds
        if top >= best_iou + MARGIN:
            best_iou, best_holds = top, top_holds
    return best_iou, best_holds


@pytest.mark.parametrize("beam", [5, 100_000])
@pytest.mark.parametrize("last", ["AND NOT", "OR"])  # the bound of the last step's operation is tested
def test_pruned_search_matches_an_exhaustive_search(beam: int, last: str) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    episodes = np.repeat(np.arange(20), n // 20)
    facts = {name: rng.random(n) < rate for name, rate in zip("ABCDEF", (0.4, 0.3, 0.2, 0.1, 0.3, 0.5))}
    fit, held = split_by_episode(episodes, 0.3, seed=0)
    literals = build_literals(facts, {}, [], episodes, fit)
    a, b, d = facts["A"], facts["B"], facts["D"]
    planted = (a | d) & ~b if last == "AND NOT" else (a & ~b) | d
    planted ^= rng.random(n) < 0.05  # 5% of states flipped
    want_iou, want_holds = _brute_force(planted[fit], literals.values[fit])
    for prune in (True, False):
        result = explain_units(planted[:, None].astype(np.float32), literals, held,
                               config=ExplainConfig(beam=beam, prune=prune))
        assert (result.pruned > 0) == prune
        found = result.units[0]
        formula = Formula(tuple(literals.names.index(name) for name in found.literals), found.ops, found.negated)
        assert found.scores.fit_iou == pytest.approx(want_iou, abs=1e-6)
        np.testing.assert_array_equal(formula.holds(literals.values[fit]), want_holds)


def test_no_literal_crosses_an_episode_boundary() -> None:
    episodes = np.repeat(np.arange(5), 20)
    step = np.tile(np.arange(20), 5)
    first = step == 0  # the event happens at every episode's first step only
    literals = build_literals({"start": first, "other": step % 2 == 0}, {}, ["start"], episodes,
                              np.ones(100, bool), shifts=(1, 3))
    column = dict(zip(literals.names, literals.values.T))
    np.testing.assert_array_equal(column["start 1 step ago"], step == 1)
    np.testing.assert_array_equal(column["start 3 steps ago"], step == 3)
    # Looking ahead, the next episode's start is never seen from this one.
    assert "start in 1 step" not in column and "start within next 3 steps" not in column
    np.testing.assert_array_equal(shifted(first, episodes, 1), np.zeros(100, bool))


def test_shift_does_not_join_two_runs_of_one_id() -> None:
    episodes = np.array([0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(shifted(np.array([0, 1, 0, 0, 0, 0], bool), episodes, 3),
                                  np.zeros(6, bool))
    np.testing.assert_array_equal(shifted(np.array([0, 0, 0, 0, 1, 0], bool), episodes, -1),
                                  [0, 0, 0, 0, 0, 1])


def test_formula_text_brackets_mixed_operations() -> None:
    names = ("A", "B", "dot in 3 steps")
    assert Formula((0, 1, 2), ("OR", "AND NOT")).text(names) == "(A OR B) AND NOT (dot in 3 steps)"
    assert Formula((2,), negated=True).text(names) == "NOT (dot in 3 steps)"
    assert Formula((0, 1, 2), ("AND", "AND")).text(names) == "A AND B AND (dot in 3 steps)"


def test_rule_and_summary_count_every_live_unit() -> None:
    episodes, facts, fit, held = _game()
    rng = np.random.default_rng(5)
    n = N_EPISODES * LENGTH
    literals = build_literals(facts, {}, ["E"], episodes, fit)
    units = np.stack([facts["A"] & ~facts["B"], rng.random(n) < 0.05, ~facts["C"]], 1).astype(np.float32)
    found = explain_units(units, literals, held)
    assert [e is not None and e.explained for e in found.units] == [True, False, False]
    summary = found.summary()
    # The unit on ~90% of states is live but never searched: unexplained, F1 0 in the mean.
    assert summary.n_units == 3 and summary.n_explained == 1
    assert summary.mean_f1 == pytest.approx((1.0 + found.units[1].scores.f1 + 0.0) / 3)
    assert found.summary(np.array([True, False, False])).explained_fraction == 1.0


def test_game_literals_threshold_continuous_facts_and_shift_binary_ones() -> None:
    rng = np.random.default_rng(2)
    n = 600
    decoded = {"dead": rng.random(n) < 0.1, "nearest_ghost_distance": rng.uniform(0, 150, n),
               "pacman_region": rng.integers(0, 9, n), "pacman_tile": rng.integers(0, 256, n)}
    names = game_literals(decoded, "ms_pacman", np.repeat(np.arange(6), 100), np.ones(n, bool)).names
    assert any(name.startswith("nearest_ghost_distance <= ") for name in names)
    assert not any(name.startswith(("nearest_ghost_distance=", "pacman_tile")) for name in names)
    assert {"dead", "dead 3 steps ago", "dead in 10 steps", "dead within next 30 steps"} <= set(names)
    assert any(name.startswith("pacman_region=") for name in names)
