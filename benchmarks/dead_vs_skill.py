"""Dead SAE features vs agent skill over one or several runs' checkpoints (`rlsae sweep`), written into
BENCHMARKS.md with each arm's partial correlations, run-intercept slopes and the verdict.

    python benchmarks/dead_vs_skill.py --checkpoints runs/series runs/agents/seed2-1M/series --out runs/sweep \\
        --steps 60000 --samples 1000000 --episodes 10

Stages already finished in ``--out`` are reused, so the table can be written from an interrupted sweep
by pointing ``--checkpoints`` at a folder holding only the finished checkpoints.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from _report import BENCHMARKS_MD, append_section
from rlsae.sweep import ARMS, SWEEP_PNG, SweepConfig, arm_plot, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoints", type=Path, nargs="+", default=[Path("runs/series")])
    parser.add_argument("--out", type=Path, default=Path("runs/sweep"))
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--episodes", type=int, default=30, help="spliced games per SAE (0: none)")
    parser.add_argument("--score-episodes", type=int, default=30, help="games that score each agent")
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    args = parser.parse_args()
    result = run_sweep(SweepConfig(checkpoints=tuple(args.checkpoints), out=args.out, steps=args.steps,
                                   samples=args.samples, episodes=args.episodes,
                                   score_episodes=args.score_episodes, arms=tuple(args.arms),
                                   progress=False))

    def fmt(value: float | None, pattern: str) -> str:
        return "n/a" if value is None else pattern.format(value)

    rows = []
    for row in result.rows:
        for arm, m in row.arms.items():
            e = m.evaluation
            rows.append([row.run, row.checkpoint, f"{row.step or 0:,}", f"{row.score:.0f} +- {row.score_std:.0f}", arm,
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
        a = result.analysis[arm]
        notes.append(f"  - live share over {a.runs} runs: partial r with score given steps {a.partial_score.shown()}, "
                     f"with steps given score {a.partial_steps.shown()}; live share ~ run intercept + score + steps "
                     f"(ranks): score {a.model_score.shown()}, steps {a.model_steps.shown()}; per run (rho with "
                     "score / steps): " + ", ".join(f"{t.run} {fmt(t.live_vs_score, '{:+.2f}')} / "
                                                    f"{fmt(t.live_vs_steps, '{:+.2f}')}" for t in a.per_run))
    notes.append(f"\n**Verdict:** {result.verdict}")
    results = BENCHMARKS_MD.parent / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    plots = [(SWEEP_PNG, "dead_vs_skill.png"), *((arm_plot(a), f"dead_vs_skill_{a}.png") for a in args.arms)]
    for source, name in plots:
        shutil.copy(args.out / source, results / name)
        notes.append(f"\n![{name}]({(results / name).relative_to(BENCHMARKS_MD.parent)})")
    append_section("Dead features vs agent skill (rlsae sweep)",
                   ["run", "checkpoint", "step", "score (30 games)", "SAE", "dead (held-out)", "FVU",
                    "greedy agreement", "spliced / clean", "live labeled"], rows, "\n".join(notes))


if __name__ == "__main__":
    main()
