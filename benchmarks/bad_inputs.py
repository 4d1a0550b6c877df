"""The bad-input sweep: bad inputs, bad values and faults against every command, as a careful user would.

Builds tiny real outputs once with the CLI (a random-weight agent, a 320-step recording, a 32-latent SAE,
its evaluation, interpret, steer and browser outputs), then runs each case as its own `rlsae` process and
classifies it:

    good  the expected outcome: a one-line `rlsae CMD: error: ...` with exit code != 0 where the input is a
          mistake (exit 0 where it is a legitimate request), no traceback, no stray temporary files
    poor  a traceback, a message of more than one line, a mistake accepted (exit 0), a legitimate request
          refused, or temporary files left behind
    bad   data lost (any file of the shared outputs or of a case's protected folder changed), a hang
          (killed at the time limit), or a non-finite result saved with exit 0

Range cases are generated from every command's config (each field's declared range and type); the
rest are written out below. The counts and every non-good row go into BENCHMARKS.md.

    python benchmarks/bad_inputs.py [--work runs/bad_inputs] [--only SUBSTRING] [--no-report] [--again]

--again runs only the cases the last run (WORK/results.json) did not judge good, e.g. after fixing
them, and reports both passes: the first pass's counts and the re-run's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section  # noqa: E402
from bad_input_base import build_base, digest  # noqa: E402
from bad_input_cases import all_cases  # noqa: E402
from bad_input_judge import run_case  # noqa: E402


def report(rows: list[dict], seconds: float, rerun: int, first: Counter | None) -> None:
    """Counts per kind and every non-good row; ``rows`` hold each case's latest verdict."""
    counts = Counter(r["verdict"] for r in rows)
    tried = sum(counts[v] for v in ("good", "poor", "bad"))
    by_kind: dict[str, Counter] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], Counter())[r["verdict"]] += 1
    table = [[kind, str(c["good"] + c["poor"] + c["bad"]), str(c["good"]), str(c["poor"]), str(c["bad"])]
             for kind, c in by_kind.items()]
    table.append(["**all**", str(tried), str(counts["good"]), str(counts["poor"]), str(counts["bad"])])
    how = (f"{tried} cases on tiny real outputs, each its own `rlsae` process ({seconds / 60:.1f} min)"
           if first is None else
           f"{tried} cases on tiny real outputs, each its own `rlsae` process. First pass: "
           f"{sum(first[v] for v in ('good', 'poor', 'bad'))} tried, {first['good']} good, {first['poor']} poor, "
           f"{first['bad']} bad; after fixes, the cases not judged good (and new ones) were run again "
           f"(`--again`; the last re-run: {rerun} cases, {seconds / 60:.1f} min): the table holds each case's "
           "latest verdict")
    notes = [how + (f"; {counts['skipped']} skipped (no tmpfs could be mounted)" if counts["skipped"] else "")
             + ". Good: the expected one-line error (or the request carried out), no traceback, nothing changed "
             "that the command did not write, no temporary files left. Every case not judged good:", "",
             "| verdict | kind | case | what happened |", "|---|---|---|---|"]
    notes += [f"| {r['verdict']} | {r['kind']} | {r['case']} | {r['why'].replace('|', '/')} |"
              for r in rows if r["verdict"] in ("poor", "bad")] or ["| - | - | (none) | - |"]
    append_section("Bad-input sweep", ["kind", "tried", "good", "poor", "bad"], table, "\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/bad_inputs"))
    parser.add_argument("--only", default="", help="run only the cases whose name holds this")
    parser.add_argument("--no-report", action="store_true", help="do not write BENCHMARKS.md")
    parser.add_argument("--again", action="store_true", help="re-run only the last run's cases not judged good")
    args = parser.parse_args()
    work = args.work.resolve()
    build_base(work / "base")
    before = digest(work / "base")
    cases = [c for c in all_cases() if args.only in c.name]
    earlier: dict[str, dict] = {}
    first_pass = work / "results.first.json"  # the last full run's verdicts, kept for the report of re-runs
    if args.again:
        earlier = {r["case"]: r for r in json.loads((work / "results.json").read_text())}
        cases = [c for c in cases if earlier.get(c.name, {}).get("verdict") != "good"]
        if not first_pass.exists():
            shutil.copy(work / "results.json", first_pass)
    elif not args.only:
        first_pass.unlink(missing_ok=True)
    start = time.perf_counter()
    results = []
    for i, case in enumerate(cases):
        result = run_case(case, work, i)
        if digest(work / "base") != before:
            result.verdict, result.why = "bad", "changed the shared outputs it read"
            shutil.rmtree(work / "base")
            build_base(work / "base")
            before = digest(work / "base")
        results.append(result)
        print(f"[{i + 1}/{len(cases)}] {result.verdict:<7} {case.name}: {result.why} ({result.seconds:.1f} s)",
              flush=True)
    rows = {**earlier, **{r.case.name: {"kind": r.case.kind, "case": r.case.name, "verdict": r.verdict, "why": r.why,
                                        "code": r.code, "stderr": r.stderr[-2000:]} for r in results}}
    (work / "results.json").write_text(json.dumps(list(rows.values()), indent=1))
    counts = Counter(r.verdict for r in results)
    print(f"tried {sum(counts[v] for v in ('good', 'poor', 'bad'))}: {dict(counts)}")
    if not args.no_report and not args.only:
        first = Counter(r["verdict"] for r in json.loads(first_pass.read_text())) if args.again else None
        report(list(rows.values()), time.perf_counter() - start, len(results), first)


if __name__ == "__main__":
    main()
