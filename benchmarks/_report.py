"""Shared by the benchmarks: machine description and appending result rows to BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sys
from datetime import date
from pathlib import Path

import torch

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


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
