"""Offline SAE metrics: definitions checked on cases with known answers."""

import pytest
import torch

from rlsae.sae import build_sae
from rlsae.sae.metrics import action_metrics, evaluate_reconstruction, fraction_unexplained


def test_fvu_is_centred_on_the_mean() -> None:
    x = torch.randn(500, 8) + 100.0  # a large offset must not flatter the score (SAELens' old bug)
    assert fraction_unexplained(x, x) == 0.0
    assert fraction_unexplained(x, x.mean(0).expand_as(x)) == pytest.approx(1.0)
    assert fraction_unexplained(x, torch.zeros_like(x)) > 1000


def test_action_metrics_on_a_known_head() -> None:
    weight, bias = torch.eye(3), torch.zeros(3)
    x = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.9], [1.0, 0.0, 5.0], [0.0, 4.0, 0.0]])
    perfect = action_metrics(x, x, weight, bias)
    assert perfect["action_agreement"] == 1.0 and perfect["regret"] == 0.0 and perfect["q_rel_error"] == 0.0
    swapped = x.clone()
    swapped[1] = torch.tensor([0.0, 1.9, 2.0])  # a small-gap state flips to its second-best action
    m = action_metrics(x, swapped, weight, bias)
    assert m["action_agreement"] == 0.75 and m["action_agreement_large_gap"] == 1.0
    q_range = torch.tensor([3.0, 2.0, 5.0, 4.0]).mean()
    assert m["regret"] == pytest.approx(100 * (0.1 / 4) / q_range)
    shift_all = action_metrics(x, x + 1.0, weight, bias)  # the same shift on every action: A unchanged
    assert shift_all["advantage_rel_error"] == pytest.approx(0.0, abs=1e-9) and shift_all["q_rel_error"] > 0


def test_dead_and_l0_counts() -> None:
    sae = build_sae("topk", 4, 16, k=2)
    with torch.no_grad():
        sae.b_enc[8:] = -1e6  # half the latents can never fire
    m = evaluate_reconstruction(sae, torch.randn(300, 4))
    assert m["dead_fraction"] >= 0.5 and m["l0"] <= 2 and m["density"].shape == (16,)
