"""Recording speed against raw env stepping, in one run: does recording use the machine's cores?

    python benchmarks/record_throughput.py --num-envs 8 --steps 2048 --workers 0 1 2

Rows: raw vector-env random stepping (the ceiling: `rlsae.envs.atari.make_vector_env`, its own C++
threads), then `rlsae record` with the shipped agent and the emulators in the recording process
(--workers 0) or in 1 or 2 worker processes beside it. Recording rates are steady state (the extra steps
of a 3x longer recording over its extra time, so start-up cancels). Other processes compete for the
cores: the busy cores measured just before the run are written next to the numbers (a rate measured
with a core taken by another job is not the machine's rate).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _report import append_section, raw_steps_per_second
from record_speed import record_seconds

ISSUE_BASELINE = 1076  # steps/s recorded on 2 cores when issue 12 was filed (8 envs), against 5,733 raw


def busy_cores(seconds: float = 3.0) -> float:
    """Cores kept busy by everything on the machine over ``seconds`` (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2048, help="steps of the short recording (the long one: 3x)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    load = busy_cores()
    raw = raw_steps_per_second(args.num_envs, 4 * args.steps, training=False)
    rows = [["raw vector-env stepping (random actions)", f"{raw:,.0f}", "1.00", "-"]]
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workers:
            short = record_seconds(Path(tmp) / f"short{w}", args.steps, args.num_envs, "float32", w)
            long = record_seconds(Path(tmp) / f"long{w}", 3 * args.steps, args.num_envs, "float32", w)
            rate = 2 * args.steps / (long - short)
            rows.append([f"rlsae record --workers {w}", f"{rate:,.0f}", f"{rate / raw:.2f}",
                         f"{rate / ISSUE_BASELINE:.2f}"])
    load_after = busy_cores()
    notes = (f"{args.num_envs} envs; {os.cpu_count()} cores, of which {load:.1f} were busy with other processes "
             f"just before the run and {load_after:.1f} just after. 'vs issue' is the rate over the 1,076 steps/s "
             "recorded when issue 12 was filed (goal: >= 2x on 2 free cores).")
    append_section("Recording throughput vs raw env stepping",
                   ["what", "steps/s", "vs raw", "vs issue"], rows, notes)


if __name__ == "__main__":
    main()
