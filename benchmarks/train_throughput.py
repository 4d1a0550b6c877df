"""train-agent throughput: each precision against raw vector-env stepping and the network's own bound.

    python benchmarks/train_throughput.py --num-envs 32 --steps 16384 --precisions fp32/loop fp32 bf16 auto

All settings run in one process, one after the other, on the same machine state. A setting ending in
"/loop" steps the optimizer one tensor at a time, as torch does on a CPU by default and train-agent did
before it asked for foreach. The bound is what
the Q-network alone allows: per agent step PQN trains on ``update_epochs`` samples and runs 1/N of an
acting forward pass at batch N, so bound = 1 / (epochs / training samples/s + acting time / N).
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from _report import append_section, raw_steps_per_second
from rlsae.agents.pqn import make_optimizer
from rlsae.agents.qnet import QNetwork
from rlsae.agents.train import TrainAgentConfig, train_agent
from rlsae.common.runtime import autocast, autocast_dtype, resolve_device


def train_steps_per_second(num_envs: int, steps: int, setting: str, device: str) -> tuple[float, float]:
    """(end to end, steady state) steps/s of one short train-agent run.

    End to end counts start-up and the closing evaluation game, which weigh on short runs; steady state
    is read from the run's own log lines over its second half, the rate a long run trains at.
    """
    precision, _, loop = setting.partition("/")
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch("rlsae.agents.pqn.make_optimizer", functools.partial(make_optimizer, foreach=not loop)):
        cfg = TrainAgentConfig(out=Path(tmp), total_steps=steps, num_envs=num_envs, precision=precision,
                               device=device, eval_every=10**12, eval_episodes=1, save_every=10**12, keep_steps=(),
                               log_every=num_envs * 32, progress=False)
        start = time.perf_counter()
        train_agent(cfg)
        end_to_end = steps / (time.perf_counter() - start)
        lines = [json.loads(line) for line in (Path(tmp) / "log.jsonl").read_text().splitlines()]
    timed = [line for line in lines if "mean_score" not in line]  # the closing evaluation's line counts the game
    first = next(line for line in timed if line["step"] >= steps // 2)
    return end_to_end, (timed[-1]["step"] - first["step"]) / (timed[-1]["wall"] - first["wall"])


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def network_bound(num_envs: int, setting: str, device: str, minibatch: int = 128, epochs: int = 2,
                  reps: int = 20) -> float:
    """Agent steps/s the Q-network's forward/backward passes alone allow (no env, no Python loop)."""
    precision, _, loop = setting.partition("/")
    dtype = autocast_dtype(precision, device)
    model = QNetwork(9, layer_norm=True).to(device)
    optimizer = make_optimizer(model, 2.5e-4, foreach=not loop)
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
    parser.add_argument("--precisions", nargs="+", default=["fp32/loop", "fp32", "bf16", "auto"],
                        help="fp32, bf16 or auto, each optionally with /loop (the per-tensor optimizer)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--repeats", type=int, default=1, help="runs per precision, taking turns; medians shown")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    for n in args.num_envs:
        raw = raw_steps_per_second(n, args.steps, training=True)
        # Precisions take turns, repeat after repeat, so a drift in the machine's state hits them alike.
        runs: dict[str, list[tuple[float, float]]] = {p: [] for p in args.precisions}
        for _ in range(args.repeats):
            for setting in args.precisions:
                runs[setting].append(train_steps_per_second(n, args.steps, setting, device))
        baseline = None
        for setting, measured in runs.items():
            chosen = autocast_dtype(setting.partition("/")[0], device)
            end_to_end, train = (float(np.median(column)) for column in zip(*measured))
            bound = network_bound(n, setting, device)
            baseline = baseline or train
            rows.append([str(n), f"{setting} ({'bf16' if chosen else 'fp32'})", f"{raw:,.0f}", f"{end_to_end:,.0f}",
                         f"{train:,.0f}", " ".join(f"{m[1]:.0f}" for m in measured), f"{train / raw:.2f}",
                         f"{bound:,.0f}", f"{train / bound:.2f}", f"{train / baseline:.2f}x"])
    append_section(f"train-agent (pqn) on {device} by precision vs raw env stepping and the network bound",
                   ["envs", "precision (runs as)", "raw env steps/s", "training steps/s (end to end)",
                    "training steps/s (steady)", "steady, each repeat", "vs raw",
                    "network bound steps/s", "vs bound", f"vs {args.precisions[0]}"], rows)


if __name__ == "__main__":
    main()
