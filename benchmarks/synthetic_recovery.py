"""Ground truth: how many planted features in superposition the trainer recovers (cosine >= 0.9), with
every training default left alone (batch, learning rate, warm-up, dead window follow the budget).

    python benchmarks/synthetic_recovery.py --samples 1000000 20000000
    python benchmarks/synthetic_recovery.py --samples 1000000 --architectures topk batchtopk jumprelu matryoshka relu

Planted data (rlsae.sae.synthetic.Planted): densities falling off as (i + 1)^-decay, magnitudes from
U(0.5, 1.5), one offset shared by every sample. Only the SAE's shape is chosen: the default 4x
expansion and k. The issue's goal: >= 90% recovered at 1M and at 20M samples.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _report import append_section
from rlsae.config import from_flags
from rlsae.sae.synthetic import run
from rlsae.sae.train import Schedule, TrainSAEConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-in", type=int, default=64)
    parser.add_argument("--features", type=int, default=256, help="planted directions")
    parser.add_argument("--active", type=float, default=4, help="mean planted features on per sample")
    parser.add_argument("--decay", type=float, default=1.0, help="density power-law exponent")
    parser.add_argument("--offset", type=float, default=2.0, help="norm of the shared offset")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--data", type=int, default=1_000_000, help="distinct training samples (cycled)")
    parser.add_argument("--samples", type=int, nargs="+", default=[1_000_000], help="training budgets")
    parser.add_argument("--architectures", nargs="+", default=["topk"])
    args = parser.parse_args()
    rows = []
    for architecture in args.architectures:
        for samples in args.samples:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = from_flags(TrainSAEConfig, {"out": Path(tmp) / "sae", "architecture": architecture,
                                                  "k": args.k, "samples": samples, "advantage_weight": 0,
                                                  "progress": False})
                schedule = Schedule.derive(cfg, 4 * args.d_in)
                result = run(args.d_in, args.features, args.active, min(args.data, samples), cfg, decay=args.decay,
                             offset_norm=args.offset)
            print(architecture, samples, result, flush=True)
            rows.append([architecture, f"{samples:,}", str(schedule.batch_size), f"{schedule.lr:.2g}",
                         str(result["steps"]), f"{result['recovered']:.1%}", f"{result['fvu']:.4f}",
                         f"{result['l0']:.1f}", f"{result['dead_fraction']:.1%}", f"{result['wall_time_s']:.0f}"])
    append_section(
        "Synthetic ground truth with default settings: planted features recovered",
        ["architecture", "samples", "batch (default)", "lr (default)", "steps", "recovered at cos >= 0.9",
         "held-out FVU", "L0", "dead", "train s"], rows,
        f"{args.features} planted directions in {args.d_in} dims, {args.active:g} on per sample on average, "
        f"densities ~ (i + 1)^-{args.decay:g} (the rarest {args.features}^{args.decay:g}x rarer than the commonest), "
        f"magnitudes U(0.5, 1.5), a shared offset of norm {args.offset:g}; {args.data:,} distinct samples cycled. "
        f"SAE: {4 * args.d_in} latents (default 4x), k = {args.k}; every other setting at its default. "
        "Goal: >= 90% recovered at 1M and 20M samples.")


if __name__ == "__main__":
    main()
