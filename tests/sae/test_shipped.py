"""The demo SAE shipped with the default agent: `--sae shipped` reads it, and it reconstructs that agent's layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlsae.analysis.results import load_result
from rlsae.cli import main
from rlsae.record.recording import Recording
from rlsae.sae.io import load_sae, sae_folder, shipped_sae


@pytest.fixture(scope="module")
def shipped_agent_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shipped") / "rec"
    assert main(["record", "--out", str(out), "--steps", "3000", "--num-envs", "4", "--no-progress"]) == 0
    return out


def test_shipped_names_the_packaged_sae_and_it_loads_in_float32() -> None:
    assert sae_folder("shipped") == shipped_sae() and sae_folder("runs/sae") == Path("runs/sae")
    sae = load_sae(sae_folder("shipped"))
    assert (sae.d_in, sae.d_sae, sae.k) == (512, 2048, 32)
    assert sae.W_dec.dtype == torch.float32


@torch.no_grad()
def test_the_shipped_sae_reconstructs_the_shipped_agents_layer(shipped_agent_recording: Path) -> None:
    x = torch.from_numpy(Recording.open(shipped_agent_recording).activations[:]).float()
    sae = load_sae(shipped_sae())
    fvu = ((sae.reconstruct(x) - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    # The demo measured 0.04 on held-out episodes; an SAE made for another layer would be near or above 1.
    assert fvu < 0.15


def test_interpret_and_steer_read_the_shipped_sae(shipped_agent_recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "interpret"
    assert main(["interpret", "--sae", "shipped", "--recording", str(shipped_agent_recording), "--out", str(out),
                 "--no-progress"]) == 0
    assert load_result(out).d_sae == 2048


def test_evaluate_refuses_to_write_into_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--sae", "shipped"]) != 0
    assert "read-only" in capsys.readouterr().err
    assert not (shipped_sae() / "evaluation.json").exists()
