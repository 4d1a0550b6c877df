"""The steering benchmark's table in BENCHMARKS.md: per goal, every handle at the largest edit size.

    python benchmarks/steer_bench.py runs/steer-bench --notes "..."

Reads `rlsae steer-bench` output folders (written with the command the notes give). Per goal and handle:
success from the held-out starts with its Wilson 95% interval, * where the paired (McNemar) p against the
clean agent is < 0.05, and the policy movement on unrelated states (tv). The last columns test issue 22: the
best feature's paired p against the best neuron and the largest against a control (negative: that handle
reached the goal more often), and whether it beats all of them (p < 0.05) while moving the policy less than
every control.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from _report import append_section
from rlsae.analysis.steer_bench import RESULTS, at_largest, beats_all, handles_of, picture
from rlsae.analysis.steer_bench_results import CONTROLS, HandleScore, SteerBenchRun


def cell(s: HandleScore | None) -> str:
    if s is None:
        return "-"
    unit = f" #{s.unit}" if s.unit is not None else ""
    return (f"{s.success:.0%}{'*' if s.p_clean < 0.05 else ''} [{s.wilson_low:.0%}, {s.wilson_high:.0%}]{unit} "
            f"tv {s.policy_tv:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outputs", type=Path, nargs="+", help="`rlsae steer-bench` output folders")
    parser.add_argument("--title", default="Steering benchmark: SAE features against neurons, probes and controls")
    parser.add_argument("--notes", default="")
    parser.add_argument("--figure", type=Path, help="also draw every output's goals in one PNG here")
    args = parser.parse_args()
    runs = [SteerBenchRun.load(folder / RESULTS) for folder in args.outputs]
    if args.figure is not None:
        picture(replace(runs[0], goals=[g for run in runs for g in run.goals]), args.figure)
    names = list(dict.fromkeys(h for run in runs for h in handles_of(run)))
    rows = []
    for run in runs:
        for goal in run.goals:
            at = at_largest(goal)
            size = next(iter(at.values())).size_ratio
            worst = max((goal.best_vs[c] for c in CONTROLS), key=abs)  # the control it is least sure to beat
            rows.append([goal.goal, f"{goal.expression} {'within' if goal.holds == 'once' else 'throughout'} "
                         f"{goal.horizon}", f"{len(goal.held_starts)}", f"{size:g}", f"{goal.clean_success:.0%}",
                         *[cell(at.get(n)) for n in names], f"{goal.best_vs['best neuron']:+.2g}", f"{worst:+.2g}",
                         "yes" if beats_all(goal) else "no"])
    header = ["goal", "fact", "held-out starts", "edit / norm", "clean", *names, "p best feature vs neuron",
              "largest p vs a control", "best feature beats all"]
    append_section(args.title, header, rows, args.notes)


if __name__ == "__main__":
    main()
