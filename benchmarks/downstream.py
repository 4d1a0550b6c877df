"""Downstream-aware SAE training on a recording of the shipped agent (issue 24): plain MSE, the default
(reconstruction + advantages: Braun et al. 2024's e2e+ds; also with the advantages weighted 4), end-to-end
on the advantages alone (e2e), and short end-to-end fine-tunes of the default and the plain-MSE SAE, at one budget.

    python benchmarks/downstream.py --recording runs/demo/recording --out runs/downstream --samples 2000000

Each arm is `rlsae train-sae` into --out/ARM (a finished folder with the same settings is reused, so
an SAE trained by hand with the same flags counts), measured on the held-out episodes (FVU, dead share,
greedy agreement on all / large-gap states, regret) and spliced into the agent for --episodes full games.
The clean agent plays the same seeds once (the games of `rlsae evaluate`, sae/fidelity.py, without its
two ablations replayed per arm). Appends a table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from _report import append_section
from rlsae.agents.evaluate import play_games, summarize
from rlsae.envs.atari import DEFAULT_GAME
from rlsae.record.recording import Recording
from rlsae.sae.fidelity import hooked_policy, splice
from rlsae.sae.io import load_sae
from rlsae.sae.train import TrainSAEConfig, train_sae

# arm -> (loss as the table names it, train-sae settings beyond the shared ones, the arm it fine-tunes)
ARMS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "mse": ("reconstruction only", {"advantage_weight": 0.0}, None),
    "default": ("reconstruction + advantages (e2e+ds)", {}, None),
    "default-ds4": ("reconstruction + 4 x advantages (e2e+ds)", {"advantage_weight": 4.0}, None),
    "e2e": ("advantages only (e2e)", {"advantage_weight": 1.0, "reconstruction_weight": 0.0}, None),
    "finetune": ("default, then advantages only", {"advantage_weight": 1.0, "reconstruction_weight": 0.0},
                 "default"),
    "finetune-ds4": ("default, then reconstruction + 4 x advantages", {"advantage_weight": 4.0}, "default"),
    "finetune-ds16": ("default, then reconstruction + 16 x advantages", {"advantage_weight": 16.0}, "default"),
    "finetune-mse": ("reconstruction only, then advantages only",
                     {"advantage_weight": 1.0, "reconstruction_weight": 0.0}, "mse"),
}


def games(recording: Recording, layer_hooks: dict[str, Any], episodes: int) -> dict[str, float]:
    model, manifest = recording.load_agent()
    scores = play_games(hooked_policy(model, layer_hooks), episodes, game=manifest.get("game", DEFAULT_GAME),
                        progress=False)
    summary = summarize(scores)
    return {"mean": summary["mean_score"], "se": summary["std_score"] / math.sqrt(len(scores))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="one SAE folder per arm")
    parser.add_argument("--samples", type=int, default=2_000_000, help="training samples per fresh SAE")
    parser.add_argument("--finetune-samples", type=int, default=400_000, help="samples of the fine-tune")
    parser.add_argument("--expansion-factor", type=int, default=4, help="latents per input dimension (the demo's)")
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=30, help="full games per agent (0 skips)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args()

    recording = Recording.open(args.recording)
    layer = recording.manifest["layer"]
    clean = games(recording, {}, args.episodes) if args.episodes else None
    rows = []
    for arm in args.arms:
        loss, settings, base = ARMS[arm]
        if base is not None:
            settings = {**settings, "init_from": args.out / base, "samples": args.finetune_samples}
        cfg = TrainSAEConfig(recording=args.recording, out=args.out / arm,
                             expansion_factor=args.expansion_factor,
                             options={"k": args.k}, progress=False, **{"samples": args.samples, **settings})
        print(f"--- {arm}: {loss}", flush=True)
        m = train_sae(cfg)
        score = ""
        if clean is not None:
            spliced = games(recording, {layer: splice(load_sae(cfg.out))}, args.episodes)
            score = (f"{spliced['mean']:,.0f} ± {spliced['se']:.0f} / {clean['mean']:,.0f} ± {clean['se']:.0f} "
                     f"({spliced['mean'] / clean['mean']:.1%})")
        rows.append([arm, loss, f"{cfg.samples:,}", f"{m['fvu']:.4f}", f"{m['dead_fraction']:.2%}",
                     f"{m['action_agreement']:.1%} / {m['action_agreement_large_gap']:.2%}",
                     f"{m['advantage_rel_error']:.4f}", f"{m['regret']:.3f}", score, f"{m['wall_time_s']:.0f}"])
        print(rows[-1], flush=True)
    append_section(
        "Downstream-aware SAE training on the shipped agent",
        ["arm", "loss", "samples", "FVU", "dead", "greedy agreement (all / large-gap)", "advantage error",
         "regret (% Q range)", "spliced / clean score (± s.e.)", "train s"], rows,
        f"{args.expansion_factor} x {recording.manifest['d_act']} latents, Top-K k={args.k}, `{args.recording}`; "
        f"metrics on its held-out episodes "
        f"(src/rlsae/sae/metrics.py); {args.episodes} games per agent, the same seeds for each. A fine-tune "
        f"starts from the SAE of the arm it names (its train s is the fine-tune's alone).")


if __name__ == "__main__":
    main()
