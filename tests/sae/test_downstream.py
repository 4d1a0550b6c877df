"""Downstream-aware training (issue 24): a loss on what the agent's head reads, and fine-tuning a trained SAE.

The planted data (rlsae.sae.synthetic.quiet_decision) has a known downstream answer: a head that reads
one quiet direction, a tiny share of the variance, beside loud features in superposition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from rlsae.common.errors import UserError
from rlsae.config import to_dict
from rlsae.sae.architectures import ARCHITECTURES
from rlsae.sae.io import load_sae
from rlsae.sae.metrics import evaluate_reconstruction
from rlsae.sae.synthetic import quiet_decision
from rlsae.sae.train import Trainer, TrainSAEConfig, _changed

SHAPE = {"d_sae": 64, "options": {"k": 4}, "samples": 100_000, "progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def quiet() -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    x, head = quiet_decision(d_in=16, n_features=48, n_samples=60_000, active=5, quiet=0.1)
    return x[:50_000], x[50_000:], head


def _train(data: Any, out: Path, **settings: Any) -> dict[str, Any]:
    torch.set_num_threads(1)
    train, heldout, head = data
    return Trainer(TrainSAEConfig(out=out, **{**SHAPE, **settings}), train, heldout, head).run()


def test_the_downstream_loss_keeps_the_direction_the_head_reads(quiet: Any, tmp_path: Path) -> None:
    plain = _train(quiet, tmp_path / "mse", advantage_weight=0)
    e2e_ds = _train(quiet, tmp_path / "e2e+ds", advantage_weight=1)
    e2e = _train(quiet, tmp_path / "e2e", advantage_weight=1, reconstruction_weight=0)
    # Plain MSE spends its 4 latents on the loud features: the head's choice is a coin flip to it.
    assert plain["action_agreement"] < 0.7, plain
    for result in (e2e_ds, e2e):
        assert result["action_agreement"] > 0.85 and result["advantage_rel_error"] < 0.5, result
    # Without the reconstruction term nothing asks for the loud features.
    assert e2e["fvu"] > e2e_ds["fvu"] + 0.1 > plain["fvu"] + 0.2, (plain, e2e_ds, e2e)

    # A short end-to-end fine-tune (half the budget) of the plain SAE finds the quiet direction too.
    tuned = _train(quiet, tmp_path / "tuned", samples=50_000, advantage_weight=1, reconstruction_weight=0,
                   init_from=tmp_path / "mse")
    assert tuned["action_agreement"] > 0.85 and tuned["dead_fraction"] < 0.1, tuned


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_fine_tune_starts_from_the_saved_sae(architecture: str, quiet: Any, tmp_path: Path) -> None:
    """With a vanishing learning rate a fine-tune gives back the SAE it started from, whatever the
    architecture: the saved weights (in raw units) are taken into the trainer's scaled units exactly."""
    train, heldout, head = quiet
    small = (train[:5000], heldout[:2000], head)
    settings = {"architecture": architecture, "options": {}, "samples": 4096}
    _train(small, tmp_path / "start", **settings)
    _train(small, tmp_path / "tuned", **settings, lr=1e-12, init_from=tmp_path / "start")
    start, tuned = load_sae(tmp_path / "start"), load_sae(tmp_path / "tuned")
    # Parameters only: BatchTopK's threshold is a running estimate that training updates without the optimizer.
    tuned_parameters = dict(tuned.named_parameters())
    for name, tensor in start.named_parameters():
        torch.testing.assert_close(tuned_parameters[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    before, after = (evaluate_reconstruction(sae, heldout[:2000], head) for sae in (start, tuned))
    assert after["fvu"] == pytest.approx(before["fvu"], rel=0.02)


def test_downstream_options_refuse_what_cannot_work(quiet: Any, tmp_path: Path) -> None:
    train, heldout, head = quiet
    small = (train[:5000], heldout[:500], head)
    _train(small, tmp_path / "topk", samples=2048)
    with pytest.raises(UserError, match="holds a topk SAE: pass --architecture topk"):
        _train(small, tmp_path / "relu", samples=2048, architecture="relu", options={}, init_from=tmp_path / "topk")
    with pytest.raises(UserError, match="has 64 latents, --d-sae asks for 32"):
        _train(small, tmp_path / "narrow", samples=2048, d_sae=32, init_from=tmp_path / "topk")
    with pytest.raises(UserError, match="leaves nothing to train on"):
        _train(small, tmp_path / "nothing", samples=2048, reconstruction_weight=0, advantage_weight=0)


def test_a_config_saved_before_the_downstream_options_matches_their_defaults(tmp_path: Path) -> None:
    """An SAE trained before --reconstruction-weight and --init-from existed is reused, not refused."""
    cfg = TrainSAEConfig(out=tmp_path / "sae", samples=4096, progress=False, device="cpu")
    saved = {k: v for k, v in to_dict(cfg).items() if k not in ("reconstruction_weight", "init_from")}
    assert _changed(saved, cfg) == []
    tuned = TrainSAEConfig(out=tmp_path / "sae", samples=4096, progress=False, device="cpu", reconstruction_weight=0,
                           advantage_weight=1, init_from=tmp_path / "start")
    assert _changed(saved, tuned) == ["advantage_weight", "init_from", "reconstruction_weight"]
