"""Does clamping a feature bring about its goal? Paired counts over `rlsae steer --goal` outputs.

    python benchmarks/steer_goals.py runs/lab/steer-far-3 runs/lab/steer-far-4 ...

Each output holds, per steered feature, the same games played clean and steered (same seeds, or the
same recorded --starts states). Per feature: the share of games reaching the goal in each condition, the
games only the steered agent brought there and those only the clean agent did, and the two-sided exact
binomial (McNemar) p-value of that split, which asks whether the edit changed the outcome, game by game.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _report import append_section
from rlsae.analysis.steer import goal_change


def paired(result: dict) -> list[str]:
    g = goal_change(result)
    return [f"{g['clean']:.0%}", f"{g['steered']:.0%}", str(g["gained"]), str(g["lost"]), f"{g['p']:.3g}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outputs", type=Path, nargs="+", help="`rlsae steer --goal` output folders")
    parser.add_argument("--title", default="Steering towards a goal: paired games")
    parser.add_argument("--notes", default="")
    args = parser.parse_args()
    rows = []
    for folder in args.outputs:
        document = json.loads((folder / "steering.json").read_text())
        config = document["config"]
        starts = (f"{config['starts']} recorded states where {config['start_where']}" if config.get("starts")
                  else f"{config['episodes']} game starts")
        for r in document["results"]:
            if "goal" not in r:
                continue
            rows.append([f"#{r['feature']}", f"{r['mode']} x{r['strength']:g}", r["goal"], str(r["goal_steps"]),
                         starts, *paired(r), f"{r['tv_distance']:.3f}", f"{r['score_clean']:.0f} -> "
                         f"{r['score_steered']:.0f}"])
    header = ["feature", "edit", "goal", "within steps", "games from", "clean", "steered", "steered only",
              "clean only", "p (McNemar)", "action TV", "points"]
    append_section(args.title, header, rows, args.notes)


if __name__ == "__main__":
    main()
