"""Found again (analysis/seed_match.py) on SAEs whose shared features are planted."""

import numpy as np
import torch

from rlsae.analysis.seed_match import FOUND_COSINE, seed_match
from rlsae.sae import build_sae


def test_two_saes_sharing_half_their_decoder_rows_find_exactly_that_half():
    torch.manual_seed(0)
    a, b = build_sae("topk", 64, 128, k=8), build_sae("topk", 64, 128, k=8)
    shared = np.random.default_rng(0).permutation(128)[:64]
    order = np.random.default_rng(1).permutation(128)  # B holds them in another order, at another scale
    with torch.no_grad():
        b.W_dec[order[:64]] = 3.0 * a.W_dec[shared]
    match = seed_match(a.W_dec, b.W_dec)
    expected = np.zeros(128, bool)
    expected[shared] = True
    np.testing.assert_array_equal(match.found_again, expected)
    np.testing.assert_array_equal(match.found_again_matched, expected)
    np.testing.assert_array_equal(match.nearest[shared], order[:64])
    np.testing.assert_allclose(match.nearest_cosine[shared], 1.0, atol=1e-6)
    assert match.nearest_cosine[~expected].max() < FOUND_COSINE  # random rows in 64 dimensions stay apart
    assert match.share() == 0.5
    assert match.share(expected) == 1.0 and match.share(~expected) == 0.0


def test_two_features_the_other_seed_merges_are_both_found_by_the_nearest_match_not_one_to_one():
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.standard_normal((32, 32)))[0].T
    b = basis[:4]  # B: four orthonormal features
    # A: B's feature 0 split in two (cosine 0.95 each), and B's features 2 and 3 exactly.
    a = np.stack([b[0] + 0.33 * basis[10], b[0] - 0.33 * basis[10], b[2], b[3]])
    match = seed_match(a, b)
    np.testing.assert_array_equal(match.found_again, [True, True, True, True])
    np.testing.assert_array_equal(match.nearest, [0, 0, 2, 3])
    # One to one, B's feature 0 goes to one half; the other gets B's feature 1, orthogonal to it.
    assert sorted(match.matched[:2].tolist()) == [0, 1]
    assert np.nanmin(match.matched_cosine[:2]) < 0.1
    assert match.found_again_matched[:2].sum() == 1 and match.found_again_matched[2:].all()
    assert match.share(one_to_one=True) == 0.75


def test_a_smaller_other_sae_leaves_some_features_unmatched_one_to_one():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 16))
    match = seed_match(a, a[:4])
    np.testing.assert_array_equal(match.found_again, [True] * 4 + [False] * 2)
    assert (match.matched[4:] == -1).all() and np.isnan(match.matched_cosine[4:]).all()
    assert not match.found_again_matched[4:].any()
