"""Regions named by labels and related units, on planted data where the answer is known."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rlsae.browser.context import REGION_PAD, cofiring, regions, related_units


def test_a_fact_names_a_region_only_where_it_holds_on_a_small_box() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 160, 20_000), rng.uniform(0, 172, 20_000)
    facts = {"bottom_left": (x < 53) & (y > 115), "left_third": x < 53,
             "anywhere": rng.random(20_000) < 0.5, "rare": np.arange(20_000) < 5,
             "wide": (x > 5) & (y > 5)}  # holds almost everywhere: its box is the whole playfield
    found = regions(x, y, facts, (160, 172))
    assert set(found) == {"bottom_left", "left_third"}
    x0, y0, x1, y1 = np.asarray(found["bottom_left"]) + [REGION_PAD, REGION_PAD, -REGION_PAD, -REGION_PAD]
    assert x0 < 3 and 48 < x1 <= 53 and 115 <= y0 < 119 and y1 > 168


def test_related_units_find_the_planted_partners() -> None:
    rng = np.random.default_rng(1)
    n, d, d_in = 4000, 6, 8
    fires = rng.random((n, d)) < 0.05
    fires[:, 1] = fires[:, 0]            # 1 always fires with 0
    fires[:, 2] = fires[:, 0] & ~fires[:, 0]  # 2 never fires
    codes = sp.csr_matrix(fires * rng.uniform(0.5, 2.0, (n, d)))
    decoder = rng.normal(size=(d, d_in))
    decoder[3] = decoder[0] + 0.01 * rng.normal(size=d_in)  # 3 writes almost what 0 writes
    encoder = np.zeros((d_in, d))
    encoder[5, 0], encoder[2, 0] = -3.0, 1.0  # 0 reads neuron 5 most (negatively), then neuron 2
    lists = related_units(cofiring(codes), decoder, encoder, n=3)
    together = lists[0]["fires with (share of its firings)"]
    assert together[0].unit == 1 and together[0].value == 1.0 and all(r.unit != 2 for r in together)
    assert lists[0]["nearest by decoder (cosine)"][0].unit == 3
    assert lists[0]["nearest by decoder (cosine)"][0].value > 0.99
    reads = lists[0]["reads neurons (encoder weight)"]
    assert [(r.unit, r.value) for r in reads] == [(5, -3.0), (2, 1.0)]
    assert lists[2] == {}  # never fires: nothing to relate
