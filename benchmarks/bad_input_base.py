"""The bad-input sweep's case type and the tiny real outputs every case reads (built once with the CLI)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 90
BASE = "{base}"  # in a case's command line: the shared outputs' folder
RUNNER = "import sys\n{fault}\nfrom rlsae.cli import main\nsys.exit(main(sys.argv[1:]))"
TEMPORARY = (".tmp", ".partial", ".probe")
METRICS = ("fvu", "mse", "l0", "dead_fraction", "q_rel_error", "score_spliced")


@dataclass
class Case:
    kind: str                      # the kind of bad input
    name: str
    argv: list[str]                # the rlsae command line; "{case}" is this case's own folder
    expect: str = "error"          # "error": a mistake to refuse; "ok": a request to carry out
    message: str = ""              # a substring the one-line error must hold (a misleading one is poor)
    says: str = ""                 # a substring stdout must hold when the request is carried out
    prepare: Callable[[Path], None] | None = None   # make the case's damaged inputs in its folder
    protect: tuple[str, ...] = ()  # folders (relative to the case folder) that must be unchanged
    fault: str = ""                # Python run in the process before rlsae (fault injection)
    tmpfs_kb: int = 0              # "{case}/full" is a tmpfs of this many KiB (< 0: read-only)
    fill: bool = False             # fill that tmpfs up to its last 2 KiB first
    concurrent: list[str] | None = None  # a process holding the same output while this case runs


@dataclass
class Result:
    case: Case
    verdict: str
    why: str
    code: int | None
    seconds: float
    stderr: str = field(repr=False, default="")
    stdout: str = field(repr=False, default="")


# ---------------------------------------------------------------- the shared tiny outputs

def rlsae(*argv: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rlsae.cli", *argv], cwd=cwd, capture_output=True, text=True,
                          env=child_env())
    if proc.returncode != 0:
        raise SystemExit(f"setup failed: rlsae {' '.join(argv)}\n{proc.stderr}")


def child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def build_base(base: Path) -> None:
    """The shared outputs every case reads (made once; kept between runs)."""
    if (base / "done").exists():
        return
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    import torch

    from rlsae.agents.checkpoint import save_checkpoint
    from rlsae.agents.qnet import QNetwork

    torch.manual_seed(0)
    save_checkpoint(base / "agent", QNetwork(9), {"game": "ms_pacman", "algorithm": "none", "step": 0})
    rlsae("record", "--checkpoint", "agent", "--out", "rec", "--steps", "320", "--num-envs", "2",
          "--chunk-size", "128", "--epsilon", "0.5", "--no-progress", cwd=base)
    rlsae("train-sae", "--recording", "rec", "--out", "sae", "--d-sae", "32", "--k", "4", "--samples", "2048",
          "--batch-size", "128", "--device", "cpu", "--heldout-fraction", "0.25", "--no-progress", cwd=base)
    rlsae("evaluate", "--sae", "sae", "--episodes", "0", "--no-progress", cwd=base)
    rlsae("interpret", "--sae", "sae", "--out", "interp", "--n-top", "4", "--n-per-quantile", "1",
          "--features-per-cluster", "4", "--no-progress", cwd=base)
    rlsae("steer", "--sae", "sae", "--interpret", "interp", "--feature", "0", "--episodes", "1", "--num-envs", "1",
          "--max-steps", "30", "--gif-steps", "10", "--out", "steer", "--no-progress", cwd=base)
    rlsae("browse", "--interpret", "interp", "--out", "browser", "--workers", "1", "--no-progress", cwd=base)
    (base / "done").write_text("")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
