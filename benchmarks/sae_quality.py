"""SAE quality on a recording of the shipped agent: the sparsity/fidelity frontier and the loss trade-off.

    python benchmarks/sae_quality.py --recording runs/rec1m --samples 20000000

Sweep: every width in --widths x every k in --ks (advantage weight 1, our default), plus the 2048/k=32 SAE
at each of --advantage-weights (the plain-MSE vs advantage-aware trade-off). Each row: held-out FVU,
dead fraction (never fires on held-out states), L0, greedy-action agreement (all / large-gap states),
advantage error, regret, training time. With --architectures, each one is also trained at
--game-width/--game-k at matched L0 (`--target-l0 k`: k sets it for the k-sparse ones; for an architecture whose
L0 follows a penalty coefficient, ReLU's L1 and JumpReLU's L0, the coefficient adapts while training). The SAEs
at --game-width/--game-k also play
--episodes full games spliced into the agent. Writes a table into BENCHMARKS.md and the frontier to --png (default
benchmarks/results/sae_frontier.png).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from _report import append_section
from rlsae.config import from_flags
from rlsae.record.recording import Recording
from rlsae.sae.architectures import REGISTRY
from rlsae.sae.data import load_split, q_head
from rlsae.sae.train import Trainer, TrainSAEConfig

RESULTS = Path(__file__).resolve().parent / "results"


def train_and_measure(recording: Recording, train: torch.Tensor, heldout: torch.Tensor, out: Path,
                      **overrides: Any) -> tuple[dict[str, Any], Any]:
    cfg = from_flags(TrainSAEConfig, {"recording": recording.path, "out": out, "progress": True, **overrides})
    trainer = Trainer(cfg, train, heldout, q_head(recording))
    result = trainer.run()  # held-out metrics of the saved SAE (trainer.sae, now in raw units)
    samples = trainer.schedule.steps * trainer.schedule.batch_size
    return {**result, "samples_per_s": samples / max(result["wall_time_s"], 1e-9)}, trainer.sae


def train_at_matched_l0(recording: Recording, train: torch.Tensor, heldout: torch.Tensor, out: Path,
                        architecture: str, k: int, **settings: Any) -> tuple[dict[str, Any], Any]:
    """Train ``architecture`` with ``--target-l0 k``: k sets L0 where the architecture has one, and a penalty
    coefficient adapts toward it while training where it does not (the coefficient it ended at is reported)."""
    metrics, sae = train_and_measure(recording, train, heldout, out, architecture=architecture, target_l0=k,
                                     **settings)
    name = REGISTRY[architecture].sparsity_coef
    return {**metrics, "coef": {} if name is None else {name: getattr(sae, name)}}, sae


def frontier_png(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100)
    for width in sorted({r["d_sae"] for r in rows}):
        sweep = sorted((r for r in rows if r["d_sae"] == width and r["advantage_weight"] == 1.0
                        and r["architecture"] == "topk"),
                       key=lambda r: r["k"])
        ks = [r["k"] for r in sweep]
        axes[0].plot(ks, [r["fvu"] for r in sweep], "o-", label=f"{width} latents")
        axes[1].plot(ks, [100 * r["action_agreement"] for r in sweep], "o-", label=f"{width} all states")
        axes[1].plot(ks, [100 * r["action_agreement_large_gap"] for r in sweep], "s--",
                     label=f"{width} large-gap")
        axes[2].plot(ks, [100 * r["dead_fraction"] for r in sweep], "o-", label=f"{width} latents")
    for ax, title in zip(axes, ("held-out FVU", "greedy-action agreement (%)", "dead latents (%)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (active latents)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=20_000_000, help="training samples per SAE")
    parser.add_argument("--widths", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--advantage-weights", type=float, nargs="*", default=[0.0, 0.3])
    parser.add_argument("--episodes", type=int, default=30, help="spliced full games (0 skips)")
    parser.add_argument("--game-width", type=int, default=2048)
    parser.add_argument("--game-k", type=int, default=32)
    parser.add_argument("--architectures", nargs="+", default=["topk"], help="also compare these at the game "
                        "width and k")
    parser.add_argument("--png", type=Path, default=RESULTS / "sae_frontier.png", help="where to draw the frontier")
    args = parser.parse_args()
    args.png = args.png.resolve()

    recording = Recording.open(args.recording)
    train = load_split(recording, 0.1, heldout=False).activations
    heldout = load_split(recording, 0.1, heldout=True, max_states=200_000).activations
    configs = [("topk", w, k, 1.0) for w in args.widths for k in args.ks]
    configs += [("topk", args.game_width, args.game_k, a) for a in args.advantage_weights if a != 1.0]
    configs += [(arch, args.game_width, args.game_k, 1.0) for arch in args.architectures if arch != "topk"]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, width, k, weight in configs:
            print(f"--- {arch}, {width} latents, k={k}, advantage weight {weight}")
            out = Path(tmp) / f"{arch}_{width}_{k}_{weight}"
            metrics, sae = train_at_matched_l0(recording, train, heldout, out, arch, k, d_sae=width,
                                               samples=args.samples, advantage_weight=weight)
            row = {"architecture": arch, "d_sae": width, "k": k, "advantage_weight": weight, **metrics}
            if args.episodes and (width, k, weight) == (args.game_width, args.game_k, 1.0):
                from rlsae.sae.fidelity import game_fidelity

                model, _ = recording.load_agent()
                row.update(game_fidelity(model, recording.manifest["layer"], sae, heldout.mean(0),
                                         episodes=args.episodes))
            print({k: v for k, v in row.items() if isinstance(v, int | float | str)}, flush=True)
            rows.append(row)
    frontier_png(rows, args.png)

    def score(r: dict[str, Any]) -> str:
        if "score_spliced" not in r:
            return ""
        return f"{r['score_spliced']:.0f} / {r['score_clean']:.0f} ({r['score_ratio']:.0%})"

    def arch(r: dict[str, Any]) -> str:
        return r["architecture"] + "".join(f" ({name} {value:.3g})" for name, value in r["coef"].items())

    table = [[arch(r), str(r["d_sae"]), str(r["k"]), f"{r['advantage_weight']:g}", f"{r['fvu']:.4f}",
              f"{r['dead_fraction']:.2%}", f"{r['l0']:.1f}",
              f"{r['action_agreement']:.1%} / {r['action_agreement_large_gap']:.2%}",
              f"{r['advantage_rel_error']:.4f}", f"{r['regret']:.3f}", score(r), f"{r['wall_time_s']:.0f}",
              f"{r['samples_per_s'] / 1e3:.0f}k"] for r in rows]
    append_section(
        "SAE quality on the shipped agent's activations",
        ["architecture", "latents", "k", "adv. weight", "FVU", "dead", "L0", "greedy agreement (all / large-gap)",
         "advantage error", "regret (% Q range)", "spliced / clean score", "train s", "samples/s"], table,
        f"{len(train)} training states, {len(heldout)} held-out states (whole held-out episodes) from "
        f"`{args.recording}`; {args.samples:,} samples per SAE (default batch and learning rate). Metrics are "
        f"defined in src/rlsae/sae/metrics.py. Frontier plot: {args.png.relative_to(RESULTS.parent.parent)}.")


if __name__ == "__main__":
    main()
