"""What every run records about itself and how it uses the machine."""

from __future__ import annotations

import contextlib
import platform
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import torch

from rlsae import __version__
from rlsae.common.errors import UserError


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """Who/what/when produced an artefact: stored in every manifest."""
    return {"rlsae_version": __version__, "commit": git_commit(), "torch": torch.__version__,
            "python": platform.python_version(), "host": platform.node(),
            "created": datetime.now(UTC).isoformat(timespec="seconds")}


# The agents that play (record, steer, evaluate-agent) default to the CPU that evaluate and interpret use.
PLAY_DEVICE_HELP = "torch device: auto, cpu or cuda[:N]; cpu as in evaluate (GPU rounding can flip near-tied actions)"


def resolve_device(device: str) -> str:
    """'auto' -> cuda when present, else cpu; a CUDA request without a GPU is a user error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is visible to torch here; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"--device must be auto, cpu or cuda[:N], got '{device}'")
    return device


@cache
def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated
    and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` ('auto', 'bf16' or 'fp32') on ``device``; None = fp32."""
    if precision == "fp32":
        return None
    if precision == "auto":
        native = torch.cuda.is_bf16_supported() if device.startswith("cuda") else cpu_has_bf16()
        return torch.bfloat16 if native else None
    return torch.bfloat16


def autocast(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``'s type, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=dtype)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread while playing: a batch of a few frames gains nothing from two, and when the
    other core is busy every op waits for it (measured on 2 cores: 30 ms instead of 1 ms per conv)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
