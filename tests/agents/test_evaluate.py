import json
import subprocess
import sys
from pathlib import Path

from rlsae.agents.checkpoint import load_agent
from rlsae.agents.evaluate import greedy_policy, play_games, summarize
from rlsae.cli import main


def test_play_games_returns_one_unclipped_score_per_requested_game(random_agent: Path) -> None:
    model, _ = load_agent(random_agent)
    scores = play_games(greedy_policy(model, "cpu"), 3, num_envs=2, epsilon=1.0, progress=False)
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
