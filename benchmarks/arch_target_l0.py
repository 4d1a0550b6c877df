"""Every SAE architecture at one target L0 on a recording: does `--target-l0` land, and what does each give?

    python benchmarks/arch_target_l0.py --recording runs/demo/recording --out runs/archopts \
        --samples 2000000 --target-l0 32 --d-sae 2048 [--episodes 8] \
        [--rows topk batchtopk batchtopk:threshold_estimate=ema jumprelu:threshold_lr=1 ...]

One `train-sae --architecture A --target-l0 T` per row (one at a time; each SAE is kept in
--out/A[-KEY=VALUE...], and a finished one is not trained again): held-out L0, FVU, greedy agreement
(all / large-gap states), dead share, training time, the penalty coefficient where one was adapted, and
with --episodes the clean and spliced mean scores over that many full games. Appends a dated table to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from _report import append_section
from rlsae.record.recording import Recording
from rlsae.sae.architectures import ARCHITECTURES
from rlsae.sae.data import load_split
from rlsae.sae.io import load_sae
from sae_quality import train_at_matched_l0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="one SAE folder per architecture under it")
    parser.add_argument("--samples", type=int, default=2_000_000, help="training samples per SAE (the demo's)")
    parser.add_argument("--d-sae", type=int, default=2048)
    parser.add_argument("--target-l0", type=int, default=32)
    parser.add_argument("--rows", nargs="+", default=list(ARCHITECTURES), metavar="ARCH[:KEY=VALUE...]",
                        help="one SAE per row: an architecture and its --arch-options, colon-separated")
    parser.add_argument("--episodes", type=int, default=0, help="spliced full games per SAE (0 skips)")
    args = parser.parse_args()

    options: dict[str, list[str]] = {}
    for row in args.rows:
        arch, *assignments = row.split(":")
        if arch not in ARCHITECTURES:
            parser.error(f"--rows {row}: {arch} is not one of {', '.join(ARCHITECTURES)}")
        options[row] = assignments
    recording = Recording.open(args.recording)
    train = load_split(recording, 0.1, heldout=False).activations
    heldout = load_split(recording, 0.1, heldout=True, max_states=200_000).activations
    # The target is met on the states trained on; held-out episodes may be busier.
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:20_000]
    train_sample = torch.as_tensor(train[pick.numpy()]).float()
    rows: list[dict[str, Any]] = []
    for row, assignments in options.items():
        arch = row.split(":")[0]
        print(f"--- {arch} {' '.join(assignments)}", flush=True)
        out = args.out / "-".join([arch, *assignments])
        metrics, _ = train_at_matched_l0(recording, train, heldout, out, arch, args.target_l0, d_sae=args.d_sae,
                                         samples=args.samples, options=assignments, progress=False)
        sae = load_sae(out)  # the trained one also where an earlier run had finished it
        metrics["coef"] = {name: getattr(sae, name) for name in metrics["coef"]}
        with torch.no_grad():
            metrics["train_l0"] = (sae.encode(train_sample) > 0).sum(1).float().mean().item()
        result = {"architecture": arch, "options": assignments, **metrics}
        if args.episodes:
            from rlsae.sae.fidelity import game_fidelity

            model, _ = recording.load_agent()
            result.update(game_fidelity(model, recording.manifest["layer"], sae, heldout.mean(0),
                                        episodes=args.episodes, progress=False))
        print({k: v for k, v in result.items() if isinstance(v, int | float | str)}, flush=True)
        rows.append(result)

    def name(r: dict[str, Any]) -> str:
        return " ".join([r["architecture"], *r["options"]])

    def score(r: dict[str, Any]) -> str:
        if "score_spliced" not in r:
            return "-"
        return (f"{r['score_spliced']:.0f} / {r['score_clean']:.0f} ({r['score_ratio']:.0%})")

    table = [[name(r), f"{r['train_l0']:.1f} ({r['train_l0'] / args.target_l0 - 1:+.0%})",
              f"{r['l0']:.1f} ({r['l0'] / args.target_l0 - 1:+.0%})", f"{r['fvu']:.4f}",
              f"{r['action_agreement']:.1%} / {r['action_agreement_large_gap']:.2%}", f"{r['dead_fraction']:.1%}",
              ", ".join(f"{k} {v:.3g}" for k, v in r["coef"].items()) or "-", f"{r['wall_time_s']:.0f}", score(r)]
             for r in rows]
    append_section(
        f"SAE architectures at --target-l0 {args.target_l0}",
        ["architecture (--arch-option)", "L0, training states", "L0, held-out", "FVU (held-out)",
         "greedy agreement (all / large-gap)",
         "dead", "penalty at the end", "train s", f"spliced / clean ({args.episodes} games)"], table,
        f"{len(train)} training states, {len(heldout)} held-out states (whole held-out episodes) from "
        f"`{args.recording}`; {args.d_sae} latents, {args.samples:,} samples per SAE (default batch and learning "
        "rate, advantage-aware loss), trained one at a time with OMP_NUM_THREADS=1.")


if __name__ == "__main__":
    main()
