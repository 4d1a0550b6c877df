import numpy as np

from rlsae.envs.conjunctions import conjunction_description, with_conjunctions
from rlsae.envs.games.ms_pacman import CONJUNCTION_GROUPS


def test_pairs_cross_groups_and_skip_rare_or_redundant_ones() -> None:
    n = 1000
    region = np.arange(n) % 4  # two regions of the 3x3 grid, alternating
    facts = {
        "pacman_region=left": region < 2,
        "pacman_region=right": region >= 2,
        "pacman_cell=0_0": region == 0,  # same group as the regions: never paired with them
        "pacman_facing=up": region % 2 == 0,
        "pacman_facing=down": np.arange(n) < 3,  # on 0.3% of states: pairs with it are rarer still
        "dying": region == 0,  # inside "left" and "up": each pair with it is just "dying" again
        "score=0": np.ones(n, bool),  # not in any conjunction group
    }
    out, text = with_conjunctions(facts, {"pacman_region=left": "Pac-Man is in the left region",
                                          "pacman_facing=up": "Pac-Man faces up"}, CONJUNCTION_GROUPS, min_rate=0.002)
    added = set(out) - set(facts)
    assert added == {"pacman_region=left & pacman_facing=up", "pacman_region=right & pacman_facing=up",
                     "pacman_region=left & pacman_facing=down"}  # 3 states: the floor is 2
    np.testing.assert_array_equal(out["pacman_region=right & pacman_facing=up"], region == 2)
    assert text["pacman_region=left & pacman_facing=up"] == "Pac-Man is in the left region and faces up"
    assert text["pacman_region=right & pacman_facing=up"] == "pacman_region=right and Pac-Man faces up"
    strict, _ = with_conjunctions(facts, {}, CONJUNCTION_GROUPS, min_rate=0.004)
    assert "pacman_region=left & pacman_facing=down" not in strict


def test_descriptions_say_a_shared_subject_once() -> None:
    assert (conjunction_description("nearest ghost is within 10 px", "nearest ghost is above Pac-Man")
            == "nearest ghost is within 10 px and above Pac-Man")
    assert (conjunction_description("Pac-Man faces left", "a life is lost within 10 steps")
            == "Pac-Man faces left and a life is lost within 10 steps")
