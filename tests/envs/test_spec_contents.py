"""What each game spec declares is consistent with the game: its action names are ALE's, its talk
features and steering goals name facts it decodes."""

from __future__ import annotations

import pytest

from rlsae.envs.atari import action_names
from rlsae.envs.conjunctions import SEPARATOR
from rlsae.envs.facts import binary_descriptions
from rlsae.envs.games import GAMES, game_spec


@pytest.mark.parametrize("game", list(GAMES))
def test_spec_knowledge_names_what_the_game_has(game: str) -> None:
    spec = GAMES[game]
    assert spec.actions == action_names(game)  # the spec's own list, checked against ALE's minimal set
    names = binary_descriptions(game=game)
    for feature in spec.talk_features:
        assert any(name.startswith(feature.prefixes) for name in names), feature
    assert spec.steering_goals, "every spec'd game declares a few steering goals"
    assert len({goal.name for goal in spec.steering_goals}) == len(spec.steering_goals)
    for goal in spec.steering_goals:
        assert goal.horizon > 0 and goal.holds in ("once", "throughout")
        for part in goal.expression.split(SEPARATOR):
            assert part.removeprefix("not ") in names, (goal, part)
    # the demo benchmarks a few of them, by name
    assert spec.demo_steering_goals and set(spec.demo_steering_goals) <= {g.name for g in spec.steering_goals}


def test_a_game_without_a_spec_still_has_its_actions_and_frame() -> None:
    spec = game_spec("space_invaders")
    assert spec.action_names == action_names("space_invaders") and spec.frame_size == (160, 210)
    assert spec.talk_features == () and spec.steering_goals == ()
