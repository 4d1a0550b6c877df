"""Game specs, one registry keyed by the ALE ROM id every manifest stores.

    spec = game_spec("ALE/Pong-v5")      # any of ALE's spellings; an unknown game is a UserError
    spec.facts, spec.decode, spec.position, spec.headlines, spec.player, action_names(spec.game)

Ms. Pac-Man, Breakout and Pong have specs; any other ALE game gets a generic one: no RAM facts, only
the facts every game shares (a life lost soon, the agent's action), so everything runs and no feature
is labeled from game facts. Adding a game is adding a module with a ``SPEC`` and listing it here.
"""

from __future__ import annotations

from rlsae.envs.atari import action_names, check_game
from rlsae.envs.games import breakout, ms_pacman, pong
from rlsae.envs.games.spec import Fact, GameSpec, Headline, dying_fact

GAMES: dict[str, GameSpec] = {spec.game: spec for spec in (ms_pacman.SPEC, breakout.SPEC, pong.SPEC)}


def game_spec(game: str) -> GameSpec:
    """The spec of ``game`` (any ALE spelling); a generic one for an ALE game without a spec."""
    rom = check_game(game)
    if rom in GAMES:
        return GAMES[rom]
    return GameSpec(game=rom, title=rom.replace("_", " ").title(), player="the player",
                    facts={"lives": Fact("lives", "continuous", "lives left (as ALE's lives())"),
                           "dying": dying_fact()},
                    conjunction_groups=(("dying",),),
                    headlines=(Headline("best_dying", "life lost soon", ("dying",)),))


def no_facts_note(spec: GameSpec) -> str:
    """One line saying what a game without RAM facts gets."""
    return (f"no RAM facts are known for '{spec.game}' (specs exist for {', '.join(GAMES)}): features are "
            "scored only against a life lost soon and the agent's action; add a spec in rlsae/envs/games/")


__all__ = ["GAMES", "Fact", "GameSpec", "Headline", "action_names", "game_spec", "no_facts_note"]
