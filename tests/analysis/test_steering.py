import numpy as np
import pytest
import torch

from rlsae.analysis.steering import action_distribution, steering_hook, total_variation
from rlsae.common.errors import UserError


class TinySAE(torch.nn.Module):
    def __init__(self, d_in: int = 6, d_sae: int = 4):
        super().__init__()
        self.W_enc = torch.nn.Parameter(torch.randn(d_in, d_sae))
        self.W_dec = torch.nn.Parameter(torch.nn.functional.normalize(torch.randn(d_sae, d_in), dim=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.W_enc)


def test_clamp_sets_the_feature_when_directions_are_orthogonal() -> None:
    sae = TinySAE()
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(6, 4))
        sae.W_dec.copy_(q.T)
        sae.W_enc.copy_(q)  # encoder = decoder transpose: f_i reads exactly the i-th direction
    x = (torch.rand(3, 4) + 0.1) @ q.T  # every feature active, so f_i(x) is its coefficient
    clamped = steering_hook(sae, 2, "clamp", 5.0)(x)
    assert torch.allclose(sae.encode(clamped)[:, 2], torch.full((3,), 5.0), atol=1e-5)
    assert torch.allclose(sae.encode(steering_hook(sae, 2, "ablate")(x))[:, 2], torch.zeros(3), atol=1e-5)
    # other features are untouched
    assert torch.allclose(sae.encode(clamped)[:, [0, 1, 3]], sae.encode(x)[:, [0, 1, 3]], atol=1e-5)


def test_add_moves_along_the_decoder_direction() -> None:
    sae, x = TinySAE(), torch.randn(2, 6)
    torch.testing.assert_close(steering_hook(sae, 1, "add", 3.0)(x) - x, 3.0 * sae.W_dec[1].detach().expand(2, 6))


def test_bad_mode_or_feature_is_a_user_error() -> None:
    with pytest.raises(UserError, match="mode"):
        steering_hook(TinySAE(), 0, "boost")
    with pytest.raises(UserError, match="out of range"):
        steering_hook(TinySAE(), 9, "clamp")


def test_total_variation_of_action_frequencies() -> None:
    p = action_distribution(np.array([0, 0, 1, 2]), 3)
    q = action_distribution(np.array([1, 1, 1, 2]), 3)
    assert total_variation(p, q) == pytest.approx(0.5) and total_variation(p, p) == 0.0
