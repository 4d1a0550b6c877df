import numpy as np
import pytest

from rlsae.analysis.explain import ExplainConfig, explain_units
from rlsae.analysis.labels import split_by_episode
from rlsae.analysis.literals import Literals, build_literals, game_literals
from rlsae.analysis.place import Places, best_regions, place_fields, player_places

N_EPISODES, LENGTH, GRID = 40, 150, 8


def _world(seed: int = 0) -> tuple[np.ndarray, Literals, np.ndarray]:
    """A player on random tiles of an 8x8 grid, with facts A and B; (tiles, literals, held)."""
    rng = np.random.default_rng(seed)
    n = N_EPISODES * LENGTH
    episodes = np.repeat(np.arange(N_EPISODES), LENGTH)
    tiles = rng.integers(0, GRID * GRID, n)
    fit, held = split_by_episode(episodes, 0.3, seed=0)
    literals = build_literals({"A": rng.random(n) < 0.3, "B": rng.random(n) < 0.2}, {}, [], episodes, fit)
    places = Places(tiles, (GRID, GRID), (160, 172), "Pac-Man")
    return tiles, Literals(literals.names, literals.values, places), held


FIELD = np.array([9, 10, 17, 18, 26])  # a small blob of 5 tiles


def test_a_place_cell_is_found_by_its_place_literal() -> None:
    tiles, literals, held = _world()
    unit = np.isin(tiles, FIELD).astype(np.float32)[:, None]
    found = explain_units(unit, literals, held).units[0]
    assert found.formula == "Pac-Man in the unit's place field (5 tiles)"
    assert found.place_tiles == tuple(FIELD) and found.scores.f1 == 1.0 and found.explained
    # Without the place literal nothing the facts say comes close.
    assert not explain_units(unit, literals, held, config=ExplainConfig(place=False)).units[0].explained


def test_place_and_a_fact_combine() -> None:
    tiles, literals, held = _world()
    a = literals.values[:, literals.names.index("A")]
    found = explain_units((np.isin(tiles, FIELD) & a).astype(np.float32)[:, None], literals, held).units[0]
    assert set(found.literals) == {"A", "Pac-Man in the unit's place field (5 tiles)"} and found.ops == ("AND",)
    assert found.scores.f1 == 1.0


def test_a_random_unit_gets_no_place() -> None:
    _, literals, held = _world()
    unit = (np.random.default_rng(9).random(len(held)) < 0.05).astype(np.float32)[:, None]
    found = explain_units(unit, literals, held).units[0]
    assert not found.explained and found.scores.f1 < 0.3


@pytest.mark.parametrize("seed", [1, 2])
def test_pruning_is_exact_with_place_literals(seed: int) -> None:
    tiles, literals, held = _world(seed)
    rng = np.random.default_rng(seed)
    a, b = (literals.values[:, literals.names.index(name)] for name in "AB")
    planted = np.stack([(np.isin(tiles, FIELD) | b) & ~a, np.isin(tiles, FIELD[:3]) | (a & b)], 1)
    planted ^= rng.random(planted.shape) < 0.05
    runs = [explain_units(planted.astype(np.float32), literals, held, config=ExplainConfig(prune=prune))
            for prune in (True, False)]
    assert runs[0].pruned > 0
    for pruned, full in zip(*(run.units for run in runs)):
        assert (pruned.formula, pruned.scores) == (full.formula, full.scores)


def test_best_region_is_the_best_prefix_by_rate() -> None:
    fires = np.array([[0.0, 8, 1, 4], [5, 0, 0, 0]])
    occupancy = np.array([10.0, 10, 10, 5])
    n_fires = fires.sum(1)
    # Unit 0 by IoU (beta 1): tiles 1 and 3 (rate 0.8), 12 / (13 + 15 - 12); tile 2 (0.1) only lowers it.
    iou, order, take = best_regions(fires, occupancy, n_fires, max_states=30, beta=1.0)
    assert set(order[0, :take[0]]) == {1, 3} and iou[0] == pytest.approx(12 / 16)
    assert take[1] == 1 and order[1, 0] == 0 and iou[1] == pytest.approx(0.5)
    # Every region of unit 0 by brute force: the prefix is the best F-beta of all 15.
    def f_beta(region: list[int], beta: float) -> float:
        inside = fires[0, region].sum()
        return (1 + beta ** 2) * inside / (beta ** 2 * n_fires[0] + occupancy[region].sum())

    regions = [[t for t in range(4) if m >> t & 1] for m in range(1, 16)]
    for beta in (1.0, 2.0, 4.0):
        _, order, take = best_regions(fires, occupancy, n_fires, max_states=30, beta=beta)
        assert f_beta(list(order[0, :take[0]]), beta) == pytest.approx(max(f_beta(r, beta) for r in regions))
    # A region over max_states is never chosen: tile 1 alone, or none at all.
    assert best_regions(fires, occupancy, n_fires, max_states=12, beta=1.0)[0][0] == pytest.approx(8 / 15)
    assert best_regions(fires, occupancy, n_fires, max_states=5, beta=1.0)[0][0] == -1


def test_place_fields_measure_concentration_in_bits() -> None:
    tiles, literals, held = _world()
    rng = np.random.default_rng(4)
    units = np.stack([(tiles == 9) * 2.0, rng.random(len(tiles)) < 0.3, np.isin(tiles, FIELD)], 1)
    fields = place_fields(units.astype(np.float32), literals.places, held)
    share = fields.occupancy / fields.occupancy.sum()
    # A unit on one tile only carries log2(1 / p) bits; one that ignores place about none.
    assert fields.information[0] == pytest.approx(np.log2(1 / share[9]))
    assert fields.information[1] < 0.1 < np.log2(1 / share[FIELD].sum()) == pytest.approx(fields.information[2])
    assert fields.mean.shape == (3, GRID * GRID) and fields.mean[0, 9] == 2.0 and fields.rate[0, 9] == 1.0
    assert np.all(fields.rate[0, np.arange(GRID * GRID) != 9] == 0)


def test_player_places_follow_the_game_spec() -> None:
    rng = np.random.default_rng(2)
    n = 500
    x, y = rng.uniform(0, 160, n), rng.uniform(0, 171, n)
    places = player_places({"pacman_x": x, "pacman_y": y}, "ms_pacman")
    assert places.grid == (16, 16) and places.player == "Pac-Man"
    width, height = places.playfield
    np.testing.assert_array_equal(places.tiles, (y * 16 // height) * 16 + x * 16 // width)
    decoded = {"dead": rng.random(n) < 0.1, "pacman_x": x, "pacman_y": y}
    literals = game_literals(decoded, "ms_pacman", np.repeat(np.arange(5), 100), np.ones(n, bool))
    np.testing.assert_array_equal(literals.places.tiles, places.tiles)
    # Pong's player moves along one axis only (its x is a constant): one row of tiles.
    pong = player_places({"paddle_y": rng.uniform(0, 200, n)}, "pong")
    assert pong is not None and pong.grid[0] == 1 and pong.tiles.max() < 16
    assert player_places({"paddle_y": y}, "ms_pacman") is None  # its position facts were not decoded
    assert player_places({"lives": np.ones(n)}, "space_invaders") is None  # a spec without a position
