"""Can the sweep's verdict tell score from training time? Its statistics on planted studies, and on the one run
measured so far, written into BENCHMARKS.md.

    python benchmarks/dead_vs_skill_power.py --studies 40 --replicates 500

Planted studies (rlsae.analysis.dead_vs_skill.planted_runs): runs whose skill differs, 7 checkpoints each from
250k to 8M steps, the live share a noisy curve of steps only, of score only, or of neither. For each truth and
number of runs: how often the verdict names it, and how often each interval excludes 0. Then the same
statistics on the rows of the 2026-11-26 sweep (one run, ten checkpoints), read from BENCHMARKS.md's table.
"""

from __future__ import annotations

import argparse
import re

from _report import BENCHMARKS_MD, append_section
from rlsae.analysis.dead_vs_skill import Point, analyse_arm, planted_runs

EXPECTED = {"steps": "live features track training time, not score", "score": "live features track score, not "
            "training time", "neither": "cannot tell whether"}
ONE_RUN_SECTION = "### Dead features vs agent skill (rlsae sweep) (2026-11-26)"


def one_run_points(arm: str) -> list[Point]:
    """The 2026-11-26 sweep's rows for ``arm``: step, 30-game score and live count (of 2048) from its table."""
    text = BENCHMARKS_MD.read_text()
    section = text[text.index(ONE_RUN_SECTION):]
    section = section[:section.index("\n### ", 1)]
    points = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[3] == arm and (live := re.search(r"\((\d+) live\)", cells[4])):
            points.append(Point("series", float(cells[1].replace(",", "")), float(cells[2].split("+-")[0]),
                                int(live.group(1)) / 2048))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=40)
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--runs", type=int, nargs="+", default=[3, 6])
    args = parser.parse_args()
    rows = []
    for runs in args.runs:
        for truth, expected in EXPECTED.items():
            results = [analyse_arm(planted_runs(truth, runs, seed=s), "planted", seed=s, replicates=args.replicates)
                       for s in range(args.studies)]
            right = sum(expected in a.verdict for a in results) / len(results)
            score = sum(a.partial_score.excludes_zero() for a in results) / len(results)
            steps = sum(a.partial_steps.excludes_zero() for a in results) / len(results)
            mean = sum(a.partial_score.value for a in results) / len(results)
            rows.append([truth, str(runs), str(runs * 7), f"{right:.0%}", f"{mean:+.2f}", f"{score:.0%}",
                         f"{steps:.0%}"])
            print(rows[-1], flush=True)
    notes = [f"{args.studies} planted studies per row, {args.replicates} bootstrap replicates per interval; "
             "noise on the live share 0.002 against a signal spanning ~0.07 (steps) or ~0.04-0.1 (score)."]
    for arm, recipe in (("talk", "The talk's recipe"), ("default", "Our recipe")):
        a = analyse_arm(one_run_points(arm), recipe, replicates=args.replicates)
        notes.append(f"- {a.verdict}; score and steps rank together at {a.score_vs_steps:+.2f}; model slopes "
                     f"score {a.model_score.shown()}, steps {a.model_steps.shown()}")
    append_section("Dead-vs-skill statistics: planted studies and the one measured run",
                   ["live share follows", "runs", "agents", "verdict right",
                    "mean partial r with score given steps", "its interval excludes 0",
                    "partial r with steps given score: interval excludes 0"], rows, "\n".join(notes))


if __name__ == "__main__":
    main()
