"""SAE training samples/s: rlsae's trainer against SAELens' own, same data, width, k, batch and run.

    python benchmarks/sae_speed.py --recording runs/rec100k --steps 30

SAELens is never a dependency of ours: it lives in its own venv (``--venv``, made on first use and
reused after), and its side runs there in a subprocess. Both sides read the same float32 .npy and use
the same torch version and thread count. The issue's goal: >= 2x SAELens on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.record.recording import Recording
from rlsae.sae.data import q_head
from rlsae.sae.train import Trainer, TrainSAEConfig

ROOT = Path(__file__).resolve().parent.parent

# Runs under the SAELens venv's python. The timed loop is the body of SAETrainer.fit() without its
# wandb logging and progress bar: `step()` (SAELens' own "public seam used by fit()") does the batch
# move, TrainingSAE.training_forward_pass (MSE + AuxK), backward, grad clipping, Adam, lr and
# coefficient schedulers and the dead-latent counters.
SAELENS_PROGRAM = r"""
import json, sys, time
import numpy as np, torch
import sae_lens
from sae_lens import SAETrainer, TopKTrainingSAE, TopKTrainingSAEConfig
from sae_lens.config import SAETrainerConfig

a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
torch.manual_seed(a["seed"])
x = torch.from_numpy(np.load(a["npy"]))

def batches():  # a fresh random permutation per epoch, as rlsae's Trainer.next_batch draws them
    g = torch.Generator().manual_seed(a["seed"])
    while True:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - a["batch"] + 1, a["batch"]):
            yield x[order[i:i + a["batch"]]]

sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=a["d_sae"], k=a["k"],
                                            use_sparse_activations=a["sparse"]))
total = a["batch"] * (a["warmup"] + a["steps"])
trainer = SAETrainer(SAETrainerConfig(total_training_samples=total, train_batch_size_samples=a["batch"],
                                      lr=a["lr"], lr_end=a["lr"] / 10,  # the runner config's default
                                      device="cpu", dead_feature_window=a["window"]),
                     sae, data_provider=batches())

def step():
    trainer.maybe_reset_sparsity()
    trainer.step(next(trainer.data_provider))
    trainer.n_training_steps += 1

for _ in range(a["warmup"]):
    step()
start = time.perf_counter()
for _ in range(a["steps"]):
    step()
elapsed = time.perf_counter() - start
print(json.dumps({"samples_per_s": a["steps"] * a["batch"] / elapsed, "version": sae_lens.__version__,
                  "dead_fraction": trainer.dead_neurons.float().mean().item()}))
"""


def saelens_python(venv: Path, version: str) -> Path:
    """The venv's python with sae-lens importable, creating the venv on first use."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import sae_lens"], check=False,
                                              capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [python, "-m", "pip", "install", "--quiet"]
    # torch first, pinned to ours: pip then keeps it for sae-lens instead of pulling a multi-GB CUDA
    # build, and both sides run the same kernels.
    subprocess.run([*pip, f"torch=={torch.__version__.split('+')[0]}"], check=True)
    subprocess.run([*pip, f"sae-lens=={version}"], check=True)
    return python


def load_activations(recording: Path | None, samples: int, seed: int) -> tuple[np.ndarray, tuple | None, str]:
    """float32 [n, d] activations (and the Q-head when they feed it), from a recording or random."""
    if recording is not None and (recording / "manifest.json").exists():
        rec = Recording.open(recording)
        n = min(samples, len(rec))
        index = np.sort(np.random.default_rng(seed).choice(len(rec), n, replace=False))
        x = np.asarray(rec.activations[index], dtype=np.float32)
        return x, q_head(rec), f"{n:,} states of {recording}"
    # Non-negative like a post-ReLU layer; the speed of either side does not depend on the values.
    x = np.random.default_rng(seed).exponential(size=(samples, 512)).astype(np.float32)
    return x, None, f"{samples:,} random exponential samples (no recording at {recording})"


def rlsae_speed(x: np.ndarray, head: tuple | None, advantage_weight: float, args: argparse.Namespace) -> dict:
    # dead_window in samples, matched to SAELens' window in steps (it counts a latent dead after
    # window + 1 silent steps), so both sides run AuxK on the same rule.
    cfg = TrainSAEConfig(d_sae=args.d_sae, options={"k": args.k}, batch_size=args.batch_size, device="cpu",
                         advantage_weight=advantage_weight, dead_window=(args.dead_window + 1) * args.batch_size,
                         lr=args.lr, seed=args.seed, progress=False)
    data = torch.from_numpy(x)
    trainer = Trainer(cfg, data, data[:1000], head if advantage_weight > 0 else None)  # held-out: unused

    def step() -> None:  # Trainer.run()'s loop body, without its logging and checkpoints
        trainer.train_step(trainer.next_batch())
        trainer.step += 1

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    elapsed = time.perf_counter() - start
    dead = (trainer.since_fired >= trainer.dead_window).float().mean().item()
    return {"samples_per_s": args.steps * args.batch_size / elapsed, "dead_fraction": dead}


def saelens_speed(python: Path, npy: Path, sparse: bool, args: argparse.Namespace) -> dict:
    settings = {"npy": str(npy), "d_sae": args.d_sae, "k": args.k, "batch": args.batch_size, "lr": args.lr,
                "steps": args.steps, "warmup": args.warmup, "threads": args.threads, "seed": args.seed,
                "window": args.dead_window, "sparse": sparse}
    done = subprocess.run([python, "-c", SAELENS_PROGRAM, json.dumps(settings)], check=False, capture_output=True,
                          text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:  # the full error to stderr, the exception's first sentence to the table
        print(done.stderr, file=sys.stderr)
        raised = [line for line in done.stderr.splitlines() if re.match(r"[\w.]+(Error|Exception)\b", line)]
        raise RuntimeError((raised or done.stderr.strip().splitlines() or ["no output"])[-1].split(". ")[0])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, default=ROOT / "runs/rec100k",
                        help="recording to read activations from (random data if absent)")
    parser.add_argument("--samples", type=int, default=200_000, help="activations to train on")
    parser.add_argument("--d-sae", type=int, default=2048)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (> --dead-window, "
                        "so the timed steps run with dead-latent tracking live)")
    parser.add_argument("--dead-window", type=int, default=5, help="silent steps after which a latent is "
                        "dead for AuxK, both sides")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads, both sides")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-saelens", help="SAELens' own venv")
    parser.add_argument("--saelens-version", default="6.54.12")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    x, head, source = load_activations(args.recording, args.samples, args.seed)
    ours = rlsae_speed(x, head, 0.0, args)
    rows = [["rlsae, advantage_weight=0", f"{ours['samples_per_s']:,.0f}", f"{ours['dead_fraction']:.1%}"]]
    if head is not None:
        default = rlsae_speed(x, head, 1.0, args)
        rows.append(["rlsae default (advantage_weight=1)", f"{default['samples_per_s']:,.0f}",
                     f"{default['dead_fraction']:.1%}"])

    theirs: dict[str, dict] = {}
    try:
        python = saelens_python(args.venv, args.saelens_version)
    except (subprocess.CalledProcessError, OSError) as error:
        python = None
        print(f"SAELens could not be installed into {args.venv}, reporting rlsae only: {error}", file=sys.stderr)
    if python is not None:
        with tempfile.TemporaryDirectory() as tmp:
            npy = Path(tmp) / "activations.npy"
            np.save(npy, x)
            for name, sparse in [("default", False), ("use_sparse_activations=True", True)]:
                try:
                    theirs[name] = saelens_speed(python, npy, sparse, args)
                    rows.append([f"SAELens {theirs[name]['version']} TopK, {name}",
                                 f"{theirs[name]['samples_per_s']:,.0f}", f"{theirs[name]['dead_fraction']:.1%}"])
                except RuntimeError as error:
                    rows.append([f"SAELens TopK, {name}", f"fails: {error}", ""])
    if theirs:
        best = max(theirs, key=lambda name: theirs[name]["samples_per_s"])
        ratio = ours["samples_per_s"] / theirs[best]["samples_per_s"]
        rows.append([f"ratio rlsae (advantage_weight=0) / SAELens {best}", f"{ratio:.2f}x", ""])
    else:
        rows.append(["SAELens", "not measured (see stderr)", ""])

    notes = (
        f"Data: {source}, float32 [n, 512], the same .npy on both sides; {args.d_sae} latents, k={args.k}, "
        f"batch {args.batch_size}, CPU, {args.threads} torch threads, torch {torch.__version__} on both sides "
        f"(SAELens in its own venv, {args.venv.name}/). Each side: {args.warmup} untimed steps, then "
        f"{args.steps} timed steps.\n"
        "rlsae timed `Trainer.train_step(trainer.next_batch())`: random batch gather + input scaling, sparse "
        "Top-K forward, FVU (+ the advantage-aware term for the default row), AuxK, backward, decoder-gradient "
        "projection, Adam, decoder renormalisation, dead-latent counters.\n"
        "SAELens timed the body of `SAETrainer.fit()` without wandb/progress bar: `next(data_provider)` (the "
        "same random batch gather), `SAETrainer.step()` = `TopKTrainingSAE.training_forward_pass` (MSE + its "
        "TopK aux loss, defaults: aux_loss_coefficient 1, rescale_acts_by_decoder_norm), backward, grad-norm "
        "clipping, Adam, schedulers, dead-latent counters. `default` uses dense Top-K activations (SAELens' "
        "default); the ratio is against the faster SAELens row.\n"
        f"Both count a latent dead after {args.dead_window + 1} silent steps and then run AuxK on it; the "
        "dead column is the dead fraction at the last timed step."
    )
    append_section("SAE training throughput vs SAELens (CPU)", ["trainer", "samples/s", "dead latents"],
                   rows, notes)


if __name__ == "__main__":
    main()
