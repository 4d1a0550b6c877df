"""The checkpoint series: one agent kept at log-spaced steps of a training run, with its score.

A series shows how features form as an agent learns (`rlsae sweep` reads one). `train-agent` keeps the
network at each of ``--keep-steps`` under ``OUT/series/``, where every command that takes an agent loads it
by path (``--checkpoint runs/agent/series/1M``); :func:`publish_series` scores each one over full games and
stores it in float16 (a few MB each) in a series folder, so a sweep reads the scores instead of replaying:

    series/
      index.json      [{"name": "1M", "step": 1000448, "mean_score": ..., ...}, ...] in step order
      1M/             model.safetensors (float16) + manifest.json (with its 30-game evaluation)

    python -m rlsae.agents.checkpoint_series runs/agent --dest runs/series
    rlsae sweep --checkpoints runs/series
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from rlsae.agents.checkpoint import MAKE_SERIES, MANIFEST, SERIES_PREFIX, load_agent, read_manifest, save_checkpoint
from rlsae.agents.evaluate import SCORED, agent_policy, play_games, summarize
from rlsae.common.errors import UserError
from rlsae.common.files import read_json, write_json

INDEX = "index.json"


def series_folders(folder: Path) -> list[Path]:
    """The checkpoint folders in ``folder`` (a series, or any folder of checkpoint folders), by step."""
    if str(folder) == SERIES_PREFIX.rstrip(":") and not Path(folder).is_dir():
        raise UserError(f"'{folder}': {MAKE_SERIES}; give that folder, e.g. runs/agent/series")
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"'{folder}' is not a folder of agent checkpoints")
    found = [p for p in folder.iterdir() if (p / MANIFEST).is_file()]
    if not found:
        raise UserError(f"'{folder}' holds no agent checkpoints (sub-folders with {MANIFEST})")
    return sorted(found, key=lambda p: (int(read_manifest(p).get("step", 0)), p.name))


def evaluate_checkpoint(folder: Path, episodes: int, seed: int = 1, progress: bool = False) -> dict[str, Any]:
    """Full-game score of one checkpoint, scored as its kind is (``SCORED``: a Q-network greedy with epsilon
    0.05, the Nature-DQN protocol; a PPO policy sampled with none)."""
    model, manifest = load_agent(folder)
    act, epsilon = SCORED[model.output]
    scores = play_games(agent_policy(model, "cpu", act, seed), episodes, game=manifest["game"], epsilon=epsilon,
                        seed=seed, progress=progress)
    return {"epsilon": epsilon, "act": act, "seed": seed, **summarize(scores)}


def publish_series(run: Path, dest: Path, episodes: int = 30) -> list[dict[str, Any]]:
    """Score every checkpoint in ``run``/series over ``episodes`` games and store it in float16 in ``dest``.

    Checkpoints already in ``dest`` at the same step keep their score (scoring is the slow part).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    index = {row["name"]: row for row in (read_json(dest / INDEX, "series index") if (dest / INDEX).exists() else [])}
    for folder in series_folders(Path(run) / "series"):
        manifest = read_manifest(folder)
        kept = index.get(folder.name)
        if kept is None or kept["step"] != manifest["step"]:
            evaluation = evaluate_checkpoint(folder, episodes)
            model, _ = load_agent(folder)
            save_checkpoint(dest / folder.name, model.half(), {**manifest, "evaluation": evaluation})
            kept = {"name": folder.name, "step": manifest["step"],
                    **{k: v for k, v in evaluation.items() if k != "scores"}}
            print(f"{folder.name}: step {manifest['step']:,}, mean {evaluation['mean_score']:.0f} "
                  f"over {evaluation['episodes']} games")
        index[folder.name] = kept
    rows = sorted(index.values(), key=lambda row: row["step"])
    write_json(dest / INDEX, rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="score a train-agent run's series and store it in float16")
    parser.add_argument("run", type=Path, help="train-agent output folder (holds series/)")
    parser.add_argument("--dest", type=Path, default=Path("runs/series"), help="series folder to write")
    parser.add_argument("--episodes", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    publish_series(args.run, args.dest, args.episodes)


if __name__ == "__main__":
    main()
