from pathlib import Path

import torch

from rlsae.agents.checkpoint import load_agent
from rlsae.common.hooks import hooked
from rlsae.sae.fidelity import constant, game_fidelity, recovered, splice


class Identity(torch.nn.Module):
    """A perfect 'SAE': its reconstruction is the input."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return f


def test_recovered_fraction() -> None:
    assert recovered(spliced=900, clean=1000, ablated=200) == 0.875


def test_a_perfect_reconstruction_plays_exactly_like_the_clean_agent(random_agent: Path) -> None:
    model, _ = load_agent(random_agent)
    result = game_fidelity(model, "hidden", Identity(), torch.zeros(512), episodes=2, num_envs=2,
                           epsilon=0.0, progress=False)
    assert result["score_spliced"] == result["score_clean"] and result["score_ratio"] == 1.0


def test_ablation_and_splice_hooks(random_agent: Path) -> None:
    model, _ = load_agent(random_agent)
    obs = torch.randint(0, 255, (3, 4, 84, 84), dtype=torch.uint8)
    value = torch.rand(512)
    with torch.no_grad():
        clean = model(obs)
        with hooked(model, {"hidden": constant(value)}):
            held = model(obs)
        with hooked(model, {"hidden": splice(Identity())}):
            spliced = model(obs)
    torch.testing.assert_close(held, model.head(value).expand(3, -1))
    torch.testing.assert_close(spliced, clean)
    assert not torch.allclose(held, clean)
