import torch

from rlsae.agents.qnet import QNetwork
from rlsae.common.hooks import capture, hooked


def _obs(batch: int = 3) -> torch.Tensor:
    return torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)


def test_capture_reads_the_hidden_layer_that_feeds_the_head() -> None:
    model, obs = QNetwork(9), _obs()
    cache: dict[str, torch.Tensor] = {}
    with hooked(model, {"hidden": capture(cache)}):
        q = model(obs)
    hidden = cache["hidden"]
    assert hidden.shape == (3, 512) and (hidden >= 0).all()
    torch.testing.assert_close(model.head(hidden), q)


def test_replace_changes_the_output_and_hooks_are_removed_after() -> None:
    model, obs = QNetwork(9), _obs()
    clean = model(obs)
    with hooked(model, {"hidden": lambda act: torch.zeros_like(act)}):
        zeroed = model(obs)
    torch.testing.assert_close(zeroed, model.head.bias.expand_as(zeroed))
    torch.testing.assert_close(model(obs), clean)


def test_edit_adds_a_direction_exactly_through_the_linear_head() -> None:
    model, obs = QNetwork(9), _obs()
    direction = torch.randn(512)
    with torch.no_grad():
        clean = model(obs)
        with hooked(model, {"hidden": lambda act: act + 2.0 * direction}):
            steered = model(obs)
    expected = clean + 2.0 * model.head.weight @ direction
    torch.testing.assert_close(steered, expected, rtol=1e-4, atol=1e-4)


def test_unknown_layer_is_a_user_error_listing_layers() -> None:
    import pytest

    from rlsae.common.errors import UserError

    with pytest.raises(UserError, match="hidden"), hooked(QNetwork(9), {"nope": lambda a: None}):
        pass
