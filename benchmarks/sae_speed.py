"""SAE training samples/s: rlsae's trainer against SAELens' and EleutherAI sparsify's own, same data,
width, k, batch and run.

    python benchmarks/sae_speed.py --recording runs/rec100k --steps 30

SAELens and sparsify are never dependencies of ours: they live in their own venv (``--venv``, made on
first use with ``--system-site-packages`` so it reuses our torch, and reused after), and their sides run
there in subprocesses. Every side reads the same float32 .npy and uses the same torch and thread count.
The issue's goal: >= 5x SAELens on the CPU.
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
from rlsae.sae.data import RecordingBatches, q_head
from rlsae.sae.train import Trainer, TrainSAEConfig

ROOT = Path(__file__).resolve().parent.parent
SAELENS_VERSION, SPARSIFY_VERSION = "6.54.12", "1.3.3"  # what the comparison venv installs by default

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

# Runs under the same venv's python. The timed loop is sparsify's Trainer.fit() step for the "fvu" loss
# without its model forward, hooks, logging and checkpoints: decoder renormalisation, dead mask, the
# batch's total variance, SparseCoder.forward (Top-K encode, sparse decode, AuxK on dead latents), the
# fired mask, loss (fvu + auxk_alpha x auxk), backward, decoder-gradient projection, optimizer and
# scheduler steps, the since-fired counters; b_dec at the first batch's mean, as fit() sets it.
SPARSIFY_PROGRAM = r"""
import json, sys, time
import numpy as np, torch
from importlib.metadata import version
from sparsify import SparseCoder, SparseCoderConfig

a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
torch.manual_seed(a["seed"])
x = torch.from_numpy(np.load(a["npy"]))

def batches():
    g = torch.Generator().manual_seed(a["seed"])
    while True:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - a["batch"] + 1, a["batch"]):
            yield x[order[i:i + a["batch"]]]

sae = SparseCoder(x.shape[1], SparseCoderConfig(num_latents=a["d_sae"], k=a["k"]), "cpu", dtype=torch.float32)
if a["optimizer"] == "adam":
    from transformers import get_linear_schedule_with_warmup
    opt = torch.optim.Adam(sae.parameters(), lr=a["lr"])
    schedulers = [get_linear_schedule_with_warmup(opt, 1000, a["warmup"] + a["steps"])]
else:  # sparsify's default: sign SGD under schedule-free momentum, its own lr rule
    from schedulefree import ScheduleFreeWrapper
    from sparsify.sign_sgd import SignSGD
    opt = ScheduleFreeWrapper(SignSGD([dict(params=sae.parameters(), lr=5e-3 / (a["d_sae"] / 2**14) ** 0.5)]),
                              momentum=0.95)
    opt.train()
    schedulers = []
since_fired = torch.zeros(a["d_sae"], dtype=torch.long)
did_fire = torch.zeros(a["d_sae"], dtype=torch.bool)
data = batches()
first = next(data)
sae.b_dec.data = first.mean(0)

def step(batch):
    sae.set_decoder_norm_to_unit_norm()
    dead = since_fired > a["window"] * a["batch"] if a["auxk_alpha"] > 0 else None
    total_variance = (batch - batch.mean(0)).pow(2).sum()
    out = sae(x=batch, y=batch, dead_mask=dead, total_variance=total_variance)
    did_fire[out.latent_indices.flatten()] = True
    float(out.fvu.detach()), float(out.auxk_loss.detach())  # the trainer's running averages
    (out.fvu + a["auxk_alpha"] * out.auxk_loss + out.multi_topk_fvu / 8).backward()
    sae.remove_gradient_parallel_to_decoder_directions()
    opt.step()
    opt.zero_grad()
    for scheduler in schedulers:
        scheduler.step()
    with torch.no_grad():
        since_fired.add_(len(batch))
        since_fired[did_fire] = 0
        did_fire.zero_()

step(first)
for _ in range(a["warmup"] - 1):
    step(next(data))
start = time.perf_counter()
for _ in range(a["steps"]):
    step(next(data))
elapsed = time.perf_counter() - start
if a.get("decoder"):  # for benchmarks/synthetic_recovery.py: what the run learned, not only how fast
    np.save(a["decoder"], sae.W_dec.detach().numpy())
print(json.dumps({"samples_per_s": a["steps"] * a["batch"] / elapsed, "version": version("eai-sparsify"),
                  "dead_fraction": (since_fired > a["window"] * a["batch"]).float().mean().item()}))
"""


def venv_python(venv: Path, saelens: str, sparsify: str) -> Path:
    """The venv's python with sae-lens and sparsify importable, creating the venv on first use."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import sae_lens, sparsify"], check=False,
                                              capture_output=True).returncode == 0:
        return python
    # Our site-packages stay visible, so pip keeps our torch for both instead of pulling a multi-GB
    # CUDA build, and every side runs the same kernels.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"sae-lens=={saelens}", f"eai-sparsify=={sparsify}"],
                   check=True)
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


def rlsae_speed(x: np.ndarray, head: tuple | None, advantage_weight: float, args: argparse.Namespace,
                stream: RecordingBatches | None = None) -> dict:
    # dead_window in samples, matched to SAELens' window in steps (it counts a latent dead after
    # window + 1 silent steps), so both sides run AuxK on the same rule.
    cfg = TrainSAEConfig(d_sae=args.d_sae, options={"k": args.k}, batch_size=args.batch_size, device="cpu",
                         advantage_weight=advantage_weight, dead_window=(args.dead_window + 1) * args.batch_size,
                         lr=args.lr, seed=args.seed, progress=False)
    data = torch.from_numpy(x)
    trainer = Trainer(cfg, stream or data, data[:1000], head if advantage_weight > 0 else None)  # held-out: unused

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


def other_speed(python: Path, program: str, npy: Path, args: argparse.Namespace, **own: object) -> dict:
    """One side run in the venv: ``program`` with the shared settings and its ``own``."""
    settings = {"npy": str(npy), "d_sae": args.d_sae, "k": args.k, "batch": args.batch_size, "lr": args.lr,
                "steps": args.steps, "warmup": args.warmup, "threads": args.threads, "seed": args.seed,
                "window": args.dead_window, **own}
    done = subprocess.run([python, "-c", program, json.dumps(settings)], check=False, capture_output=True,
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
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-compare", help="SAELens' and sparsify's venv")
    parser.add_argument("--saelens-version", default=SAELENS_VERSION)
    parser.add_argument("--sparsify-version", default=SPARSIFY_VERSION)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    x, head, source = load_activations(args.recording, args.samples, args.seed)
    ours = rlsae_speed(x, head, 0.0, args)
    rows = [["rlsae, advantage_weight=0", f"{ours['samples_per_s']:,.0f}", f"{ours['dead_fraction']:.1%}"]]
    if head is not None:
        default = rlsae_speed(x, head, 1.0, args)
        rows.append(["rlsae default (advantage_weight=1)", f"{default['samples_per_s']:,.0f}",
                     f"{default['dead_fraction']:.1%}"])

    if args.recording is not None and (args.recording / "manifest.json").exists():
        streamed = rlsae_speed(x, head, 0.0, args, RecordingBatches(Recording.open(args.recording), 0.1, args.seed))
        rows.append(["rlsae, advantage_weight=0, streamed from the recording (train-sae's loader)",
                     f"{streamed['samples_per_s']:,.0f}", f"{streamed['dead_fraction']:.1%}"])
    load = os.getloadavg()
    theirs: dict[str, dict] = {}
    try:
        python = venv_python(args.venv, args.saelens_version, args.sparsify_version)
    except (subprocess.CalledProcessError, OSError) as error:
        python = None
        print(f"SAELens/sparsify could not be installed into {args.venv}, reporting rlsae only: {error}",
              file=sys.stderr)
    others = [("SAELens {} TopK, default", SAELENS_PROGRAM, {"sparse": False}),
              ("SAELens {} TopK, use_sparse_activations=True", SAELENS_PROGRAM, {"sparse": True}),
              ("sparsify {}, adam + AuxK 1/32 (as rlsae)", SPARSIFY_PROGRAM,
               {"optimizer": "adam", "auxk_alpha": 1 / 32}),
              ("sparsify {}, defaults (signum, no AuxK)", SPARSIFY_PROGRAM,
               {"optimizer": "signum", "auxk_alpha": 0.0})]
    if python is not None:
        with tempfile.TemporaryDirectory() as tmp:
            npy = Path(tmp) / "activations.npy"
            np.save(npy, x)
            for name, program, own in others:
                try:
                    theirs[name] = other_speed(python, program, npy, args, **own)
                    rows.append([name.format(theirs[name]["version"]), f"{theirs[name]['samples_per_s']:,.0f}",
                                 f"{theirs[name]['dead_fraction']:.1%}"])
                except RuntimeError as error:
                    rows.append([name.format(""), f"fails: {error}", ""])
    for library in ("SAELens", "sparsify"):
        measured = {name: r for name, r in theirs.items() if name.startswith(library)}
        if measured:
            best = max(measured, key=lambda name: measured[name]["samples_per_s"])
            ratio = ours["samples_per_s"] / measured[best]["samples_per_s"]
            rows.append([f"ratio rlsae (advantage_weight=0) / {best.format(measured[best]['version'])}",
                         f"{ratio:.2f}x", ""])
        else:
            rows.append([library, "not measured (see stderr)", ""])

    notes = (
        f"Data: {source}, float32 [n, 512], the same .npy on both sides; {args.d_sae} latents, k={args.k}, "
        f"batch {args.batch_size}, CPU, {args.threads} torch threads, torch {torch.__version__} on every side "
        f"(SAELens and sparsify in their own venv, {args.venv.name}/). Each side: {args.warmup} untimed steps, then "
        f"{args.steps} timed steps, one after the other in one run; load average {load[0]:.1f} at the start of "
        f"the others' runs, {os.getloadavg()[0]:.1f} at the end (2 cores shared with other jobs).\n"
        "rlsae timed `Trainer.train_step(trainer.next_batch())`: random batch gather + input scaling, sparse "
        "Top-K forward, FVU (+ the advantage-aware term for the default row), AuxK, backward, decoder-gradient "
        "projection, Adam, decoder renormalisation, dead-latent counters.\n"
        "SAELens timed the body of `SAETrainer.fit()` without wandb/progress bar: `next(data_provider)` (the "
        "same random batch gather), `SAETrainer.step()` = `TopKTrainingSAE.training_forward_pass` (MSE + its "
        "TopK aux loss, defaults: aux_loss_coefficient 1, rescale_acts_by_decoder_norm), backward, grad-norm "
        "clipping, Adam, schedulers, dead-latent counters. `default` uses dense Top-K activations (SAELens' "
        "default); the ratio is against the faster SAELens row.\n"
        "sparsify timed its Trainer.fit() step for the fvu loss without the model forward and hooks: decoder "
        "renormalisation, SparseCoder.forward (Top-K, sparse decode, AuxK on dead latents), loss, backward, "
        "decoder-gradient projection, optimizer + scheduler, dead counters. `adam + AuxK 1/32` is the same work "
        "as rlsae's step (torch Adam: bitsandbytes is not installed); `defaults` is its default optimizer "
        "(sign SGD with schedule-free momentum) and no AuxK (auxk_alpha 0). Its k decay is off (default).\n"
        f"All count a latent dead after {args.dead_window + 1} silent steps and then run AuxK on it; the "
        "dead column is the dead fraction at the last timed step."
    )
    append_section("SAE training throughput vs SAELens and sparsify (CPU)", ["trainer", "samples/s", "dead latents"],
                   rows, notes)


if __name__ == "__main__":
    main()
