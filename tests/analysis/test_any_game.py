"""Any game: a tiny Breakout run end to end with Breakout's own facts, and Pong read at a layer no linear
head reads. No Ms. Pac-Man word may appear in what interpret, steer or the browser write for them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rlsae.agents.checkpoint import save_checkpoint
from rlsae.agents.qnet import QNetwork
from rlsae.analysis.interpret import format_summary
from rlsae.analysis.results import load_result
from rlsae.cli import main

PACMAN_WORDS = re.compile(r"pac-?man|ghost|power.pill|maze", re.IGNORECASE)


def _run(*argv: str) -> None:
    assert main([*argv, "--no-progress"]) == 0, argv


def _texts(folder: Path) -> str:
    """What a page shows: its data and pages, not the shipped scripts under assets/ (the same for every game)."""
    return "\n".join(p.read_text(errors="ignore") for p in folder.rglob("*")
                     if p.suffix in (".json", ".js", ".html") and "assets" not in p.relative_to(folder).parts)


def test_breakout_end_to_end_with_its_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_checkpoint(tmp_path / "agent", QNetwork(4), {"game": "breakout", "algorithm": "none", "step": 0})
    rec, sae, interp, steer = (tmp_path / name for name in ("rec", "sae", "interpret", "steer"))
    _run("record", "--agent", str(tmp_path / "agent"), "--out", str(rec), "--steps", "2400", "--num-envs", "4",
         "--epsilon", "1.0")
    _run("train-sae", "--recording", str(rec), "--out", str(sae), "--d-sae", "256", "--k", "8", "--samples", "32768")
    _run("interpret", "--sae", str(sae), "--out", str(interp), "--n-top", "4", "--n-per-quantile", "1")
    result = load_result(interp)
    s = result.summary
    assert s.game == "breakout" and [h.key for h in s.headlines] == ["best_dying", "best_ball", "best_brick"]
    assert {"ball_vs_paddle=above", "ball_motion=rising", "paddle_x=0", "action=FIRE"} <= set(result.fact_names)
    assert not any(PACMAN_WORDS.search(d) for d in result.fact_descriptions)
    labels = [lab for lab in result.label if lab is not None]
    print(f"breakout: {len(labels)} of {int(result.alive.sum())} live features labeled: {sorted(set(labels))[:8]}")
    dying = s.headline("best_dying")
    assert dying is not None and dying.feature is not None and "life is lost" in dying.feature.description
    text = format_summary(s)
    assert "best 'ball beside the paddle' feature" in text and not PACMAN_WORDS.search(text)
    feature = int(np.argmax(result.density))
    _run("steer", "--sae", str(sae), "--feature", str(feature), "--interpret", str(interp), "--out", str(steer),
         "--episodes", "1", "--num-envs", "1", "--max-steps", "150", "--gif-steps", "5")
    steered = json.loads((steer / "steering.json").read_text())["results"][0]
    assert (steer / steered["heatmap"]).is_file() and len(steered["action_clean"]) == 4
    _run("browse", "--interpret", str(interp), "--steering", str(steer), "--out", str(tmp_path / "browser"),
         "--workers", "1")
    written = _texts(tmp_path / "browser")
    assert '"FIRE"' in written and "ball" in written and not PACMAN_WORDS.search(written)
    capsys.readouterr()


def test_pong_at_a_layer_without_a_head_says_what_is_unavailable(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    save_checkpoint(tmp_path / "agent", QNetwork(6), {"game": "pong", "algorithm": "none", "step": 0})
    rec, sae, interp = tmp_path / "rec", tmp_path / "sae", tmp_path / "interpret"
    # "fc" is the LayerNorm's input: no linear layer maps it to the Q-values.
    _run("record", "--agent", str(tmp_path / "agent"), "--game", "ALE/Pong-v5", "--layer", "fc", "--out", str(rec),
         "--steps", "800", "--num-envs", "2", "--epsilon", "1.0")
    assert "no linear Q-head reads this layer" in capsys.readouterr().out
    _run("train-sae", "--recording", str(rec), "--out", str(sae), "--d-sae", "64", "--k", "4", "--samples", "4096")
    out = capsys.readouterr().out
    assert "plain MSE and no action metrics" in out and "action_agreement" not in out
    _run("interpret", "--sae", str(sae), "--out", str(interp), "--n-top", "2", "--n-per-quantile", "1")
    out = capsys.readouterr().out
    assert "note: action effects: no linear Q-head" in out and not PACMAN_WORDS.search(out)
    result = load_result(interp)
    assert "agent_scores_soon" in result.fact_names or "opponent_scores_soon" in result.fact_names
    assert not result.action_effect.any() and result.summary.talk_features == []
