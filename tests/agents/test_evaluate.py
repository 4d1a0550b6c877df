import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlsae.agents.checkpoint import load_agent, save_checkpoint
from rlsae.agents.evaluate import agent_policy, play_games, summarize
from rlsae.agents.qnet import QNetwork
from rlsae.cli import main
from rlsae.common.errors import UserError


def test_play_games_returns_one_unclipped_score_per_requested_game(random_agent: Path) -> None:
    model, _ = load_agent(random_agent)
    scores = play_games(agent_policy(model, "cpu"), 3, num_envs=2, epsilon=1.0, progress=False)
    assert len(scores) == 3
    # Ms. Pac-Man dots are worth 10: an unclipped score is a multiple of 10 and a game eats many.
    assert all(s % 10 == 0 and s >= 50 for s in scores)
    assert summarize(scores)["mean_score"] == sum(scores) / 3


def test_evaluate_agent_cli_writes_json(random_agent: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    rc = main(["evaluate-agent", "--checkpoint", str(random_agent), "--episodes", "2", "--num-envs", "2",
               "--epsilon", "1.0", "--json", str(out)])
    data = json.loads(out.read_text())
    assert rc == 0 and len(data["scores"]) == 2 and data["mean_score"] == sum(data["scores"]) / 2


def test_cli_help_and_bad_path_give_clear_one_line_errors(tmp_path: Path) -> None:
    help_text = subprocess.run([sys.executable, "-m", "rlsae.cli", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "train-agent" in help_text.stdout
    bad = subprocess.run([sys.executable, "-m", "rlsae.cli", "evaluate-agent", "--checkpoint",
                          str(tmp_path / "nope")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no agent checkpoint" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(("n_actions", "game", "expected"), [(9, "breakout", 4), (5, "ms_pacman", 9)])
def test_agent_whose_actions_do_not_match_its_game_is_refused(tmp_path: Path, n_actions: int, game: str,
                                                              expected: int) -> None:
    # 9 actions on breakout used to hang ALE's vector env for good (only kill -9 ended it): run it in a
    # subprocess with a deadline so a regression fails instead of hanging the suite
    save_checkpoint(tmp_path / "agent", QNetwork(n_actions), {"game": game})
    run = subprocess.run([sys.executable, "-m", "rlsae.cli", "evaluate-agent", "--checkpoint", str(tmp_path / "agent"),
                          "--episodes", "1", "--num-envs", "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert f"has {n_actions} actions but its game '{game}' has {expected}" in run.stderr


def test_play_games_refuses_actions_the_game_lacks() -> None:
    with pytest.raises(UserError, match="chose action 8, but 'breakout' has 4 actions"):
        play_games(lambda obs: np.full(len(obs), 8), 1, game="breakout", num_envs=1, progress=False)
