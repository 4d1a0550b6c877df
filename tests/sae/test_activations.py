"""Training on a user's own activations: a .npy file through the CLI, numpy arrays through the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlsae.cli import main
from rlsae.sae import load_sae
from rlsae.sae.train import Trainer, TrainSAEConfig


def _sparse_data(n: int = 3000, d: int = 32, seed: int = 0) -> np.ndarray:
    """Rows that are sums of 3 of 48 fixed directions with positive weights: an SAE can explain them."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(48, d))
    codes = np.zeros((n, 48))
    for row in codes:
        row[rng.choice(48, 3, replace=False)] = rng.uniform(1, 2, 3)
    return (codes @ directions).astype(np.float32)


def test_train_sae_on_a_npy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "acts.npy", _sparse_data())
    out = tmp_path / "sae"
    code = main(["train-sae", "--activations", str(tmp_path / "acts.npy"), "--out", str(out), "--d-sae", "64",
                 "--k", "4", "--samples", "60000", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "plain MSE and no action metrics: no linear Q-head" in printed and "action_agreement" not in printed
    metadata = json.loads((out / "cfg.json").read_text())["metadata"]
    assert metadata["activations"] == str((tmp_path / "acts.npy").resolve())
    heldout = metadata["rlsae"]["heldout"]
    assert heldout["states"] == 300 and heldout["fvu"] < 0.5 and "action_agreement" not in heldout
    assert load_sae(out).d_in == 32


def test_bad_arrays_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))  # would need unpickling
    np.save(tmp_path / "flat.npy", np.zeros(10, np.float32))
    for name, message in (("objects.npy", "not a plain .npy array"), ("flat.npy", "give a float array"),
                          ("missing.npy", "not found")):
        code = main(["train-sae", "--activations", str(tmp_path / name), "--out", str(tmp_path / f"sae-{name}"),
                     "--samples", "100", "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and "\n" not in err, err


def test_trainer_takes_numpy_and_needs_no_advantage_weight(tmp_path: Path) -> None:
    x = _sparse_data(1000, 16)
    cfg = TrainSAEConfig(out=tmp_path / "sae", d_sae=32, options={"k": 4}, samples=4096, progress=False, device="cpu")
    result = Trainer(cfg, x[:900], x[900:]).run()
    assert result["states"] == 100 and np.isfinite(result["fvu"])
    # Asking for the advantage-aware term without a head is refused, saying why.
    with pytest.raises(Exception, match="no linear Q-head"):
        Trainer(TrainSAEConfig(out=tmp_path / "sae2", advantage_weight=1.0, samples=4096, progress=False,
                               device="cpu"), x[:900], x[900:])
