"""train-agent throughput relative to raw vector-env stepping, same env count, same run.

    python benchmarks/train_throughput.py --num-envs 16 32 --steps 20000

The ratio says how close training gets to the environment's ceiling (issue 2's goal: >= 0.8).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _report import append_section, raw_steps_per_second
from rlsae.agents.train import TrainAgentConfig, train_agent


def train_steps_per_second(algorithm: str, num_envs: int, steps: int, device: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainAgentConfig(algorithm=algorithm, out=Path(tmp), total_steps=steps, num_envs=num_envs,
                               device=device, eval_every=10**12, save_every=10**12, progress=False,
                               learning_starts=1000)
        start = time.perf_counter()
        train_agent(cfg)
        return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--algorithm", default="pqn", choices=["pqn", "dqn"])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    rows = []
    for n in args.num_envs:
        raw = raw_steps_per_second(n, args.steps, training=True)
        train = train_steps_per_second(args.algorithm, n, args.steps, args.device)
        rows.append([str(n), f"{raw:,.0f}", f"{train:,.0f}", f"{train / raw:.2f}"])
    append_section(f"train-agent ({args.algorithm}) vs raw env stepping",
                   ["envs", "raw env steps/s", "training steps/s", "ratio"], rows)


if __name__ == "__main__":
    main()
