"""Shared by the benchmarks: machine description and appending result rows to BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    from rlsae.common.runtime import cpu_has_bf16

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    bf16 = "native bf16" if cpu_has_bf16() else "no native bf16"
    return f"{cpu} ({bf16}), {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def command() -> str:
    return " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def append_section(title: str, header: list[str], rows: list[list[str]], notes: str = "") -> None:
    """Append a dated markdown table, with the command and machine that produced it."""
    lines = [f"\n### {title} ({date.today().isoformat()})\n", f"Command: `{command()}`  ",
             f"Machine: {machine()}\n", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if notes:
        lines += ["", notes]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(BENCHMARKS_MD, "a") as f:
        f.write(text)


def raw_steps_per_second(num_envs: int, steps: int, training: bool) -> float:
    """Random-action stepping of the agents' vector env: the ceiling a trainer or recorder can reach."""
    from rlsae.envs.atari import make_vector_env

    env = make_vector_env("ms_pacman", num_envs, training=training)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    iterations = max(1, steps // num_envs)
    start = time.perf_counter()
    for _ in range(iterations):
        env.step(rng.integers(0, 9, num_envs))
    elapsed = time.perf_counter() - start
    env.close()
    return iterations * num_envs / elapsed
