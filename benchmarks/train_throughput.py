"""train-agent throughput: each precision against raw vector-env stepping and the network's own bound.

    python benchmarks/train_throughput.py --num-envs 32 --steps 16384 --precisions fp32 bf16 auto

All settings run in one process, one after the other, on the same machine state. The bound is what
the Q-network alone allows: per agent step PQN trains on ``update_epochs`` samples and runs 1/N of an
acting forward pass at batch N, so bound = 1 / (epochs / training samples/s + acting time / N).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from _report import append_section, raw_steps_per_second
from rlsae.agents.qnet import QNetwork
from rlsae.agents.train import TrainAgentConfig, train_agent
from rlsae.common.runtime import autocast, autocast_dtype, resolve_device


def train_steps_per_second(num_envs: int, steps: int, precision: str, device: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainAgentConfig(out=Path(tmp), total_steps=steps, num_envs=num_envs, precision=precision,
                               device=device, eval_every=10**12, eval_episodes=1, save_every=10**12, keep_steps=(),
                               progress=False)
        start = time.perf_counter()
        train_agent(cfg)  # ends with one evaluation game, a small share of the time at these step counts
        return steps / (time.perf_counter() - start)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def network_bound(num_envs: int, precision: str, device: str, minibatch: int = 128, epochs: int = 2,
                  reps: int = 20) -> float:
    """Agent steps/s the Q-network's forward/backward passes alone allow (no env, no Python loop)."""
    dtype = autocast_dtype(precision, device)
    model = QNetwork(9, layer_norm=True).to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=2.5e-4)
    obs = torch.randint(0, 256, (minibatch, 4, 84, 84), dtype=torch.uint8, device=device)
    act, target = torch.randint(0, 9, (minibatch,), device=device), torch.randn(minibatch, device=device)

    def train_step() -> None:
        with autocast(device, dtype):
            q = model(obs).gather(1, act[:, None]).squeeze(1)
        loss = F.mse_loss(q.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def act_step() -> None:
        with torch.no_grad(), autocast(device, dtype):
            model(obs[:num_envs])

    timings = []
    for fn in (train_step, act_step):
        for _ in range(3):
            fn()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        synchronize(device)  # CUDA runs asynchronously: time the work, not its queueing
        timings.append((time.perf_counter() - start) / reps)
    train_samples_per_s = minibatch / timings[0]
    return 1.0 / (epochs / train_samples_per_s + timings[1] / num_envs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=16_384)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "auto"])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    for n in args.num_envs:
        raw = raw_steps_per_second(n, args.steps, training=True)
        baseline = None
        for precision in args.precisions:
            chosen = autocast_dtype(precision, device)
            train = train_steps_per_second(n, args.steps, precision, device)
            bound = network_bound(n, precision, device)
            baseline = baseline or train
            rows.append([str(n), f"{precision} ({'bf16' if chosen else 'fp32'})", f"{raw:,.0f}", f"{train:,.0f}",
                         f"{train / raw:.2f}", f"{bound:,.0f}", f"{train / bound:.2f}", f"{train / baseline:.2f}x"])
    append_section(f"train-agent (pqn) on {device} by precision vs raw env stepping and the network bound",
                   ["envs", "precision (runs as)", "raw env steps/s", "training steps/s", "vs raw",
                    "network bound steps/s", "vs bound", f"vs {args.precisions[0]}"], rows)


if __name__ == "__main__":
    main()
