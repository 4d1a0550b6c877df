"""The talk's two features found on planted units, and the dead-feature count over two sample sets."""

from __future__ import annotations

import numpy as np

from rlsae.analysis.labels import label_units
from rlsae.analysis.talk import find_talk_features, format_talk_features
from rlsae.envs.games import game_spec


def test_planted_talk_features_are_found_with_their_arrows() -> None:
    rng = np.random.default_rng(0)
    n = 12_000
    dead = np.zeros(n, bool)
    for start in rng.choice(n - 20, 30, replace=False):
        dead[start:start + 19] = True
    heading = ~dead & (rng.random(n) < 0.05)
    facts = {"dead": dead, "dying": np.roll(dead, -5) | dead, "heading_to_pill_bottom_left": heading,
             "heading_to_pill_top_left": ~dead & ~heading & (rng.random(n) < 0.05)}
    acts = np.stack([dead * rng.uniform(1, 2, n),  # the death animation, exactly
                     (heading & (rng.random(n) < 0.6)) * 1.0,  # a precise part of heading bottom-left
                     rng.uniform(0, 1, n)], 1)  # noise
    labels = label_units(acts, facts, np.repeat(np.arange(120), n // 120))
    effect = np.zeros((3, 9))
    effect[1, 3], effect[1, 1], effect[1, 4] = 2.0, 1.0, -3.0  # pushes LEFT, then UP; against DOWN
    spec = game_spec("ms_pacman")
    talk = find_talk_features(labels, np.ones(3, bool), effect, {"dead": "Pac-Man is dead"}, spec)
    dead_unit, heading_unit = talk
    assert dead_unit.key == "dead" and dead_unit.best.unit == 0 and dead_unit.found
    assert dead_unit.best.scores.precision == 1.0
    assert heading_unit.key == "heading_to_pill" and heading_unit.best.unit == 1
    assert heading_unit.best.fact == "heading_to_pill_bottom_left" and heading_unit.found
    assert heading_unit.best.scores.precision == 1.0 and 0.4 < heading_unit.best.scores.recall < 0.8
    assert heading_unit.encourages == ["LEFT", "UP"] and heading_unit.discourages[0] == "DOWN"
    text = format_talk_features(talk)
    assert "'Pac-Man is dead': feature 0 - Pac-Man is dead" in text and text.count(" - found") == 2
    # Without the detectors only noise is left: nothing is found, and the line says what was needed.
    missing = find_talk_features(labels, np.array([False, False, True]), None, {}, spec)
    assert [t.key for t in missing] == ["dead", "heading_to_pill"] and not any(t.found for t in missing)
    assert "NOT found (needs held-out precision >= 0.9 at recall >= 0.8)" in format_talk_features(missing)
    # Another game has no such facts: nothing is reported, and no Pac-Man word is printed.
    other = label_units(acts, {"ball_in_play": dead}, np.repeat(np.arange(120), n // 120))
    assert find_talk_features(other, np.ones(3, bool), effect, {}, spec) == [] and format_talk_features([]) == ""
    assert find_talk_features(labels, np.ones(3, bool), effect, {}, game_spec("pong")) == []
