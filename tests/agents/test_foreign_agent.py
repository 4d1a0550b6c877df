"""Bring your own agent: a foreign Q-network (tests/agents/foreign_agent.py) through every command by
``--agent package.module:function@weights``, with later stages rebuilding it from the recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.agents.protocol import weights_sha256
from rlsae.analysis.results import load_result
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.record import Recording
from rlsae.sae import load_sae

HERE = Path(__file__).parent


@pytest.fixture
def foreign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """(the --agent value, the weights file): random weights saved as a torch state dict."""
    monkeypatch.syspath_prepend(str(HERE))
    from foreign_agent import ForeignPQN

    torch.manual_seed(0)
    model = ForeignPQN()
    torch.save(model.state_dict(), tmp_path / "foreign.pt")
    return f"foreign_agent:build@{tmp_path / 'foreign.pt'}", tmp_path / "foreign.pt"


def _run(*argv: str) -> None:
    assert main([*argv, "--no-progress"] if argv[0] not in ("evaluate-agent",) else list(argv)) == 0, argv


def test_foreign_agent_through_every_command(tmp_path: Path, foreign: tuple[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    agent, weights = foreign
    _run("evaluate-agent", "--agent", agent, "--episodes", "2", "--num-envs", "2", "--json", str(tmp_path / "e.json"))
    assert len(json.loads((tmp_path / "e.json").read_text())["scores"]) == 2
    rec_dir, sae, interp = tmp_path / "rec", tmp_path / "sae", tmp_path / "interpret"
    _run("record", "--agent", agent, "--out", str(rec_dir), "--steps", "800", "--num-envs", "2", "--epsilon", "0.5")
    rec = Recording.open(rec_dir)
    m = rec.manifest
    assert m["layer"] == "body.9" and m["head"] == "q_out" and m["d_act"] == 64
    assert m["agent"]["factory"] == "foreign_agent:build" and m["agent"]["weights"] == str(weights.resolve())
    # The stored frame stacks reproduce the recorded Q-values through the rebuilt agent.
    model, _ = rec.load_agent()
    idx = np.array([3, 100, 555])
    with torch.no_grad():
        q = model(torch.from_numpy(rec.observations(idx))).numpy()
    np.testing.assert_allclose(q, rec.q_values[idx], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rec.head[0], model.q_out.weight.detach().numpy())

    _run("train-sae", "--recording", str(rec_dir), "--out", str(sae), "--d-sae", "128", "--k", "8",
         "--samples", "16384")
    log = [json.loads(line) for line in (sae / "log.jsonl").read_text().splitlines()]
    assert "advantage_fvu" in log[-1]  # the advantage-aware loss is on: the head was found
    _run("evaluate", "--sae", str(sae), "--episodes", "2", "--num-envs", "2")
    evaluation = json.loads((sae / "evaluation.json").read_text())
    assert 0 <= evaluation["action_agreement"] <= 1 and "score_spliced" in evaluation and "regret" in evaluation
    sae_model = load_sae(sae)
    _run("interpret", "--sae", str(sae), "--out", str(interp), "--n-top", "4", "--n-per-quantile", "1")
    result = load_result(interp)
    assert result.summary.game == "ms_pacman" and not result.summary.notes
    np.testing.assert_allclose(result.action_effect, sae_model.W_dec.detach().numpy() @ rec.head[0].T, atol=1e-5)
    feature = int(np.argmax(result.density))
    _run("steer", "--sae", str(sae), "--feature", str(feature), "--interpret", str(interp), "--out",
         str(tmp_path / "steer"), "--episodes", "1", "--num-envs", "1", "--max-steps", "200", "--gif-steps", "5")
    steering = json.loads((tmp_path / "steer" / "steering.json").read_text())["results"][0]
    assert steering["steps_steered"] > 0 and (tmp_path / "steer" / steering["heatmap"]).is_file()
    _run("browse", "--interpret", str(interp), "--steering", str(tmp_path / "steer"), "--out",
         str(tmp_path / "browser"), "--workers", "1")
    assert (tmp_path / "browser" / "index.html").is_file()
    capsys.readouterr()

    # Other weights in the same file: every later stage refuses them instead of reading another agent.
    torch.manual_seed(1)
    from foreign_agent import ForeignPQN

    other = ForeignPQN()
    assert weights_sha256(other) != rec.manifest["agent"]["sha256"]
    torch.save(other.state_dict(), weights)
    with pytest.raises(UserError, match="other weights"):
        Recording.open(rec_dir).load_agent()


def test_a_plain_module_factory_on_another_game(tmp_path: Path, foreign: tuple[str, Path]) -> None:
    """A factory returning a bare module: --layer and --game name the rest; Breakout's 4 actions fit."""
    torch.manual_seed(0)
    _run("record", "--agent", "foreign_agent:build_breakout", "--layer", "body.9", "--game", "ALE/Breakout-v5",
         "--out", str(tmp_path / "rec"), "--steps", "40", "--num-envs", "2")
    rec = Recording.open(tmp_path / "rec")
    assert rec.manifest["game"] == "breakout" and rec.manifest["head"] == "q_out"
    # Without weights the factory's random init cannot be rebuilt to the same network: refused, not guessed.
    with pytest.raises(UserError, match="other weights"):
        rec.load_agent()


def test_a_bare_module_recording_is_read_with_agent(tmp_path: Path, foreign: tuple[str, Path]) -> None:
    """record_model(module) stores no way to rebuild the module: later stages take --agent, checked by hash."""
    from foreign_agent import READ, build

    from rlsae.agents.protocol import load_weights
    from rlsae.record import RecordConfig, record_model

    agent, weights = foreign
    model = build().model
    load_weights(model, weights)
    record_model(model, READ, RecordConfig(out=tmp_path / "rec", steps=16, num_envs=2, progress=False))
    rec = Recording.open(tmp_path / "rec")
    assert rec.manifest["head"] == "q_out"
    with pytest.raises(UserError, match="user module"):
        rec.load_agent()
    rec.use_agent(agent)
    np.testing.assert_allclose(rec.head[0], model.q_out.weight.detach().numpy())
    with pytest.raises(UserError, match="other weights"):
        Recording.open(tmp_path / "rec").use_agent("foreign_agent:build")  # the factory's random weights
