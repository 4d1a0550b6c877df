"""`rlsae interpret` on a small real recording: every stored number can be recomputed from its inputs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rlsae.analysis.explain import ExplainRule, explain_units
from rlsae.analysis.explain_summary import state_literals
from rlsae.analysis.interpret import InterpretConfig, interpret
from rlsae.analysis.labels import LabelRule, best_unit, label_units, split_by_episode
from rlsae.analysis.place import place_fields, player_places
from rlsae.analysis.results import InterpretResult, load_result, read_manifest
from rlsae.analysis.seed_match import FOUND_COSINE
from rlsae.analysis.states import labelling_facts, select_states, state_facts
from rlsae.analysis.summary import Density, InterpretSummary
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.envs.facts import decode_facts
from rlsae.record import Recording
from rlsae.sae import build_sae, load_sae, save_sae


def test_stored_statistics_match_the_sae_on_the_recorded_states(small_pipeline: dict[str, Path]) -> None:
    result = load_result(small_pipeline["interpret"])
    rec = Recording.open(small_pipeline["recording"])
    sae = load_sae(small_pipeline["sae"])
    with torch.no_grad():
        f = sae.encode(torch.from_numpy(np.asarray(rec.activations[result.states], np.float32))).numpy()
    np.testing.assert_allclose(result.density, (f > 0).mean(0))
    np.testing.assert_allclose(result.max_activation, f.max(0), rtol=1e-6)
    np.testing.assert_allclose(result.action_effect, sae.W_dec.detach().numpy() @ rec.head_weight.T, atol=1e-5)
    assert result.alive.sum() == result.summary.n_live > 0
    position = {int(s): i for i, s in enumerate(result.states)}
    for feature in np.flatnonzero(result.alive)[:10]:
        groups = result.examples(int(feature))
        title, _, top_acts = groups[0]
        assert title == "top activations" and top_acts[0] == pytest.approx(result.max_activation[feature])
        assert np.all(np.diff(top_acts) <= 0)
        for _, states, acts in groups:  # the stored recording index really gives the stored activation
            np.testing.assert_allclose(f[[position[int(s)] for s in states], feature], acts, rtol=1e-6)
        assert result.hist_counts[feature].sum() == (f[:, feature] > 0).sum()
    labeled = [i for i, lab in enumerate(result.label) if lab is not None]
    assert result.summary.features.labels.n_labeled == len(labeled)
    _check_labels(result, f, rec, read_manifest(small_pipeline["interpret"])["config"]["seed"])
    assert 0 < result.summary.neurons.labels.n_units <= 512
    assert set(np.unique(result.cluster[~result.alive])) <= {-1}
    assert len(result.cluster_names) == result.cluster.max() + 1 == result.summary.n_clusters


def _check_labels(result: InterpretResult, f: np.ndarray, rec: Recording, seed: int) -> None:
    """Every stored label score recomputed from the activations, the facts and the held-out split; every
    label passes the rule and every unlabeled unit fails it."""
    facts, _, _ = labelling_facts(rec, result.states)
    assert list(facts) == result.fact_names
    _, held = split_by_episode(rec.episode_ids[result.states], 0.3, seed)  # interpret's own split
    rule = LabelRule()
    assert result.summary.label_rule == str(rule)
    checked = 0
    for unit in np.flatnonzero(result.alive):
        fact = facts[result.label_fact[unit]][held]
        level = result.label_scores.threshold[unit] * f[~held, unit].max()
        on = f[held, unit] > level
        assert result.label_scores.firings[unit] == on.sum()
        if on.sum():
            assert result.label_scores.precision[unit] == pytest.approx(fact[on].mean())
        if on.sum() and fact.sum():
            assert result.label_scores.lift[unit] == pytest.approx(fact[on].mean() / fact.mean())
            assert result.label_scores.recall[unit] == pytest.approx((on & fact).sum() / fact.sum())
            assert result.label_scores.f1[unit] == pytest.approx(2 * (on & fact).sum() / (on.sum() + fact.sum()))
            checked += 1
        at = result.label_scores
        passes = rule.passes(at.precision[unit], at.lift[unit], at.f1[unit], at.firings[unit])
        assert passes == (result.label[unit] is not None)
    assert checked > 10


def test_explanations_are_the_engines_on_interprets_states_and_split(small_pipeline: dict[str, Path]) -> None:
    """Every stored explanation is the search's own on the analysed states and the labels' held-out episodes;
    the verdict is the rule's, and the summary counts the arrays."""
    result = load_result(small_pipeline["interpret"])
    rec = Recording.open(small_pipeline["recording"])
    states = result.states
    seed = read_manifest(small_pipeline["interpret"])["config"]["seed"]
    _, held = split_by_episode(rec.episode_ids[states], 0.3, seed)
    literals = state_literals(rec, states, state_facts(rec, states), held)
    # the shifted literals were built in play order and put back: "F 1 step ago" is F at the previous step
    name = next(n for n in literals.names if n.endswith(" 1 step ago"))
    fact = state_facts(rec, states)[name.removesuffix(" 1 step ago")].astype(bool)
    at = {(int(e), int(t)): i for i, (e, t) in enumerate(zip(rec.episode_ids[states], rec.episode_steps[states]))}
    before = [at.get((int(e), int(t) - 1)) for e, t in zip(rec.episode_ids[states], rec.episode_steps[states])]
    np.testing.assert_array_equal(literals.values[:, literals.names.index(name)],
                                  [j is not None and fact[j] for j in before])
    # the player's tiles came back to interpret's row order with the literals (the place literal and the fields)
    np.testing.assert_array_equal(literals.places.tiles,
                                  player_places(state_facts(rec, states), rec.manifest["game"]).tiles)
    sae = load_sae(small_pipeline["sae"])
    with torch.no_grad():
        f = sae.encode(torch.from_numpy(np.asarray(rec.activations[states], np.float32))).numpy()
    field = place_fields(f, literals.places, held)
    np.testing.assert_allclose(result.place_mean.reshape(len(f[0]), -1), field.mean, rtol=1e-5)
    np.testing.assert_allclose(result.place_information, field.information, rtol=1e-5)
    rule = ExplainRule(min_firings=read_manifest(small_pipeline["interpret"])["config"]["min_firings"])
    assert result.summary.explain_rule == str(rule)
    for units, stored, summary in ((f, result.explanations, result.summary.features.explanations),
                                   (np.asarray(rec.activations[states], np.float32), result.neuron_explanations,
                                    result.summary.neurons.explanations)):
        found = explain_units(units, literals, held, rule)
        assert stored.formula == [None if e is None else e.formula for e in found.units]
        assert sum(x is not None for x in stored.formula) > 5  # enough units searched to mean something
        for e in found.units:
            if e is not None:
                assert asdict(stored.unit(e.unit)) == pytest.approx(asdict(e.scores), rel=1e-6, nan_ok=True)
                assert stored.explained[e.unit] == rule.passes(stored.unit(e.unit))
        assert not stored.explained[[x is None for x in stored.formula]].any()
        assert summary == found.summary()
        assert summary.n_explained == stored.explained[found.live].sum()


def test_states_are_whole_episodes_and_facts_look_ahead_within_them(small_pipeline: dict[str, Path]) -> None:
    rec = Recording.open(small_pipeline["recording"])
    ep = rec.episodes
    assert ep["complete"].sum() >= 2  # the fixture must hold finished games for this test to mean anything
    states = select_states(rec, int(ep["length"][ep["complete"]][0]) + 5)
    first = ep["episode_id"][ep["complete"]][0]
    assert np.array_equal(states[rec.episode_ids[states] == first], np.flatnonzero(rec.episode_ids[:] == first))
    assert len(states) == ep["length"][ep["complete"]][0] + 5  # the next episode is cut to fit

    everything = np.arange(len(rec))
    facts = state_facts(rec, everything)
    one = np.flatnonzero(rec.episode_ids[:] == first)
    want = decode_facts(rec.ram[one], rec.episode_ids[one], rec.lives[one])
    for name in ("pacman_x", "pills_left"):
        np.testing.assert_array_equal(facts[name][one], want[name])
    # decode_facts alone cannot know this episode is complete; state_facts does: its game over is a death
    np.testing.assert_array_equal(facts["dying"][one][:-10], want["dying"][:-10])
    assert facts["dying"][one][-10:].all() and not want["dying"][-1]
    cut = np.flatnonzero(~ep["complete"])
    for episode in ep["episode_id"][cut]:
        rows = np.flatnonzero(rec.episode_ids[:] == episode)
        lives = rec.lives[rows].astype(int)
        if (np.diff(lives) >= 0)[-10:].all():  # no life lost at the cut: its end is not "dying"
            assert not facts["dying"][rows][-1]
    shuffled = np.random.default_rng(0).permutation(everything)  # the order of the states does not matter
    np.testing.assert_array_equal(state_facts(rec, shuffled)["dying"], facts["dying"][shuffled])


def test_cli_prints_the_summary_and_rejects_a_mismatched_sae(small_pipeline: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "interp"
    assert main(["interpret", "--sae", str(small_pipeline["sae"]), "--out", str(out), "--max-states", "300",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "label rule:" in printed and "neuron baseline" in printed and "'Pac-Man is dead'" in printed
    assert "mean best-unit F1" in printed and "dead (never over" in printed
    assert "explain rule:" in printed and "mean held-out explanation F1" in printed
    assert load_result(out).summary.n_states == 300

    save_sae(tmp_path / "wide", build_sae("topk", 256, 8, k=2), metadata={})
    with pytest.raises(UserError, match="does not name its recording"):
        interpret(InterpretConfig(sae=tmp_path / "wide", out=out, progress=False))
    with pytest.raises(UserError, match="256-dim"):
        interpret(InterpretConfig(sae=tmp_path / "wide", recording=small_pipeline["recording"], out=out,
                                  progress=False))
    assert main(["interpret", "--sae", str(tmp_path / "missing")]) == 2


def test_best_unit_ignores_excluded_units_and_other_facts() -> None:
    rng = np.random.default_rng(0)
    n = 6000
    dying, pill = rng.random(n) < 0.05, rng.random(n) < 0.1
    acts = np.stack([dying * 2.0, dying * 1.0 + (rng.random(n) < 0.02), pill * 1.0], 1)
    labels = label_units(acts, {"dying": dying, "pill_top_left": pill, "pill_top_left & dying": pill & dying},
                         np.repeat(np.arange(60), n // 60))
    best = best_unit(labels, ("dying",), np.array([True, True, True]))
    assert best is not None and best.unit == 0 and best.fact == "dying" and best.scores.f1 == 1.0
    assert best_unit(labels, ("dying",), np.array([False, True, True])).unit == 1
    assert best_unit(labels, ("ghost",), np.ones(3, bool)) is None
    # A conjunction counts only when every part matches: "pill & dying" is a dying detector, not a pill one.
    assert best_unit(labels, ("pill_",), np.ones(3, bool)).fact == "pill_top_left"


def test_dead_needs_silence_on_both_the_analysed_and_the_sae_evaluation_states(tmp_path: Path) -> None:
    from rlsae.analysis.interpret import _density_summary

    sae = build_sae("topk", 8, 4, k=1)
    # Features 0 and 1 never fired on the SAE's 5,000 evaluation states (log10 -10 in SAELens' file);
    # feature 1 fires on the analysed states, so only feature 0 is dead if it is silent there too.
    save_sae(tmp_path / "sae", sae, metadata={"rlsae": {"heldout": {"states": 5000}}},
             log10_density=torch.tensor([-10.0, -10.0, -2.0, -1.0]))
    features = np.zeros((300, 4), np.float32)
    features[5, 1] = features[7, 3] = 1.0
    got = _density_summary(features, tmp_path / "sae")
    assert got == Density(analysed_states=300, never_fire_analysed=2, sae_sparsity_states=5000,
                          never_fire_sae_sparsity=2, dead=1, dead_over_states=5300)
    save_sae(tmp_path / "bare", sae, metadata={})  # no sparsity file: the analysed states alone
    assert _density_summary(features, tmp_path / "bare").dead == 2


def test_the_same_sae_as_the_other_seed_finds_every_live_feature_again_as_itself(
        small_pipeline: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "interp"
    assert main(["interpret", "--sae", str(small_pipeline["sae"]), "--other-sae", str(small_pipeline["sae"]),
                 "--out", str(out), "--max-states", "300", "--no-progress"]) == 0
    assert "found again: " in capsys.readouterr().out
    result = load_result(out)
    alive = result.alive
    np.testing.assert_array_equal(result.other_seed_nearest[alive], np.flatnonzero(alive))
    np.testing.assert_array_equal(result.other_seed_matched[alive], np.flatnonzero(alive))
    np.testing.assert_allclose(result.other_seed_cosine[alive], 1.0, atol=1e-5)
    found = result.summary.found_again
    assert found is not None and found.n_found == found.n_live == result.summary.n_live
    assert found.found_fraction == found.one_to_one_fraction == 1.0
    assert found.median_nearest_cosine == pytest.approx(1.0, abs=1e-5) and found.threshold == FOUND_COSINE
    # without --other-sae nothing of it is stored
    plain = load_result(small_pipeline["interpret"])
    assert plain.summary.found_again is None and plain.other_seed_cosine is None


def test_a_shuffled_half_reversed_other_seed_is_matched_feature_by_feature(
        other_seed_pipeline: dict[str, Any]) -> None:
    result = load_result(other_seed_pipeline["interpret"])
    alive, found, at = result.alive, other_seed_pipeline["found"], other_seed_pipeline["at"]
    assert (alive & found).any() and (alive & ~found).any()
    np.testing.assert_array_equal(result.other_seed_nearest[found], at[found])
    np.testing.assert_allclose(result.other_seed_cosine[found], 1.0, atol=1e-5)
    assert result.other_seed_cosine[~found].max() < FOUND_COSINE  # its own row reversed: cosine -1
    s = result.summary.found_again
    assert s is not None and s.other_sae == str(other_seed_pipeline["other"])
    assert s.n_found == int((alive & found).sum()) and s.n_live == int(alive.sum())
    assert s.found_fraction == pytest.approx((alive & found).sum() / alive.sum())
    assert s.median_nearest_cosine == pytest.approx(float(np.median(result.other_seed_cosine[alive])))
    # the summary round-trips through summary.json, and one written before found_again existed still loads
    data = json.loads((other_seed_pipeline["interpret"] / "summary.json").read_text())
    assert InterpretSummary.from_json(data, "s").found_again == s
    data.pop("found_again")
    assert InterpretSummary.from_json(data, "s").found_again is None


def test_an_other_seed_of_another_shape_layer_or_nowhere_is_a_one_line_error(
        small_pipeline: dict[str, Path], tmp_path: Path) -> None:
    save_sae(tmp_path / "wider", build_sae("topk", 512, 128, k=4), metadata={})
    save_sae(tmp_path / "elsewhere", build_sae("topk", 512, 64, k=4), metadata={"hook_name": "conv3"})
    for other, message in ((tmp_path / "wider", "same shape"), (tmp_path / "elsewhere", "same layer"),
                           (tmp_path / "missing", "not a folder")):
        with pytest.raises(UserError, match=message):
            interpret(InterpretConfig(sae=small_pipeline["sae"], other_sae=other, out=tmp_path / "out",
                                      progress=False))
    assert main(["interpret", "--sae", str(small_pipeline["sae"]), "--other-sae", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
