"""Any agent, any game: the pipeline on a user's own Q-network and on Breakout, at a small scale.

Foreign agent: the shipped agent's weights in a network of the user's own making (module names ``body.N``
and ``q_out``, its own forward on uint8 frames), named on the command line as ``--agent
any_agent_any_game:build`` (this file is the factory). It is recorded, an advantage-aware SAE and a
plain-MSE one are trained on it, and each is evaluated: greedy-action agreement and the spliced agent's
full-game score against the clean agent's, the same seeds for both. Breakout: a PQN agent trained briefly
with ``--game ALE/Breakout-v5``, recorded, an SAE trained and interpreted: how many features Breakout's
RAM facts label. Both rows go into BENCHMARKS.md.

    python benchmarks/any_agent_any_game.py --out runs/any-agent
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from torch import nn

from rlsae.agents.checkpoint import load_agent
from rlsae.agents.protocol import Agent
from rlsae.analysis.summary import InterpretSummary


class UserNature(nn.Module):
    """The Nature DQN (with PQN's LayerNorms) as a user might write it: other names, its own forward."""

    def __init__(self, n_actions: int = 9):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(4, 32, 8, stride=4), nn.LayerNorm([32, 20, 20]), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.LayerNorm([64, 9, 9]), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.LayerNorm([64, 7, 7]), nn.ReLU(),
            nn.Flatten(), nn.Linear(3136, 512), nn.LayerNorm(512), nn.ReLU())
        self.q_out = nn.Linear(512, n_actions)

    def forward(self, frames):
        return self.q_out(self.body(frames.float() / 255.0))


def build() -> Agent:
    """The factory: the shipped agent's weights, matched to this network's parameters in order."""
    model = UserNature()
    shipped = load_agent()[0].state_dict()  # in layer order, as this network's parameters are
    ours = model.state_dict()
    assert [v.shape for v in shipped.values()] == [v.shape for v in ours.values()]
    model.load_state_dict(dict(zip(ours, shipped.values())))
    return Agent(model, layer="body.12", game="ms_pacman")  # the head (q_out) is found by rlsae


def _run(done: Path | None, *argv: str) -> None:
    """Run an rlsae command unless ``done`` exists (a rerun skips the finished stages; record checks itself)."""
    from rlsae.cli import main

    if done is not None and done.exists():
        return
    code = main([*argv, "--no-progress"])
    if code != 0:
        raise SystemExit(f"rlsae {' '.join(argv)} failed ({code})")


def foreign(args: argparse.Namespace) -> list[list[str]]:
    out = args.out / "foreign"
    _run(None, "record", "--agent", "any_agent_any_game:build", "--out", str(out / "rec"),
         "--steps", str(args.steps))
    rows = []
    for name, extra in (("advantage-aware", []), ("plain MSE", ["--advantage-weight", "0"])):
        sae = out / name.replace(" ", "-")
        _run(sae / "cfg.json", "train-sae", "--recording", str(out / "rec"), "--out", str(sae), "--samples",
             str(args.samples), *extra)
        _run(sae / "evaluation.json", "evaluate", "--sae", str(sae), "--episodes", str(args.episodes))
        e = json.loads((sae / "evaluation.json").read_text())
        rows.append([f"foreign agent (shipped weights in a user's network), {name}", f"{e['fvu']:.3f}",
                     f"{e['action_agreement']:.1%}", f"{e['score_spliced']:.0f} vs {e['score_clean']:.0f}", ""])
    return rows


def breakout(args: argparse.Namespace) -> list[list[str]]:
    out = args.out / f"breakout-{args.agent_steps}"
    _run(out / "agent" / "best", "train-agent", "--game", "ALE/Breakout-v5", "--out", str(out / "agent"),
         "--total-steps", str(args.agent_steps), "--eval-every", str(args.agent_steps), "--eval-episodes", "8")
    _run(None, "record", "--checkpoint", str(out / "agent" / "best"), "--out",
         str(out / "rec"), "--steps", str(args.steps))
    _run(out / "sae" / "cfg.json", "train-sae", "--recording", str(out / "rec"), "--out", str(out / "sae"),
         "--samples", str(args.samples))
    _run(out / "sae" / "evaluation.json", "evaluate", "--sae", str(out / "sae"), "--episodes", str(args.episodes))
    _run(out / "interpret" / "summary.json", "interpret", "--sae", str(out / "sae"), "--out", str(out / "interpret"))
    e = json.loads((out / "sae" / "evaluation.json").read_text())
    s = InterpretSummary.load(out / "interpret" / "summary.json")
    f, n = s.features.labels, s.neurons.labels
    ball = s.headline("best_ball")
    best = ball.feature if ball else None
    return [[f"Breakout PQN after {args.agent_steps:,} steps", f"{e['fvu']:.3f}", f"{e['action_agreement']:.1%}",
             f"{e['score_spliced']:.1f} vs {e['score_clean']:.1f}",
             f"{f.n_labeled}/{f.n_units} features labeled ({f.labeled_fraction:.0%}), neurons "
             f"{n.n_labeled}/{n.n_units}; best 'ball beside the paddle' feature: "
             f"{best.description if best else 'none'} (F1 {best.scores.f1 if best else float('nan'):.2f})"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/any-agent"))
    parser.add_argument("--steps", type=int, default=50_000, help="recorded steps per agent")
    parser.add_argument("--samples", type=int, default=500_000, help="SAE training samples (2048 latents, k=32)")
    parser.add_argument("--episodes", type=int, default=8, help="full games per condition in evaluate")
    parser.add_argument("--agent-steps", type=int, default=100_000, help="Breakout agent training steps")
    args = parser.parse_args()
    from _report import append_section  # benchmarks/ is on sys.path when run as a script

    rows = foreign(args) + breakout(args)
    append_section("Any agent, any game", ["run", "FVU", "greedy agreement", "score spliced vs clean", "labels"],
                   rows, f"{args.steps:,} recorded steps, SAEs 2048 latents k=32 on {args.samples:,} samples, "
                         f"{args.episodes} full games per condition (epsilon 0.05, the same seeds spliced and clean).")


if __name__ == "__main__":
    main()
