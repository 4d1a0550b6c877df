"""Dead SAE features vs agent skill over a checkpoint series (`rlsae sweep`), written into BENCHMARKS.md.

    python benchmarks/dead_vs_skill.py --checkpoints runs/series --out runs/sweep --steps 60000 --samples 1000000 \\
        --episodes 10

Stages already finished in ``--out`` are reused, so the table can be written from an interrupted sweep
by pointing ``--checkpoints`` at a folder holding only the finished checkpoints.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from _report import BENCHMARKS_MD, append_section
from rlsae.sweep import ARMS, SWEEP_PNG, SweepConfig, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoints", type=Path, default=Path("runs/series"))
    parser.add_argument("--out", type=Path, default=Path("runs/sweep"))
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    args = parser.parse_args()
    result = run_sweep(SweepConfig(checkpoints=args.checkpoints, out=args.out, steps=args.steps,
                                   samples=args.samples, episodes=args.episodes, arms=tuple(args.arms),
                                   progress=False))

    def fmt(value: float | None, pattern: str) -> str:
        return "n/a" if value is None else pattern.format(value)

    rows = []
    for row in result.rows:
        for arm, m in row.arms.items():
            e = m.evaluation
            rows.append([row.checkpoint, f"{row.step or 0:,}", f"{row.score:.0f} +- {row.score_std:.0f}", arm,
                         f"{e.dead_fraction:.1%} ({m.live} live)", fmt(e.fvu, "{:.3f}"),
                         fmt(e.action_agreement, "{:.1%}"), fmt(e.score_ratio, "{:.2f}"),
                         fmt(m.labeled_fraction, "{:.1%}")])
    notes = []
    for arm, stats in result.statistics.items():
        parts = [f"{key} {s['spearman']:+.2f} (p {s['spearman_p']:.2f})"
                 for key, s in stats["vs_score"].items() if "spearman" in s]
        fit = stats["score_on_live"]
        quad = (f"; score ~ quadratic(live): R^2 {fit['quadratic_r2']:.2f} (p {fit['quadratic_p']:.2f})"
                if "quadratic_r2" in fit else "")
        notes.append(f"- {arm} arm, {fit['n']} agents: Spearman with score: " + ", ".join(parts) + quad)
    plot = BENCHMARKS_MD.parent / "benchmarks" / "results" / "dead_vs_skill.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.out / SWEEP_PNG, plot)
    notes.append(f"\n![dead features vs skill]({plot.relative_to(BENCHMARKS_MD.parent)})")
    append_section("Dead features vs agent skill (rlsae sweep)",
                   ["checkpoint", "step", "score (30 games)", "SAE", "dead (held-out)", "FVU", "greedy agreement",
                    "spliced / clean", "live labeled"], rows, "\n".join(notes))


if __name__ == "__main__":
    main()
