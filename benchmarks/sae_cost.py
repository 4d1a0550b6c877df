"""What `rlsae train-sae` costs as the recording grows: wall time and peak resident memory per run.

    python benchmarks/sae_cost.py --recording runs/demo/recording --work /tmp/cost --sizes 80000 300000 \\
        1000000 3000000 --d-sae 2048 8192 --steps 40 --baseline-src /tmp/src-before-streaming

Recordings longer than the source are built from its states (``build``): copy r of the source's
steps, in order, with episode ids shifted by r x (largest id + 1) so each copy's episodes are new ones
for the held-out split, and each non-zero activation moved by Gaussian noise of 5% of its dimension's
standard deviation (clipped at 0; zeros stay zero, so the layer keeps its post-ReLU sparsity). Q-values,
actions, RAM and the rest are the source step's. Chunks of 65,536 steps, float32 like the source; no
emulator snapshots (train-sae does not replay frames).

Each run is `rlsae train-sae` in its own process, ``--steps`` steps of batch ``--batch-size`` (everything
else the defaults), its peak RSS read from the kernel (wait4's ru_maxrss) and its wall time end to end;
the per-step time is from its log. ``--baseline-src`` runs the same commands with another checkout's
src/ (the loader that read all training states into RAM) on the sizes below ``--baseline-max``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _report import append_section
from rlsae.record.recording import Recording
from rlsae.record.store import CHUNKS, EPISODES, MANIFEST, RESUME, SNAPSHOTS, STEP_ARRAYS

CHUNK = 65_536
NOISE = 0.05


def build(source: Path, out: Path, steps: int, seed: int = 0) -> Path:
    """A recording of ``steps`` steps made of noisy copies of ``source``'s (see the module's note)."""
    if (out / MANIFEST).exists():
        return out
    import pyarrow as pa
    import pyarrow.parquet as pq

    rec = Recording.open(source)
    n = len(rec)
    ids = np.asarray(rec.episode_ids)
    id_stride = int(ids.max()) + 1
    sigma = np.asarray(rec.activations[np.sort(np.random.default_rng(seed).choice(n, min(n, 20_000), False))],
                       np.float32).std(0)
    rng = np.random.default_rng(seed)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / CHUNKS).mkdir(parents=True)
    if (source / "agent").exists():
        shutil.copytree(source / "agent", tmp / "agent")
    for c, start in enumerate(range(0, steps, CHUNK)):
        rows = np.arange(start, min(start + CHUNK, steps))
        src, copy = rows % n, rows // n
        folder = tmp / CHUNKS / f"{c:06d}"
        folder.mkdir()
        for name in STEP_ARRAYS:
            values = np.asarray(getattr(rec, name)[src])
            if name == "activations":
                moved = values + NOISE * sigma * rng.standard_normal(values.shape, np.float32)
                values = np.where(values > 0, np.maximum(moved, 0), 0).astype(values.dtype)
            elif name == "episode_ids":
                values = values + copy * id_stride
            np.save(folder / f"{name}.npy", values)
        np.save(folder / "snapshot_keys.npy", np.zeros((0, 2), np.int64))
        np.save(folder / "snapshot_offsets.npy", np.zeros(1, np.int64))
        (folder / SNAPSHOTS).write_bytes(b"")
        columns = ("episode_id", "env", "noops", "start_step", "run")
        pq.write_table(pa.table({k: pa.array([], pa.int64()) for k in columns}), folder / EPISODES)
        np.savez(folder / RESUME)
    manifest = {**rec.manifest, "n_steps": steps, "n_chunks": -(-steps // CHUNK),
                "built_by": f"benchmarks/sae_cost.py from {source}: {NOISE} x std noise on non-zero activations"}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    tmp.rename(out)
    return out


def run(recording: Path, out: Path, d_sae: int, args: argparse.Namespace, src: Path) -> dict:
    """One `rlsae train-sae` process: wall time, peak RSS, per-step time."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "rlsae.cli", "train-sae", "--recording", str(recording), "--out", str(out),
               "--d-sae", str(d_sae), "--k", "32", "--samples", str(args.steps * args.batch_size),
               "--batch-size", str(args.batch_size), "--seed", "1", "--log-every", str(max(1, args.steps // 3)),
               "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(args.threads)}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    per_step = (log[-1]["wall"] - log[0]["wall"]) / (log[-1]["step"] - log[0]["step"])
    meta = json.loads((out / "cfg.json").read_text())["metadata"]["rlsae"]
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "per_step": per_step, "load": load,
            "train_states": meta["train_states"], "before_training": wall - log[-1]["wall"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, required=True, help="the source recording")
    parser.add_argument("--work", type=Path, required=True, help="folder for the built recordings and SAEs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[80_000, 300_000, 1_000_000, 3_000_000])
    parser.add_argument("--d-sae", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=2048, help="the demo budget's batch (2M samples)")
    parser.add_argument("--budget", type=int, default=2_000_000, help="samples the time column extrapolates to")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline-src", type=Path, help="src/ of the checkout before streaming")
    parser.add_argument("--baseline-max", type=int, default=1_000_000, help="largest size run with the baseline")
    args = parser.parse_args()
    src = Path(__file__).resolve().parent.parent / "src"
    rows = []
    for size in args.sizes:
        recording = args.recording if size == len(Recording.open(args.recording)) else \
            build(args.recording, args.work / f"rec-{size}", size)
        sides = [("streamed", src)]
        if args.baseline_src and size <= args.baseline_max:
            sides.append(("all in RAM (before)", args.baseline_src))
        for d_sae in args.d_sae:
            for name, code in sides:
                if name != "streamed" and d_sae != args.d_sae[0]:
                    continue
                r = run(recording, args.work / f"sae-{size}-{d_sae}", d_sae, args, code)
                budget_steps = args.budget // args.batch_size
                rows.append([f"{size:,}", f"{r['train_states']:,}", str(d_sae), name, f"{r['rss_mib']:,.0f}",
                             f"{r['before_training']:.0f}", f"{r['per_step'] * 1000:,.0f}",
                             f"{(r['before_training'] + budget_steps * r['per_step']) / 60:.1f}", f"{r['load']:.1f}"])
                print(rows[-1], flush=True)
    notes = (f"Each row: one `rlsae train-sae --d-sae D --k 32 --samples {args.steps * args.batch_size} "
             f"--batch-size {args.batch_size} --seed 1` process ({args.steps} steps), OMP_NUM_THREADS={args.threads}. "
             "Peak RSS: the process's ru_maxrss (wait4). Before training: wall time minus the log's training "
             "wall (opening, loading or counting the states, statistics, initialisation, held-out evaluation "
             "and saving). Step: mean wall time per step from the log. Demo budget: before training + "
             f"{args.budget:,} samples / batch {args.batch_size} steps at that step time. Load: the 1-minute load "
             "average when the run started (2 cores shared with other jobs: step times vary with it). "
             "Recordings above the source's length are built from its states: " + __doc__.split(
                 "Recordings longer than the source are built from its states (``build``): ")[1].split(
                 "\n\nEach run")[0].replace("\n", " "))
    append_section("train-sae cost as the recording grows (CPU)",
                   ["recorded states", "training states", "latents", "loader", "peak RSS (MiB)",
                    "before training (s)", "step (ms)", "demo budget (min, extrapolated)", "load"], rows, notes)


if __name__ == "__main__":
    main()
