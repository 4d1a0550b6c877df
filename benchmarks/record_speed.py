"""record throughput relative to raw vector-env stepping (same env count, same run), and disk per step.

    python benchmarks/record_speed.py --num-envs 8 --steps 4096 --workers 0 1

Rows: raw AtariVectorEnv random stepping (steps/s); recording with the shipped agent (steps/s) with the
emulators in the recording process (--workers 0) or in a worker process beside it (1), and their ratio
to raw stepping; bytes per step on disk (float32 and float16 activations) extrapolated to 1M steps;
re-rendering speed (frames/s for random steps); random-batch read speed of the activations (SAE-style).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import append_section, raw_steps_per_second
from rlsae.record.recorder import RecordConfig, record
from rlsae.record.recording import Recording


def record_seconds(out: Path, steps: int, num_envs: int, dtype: str, workers: int = 1) -> float:
    start = time.perf_counter()
    record(RecordConfig(out=out, steps=steps, num_envs=num_envs, dtype=dtype, workers=workers, progress=False))
    return time.perf_counter() - start


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.parent.name != "agent")


def read_speed(rec: Recording, batch: int = 4096, reps: int = 5) -> float:
    """Random sorted batches of activations as float32, rows/s."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(reps):
        rec.activations[np.sort(rng.choice(len(rec), min(batch, len(rec)), replace=False))].astype(np.float32)
    return reps * min(batch, len(rec)) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8])
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--renders", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    rows = []
    for n in args.num_envs:
        raw_before = raw_steps_per_second(n, args.steps, training=False)
        with tempfile.TemporaryDirectory() as tmp:
            # steady state: the extra steps of a 3x longer recording over the extra time (start-up cancels)
            rates = {}
            for w in args.workers:
                short = record_seconds(Path(tmp) / f"short{w}", args.steps, n, "float32", w)
                long = record_seconds(Path(tmp) / f"long{w}", 3 * args.steps, n, "float32", w)
                rates[w] = 2 * args.steps / (long - short)
            raw = (raw_before + raw_steps_per_second(n, args.steps, training=False)) / 2  # around the timed recordings
            (Path(tmp) / f"long{args.workers[-1]}").rename(Path(tmp) / "float32")
            record_seconds(Path(tmp) / "float16", 3 * args.steps, n, "float16")
            sizes = {}
            for dtype in ("float32", "float16"):
                out = Path(tmp) / dtype
                rec = Recording.open(out)
                sizes[dtype] = disk_bytes(out) / len(rec)
                snap = sum((c / "snapshots.bin").stat().st_size for c in rec.chunks) / len(rec)
                reads = read_speed(rec)
                if dtype == "float32":
                    idx = np.random.default_rng(1).choice(len(rec), args.renders, replace=False)
                    start = time.perf_counter()
                    rec.render_frames(idx)
                    render_rate = args.renders / (time.perf_counter() - start)
                rec_rate = " / ".join(f"{rates[w]:,.0f}" for w in args.workers)
                ratio = " / ".join(f"{rates[w] / raw:.2f}" for w in args.workers)
                rows.append([str(n), dtype, f"{raw:,.0f}", rec_rate, ratio,
                             f"{sizes[dtype]:,.0f}", f"{snap:,.0f}", f"{sizes[dtype] * 1e6 / 2**30:.2f}",
                             f"{render_rate:,.0f}", f"{reads:,.0f}"])
    append_section("record vs raw env stepping, disk per step",
                   ["envs", "activations", "raw env steps/s",
                    f"record steps/s (--workers {' / '.join(map(str, args.workers))})", "ratio", "bytes/step",
                    "of which snapshots", "GiB per 1M steps", "render frames/s (random steps)",
                    "activation reads rows/s (random 4096-batches, as float32)"], rows,
                   notes="Record steps/s: steady state with float32 activations, (3S - S) steps over "
                         "T(3S) - T(S) with the shipped agent, for each --workers value (0: emulators in the "
                         "recording process; 1: in a worker process, overlapping the network). Snapshots every "
                         "16 episode steps.")


if __name__ == "__main__":
    main()
