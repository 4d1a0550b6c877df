"""train-sae under torchrun: 2 gloo processes on the CPU end with the weights of one process on the same batches."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlsae.config import from_flags
from rlsae.sae.io import load_sae
from rlsae.sae.train import TrainSAEConfig, train_sae

SETTINGS = {"d_sae": 64, "k": 8, "samples": 24 * 256, "batch_size": 256, "heldout_fraction": 0.25, "lr": 2e-3,
            "log_every": 4, "device": "cpu", "progress": False}


def _flags(settings: dict[str, object]) -> list[str]:
    flags = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag if value else f"--no-{flag[2:]}"] if isinstance(value, bool) else [flag, str(value)]
    return flags


def _torchrun(recording: Path, out: Path, **overrides: object) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "rlsae.sae.distributed", "--recording", str(recording), "--out", str(out),
            *_flags({**SETTINGS, **overrides})]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})


def _max_difference(a: Path, b: Path) -> float:
    one, two = load_sae(a), load_sae(b)
    return max((getattr(one, n) - getattr(two, n)).abs().max().item() for n in ("W_enc", "b_enc", "W_dec", "b_dec"))


# Measured: 1.1e-7 without AuxK, 9.7e-7 with it (24 steps); the bounds leave room for other BLAS builds.
@pytest.mark.parametrize("aux_coef,tolerance", [(0.0, 1e-5), (1 / 32, 1e-4)])
def test_two_processes_train_the_weights_of_one(tiny_recording: Path, tmp_path: Path, aux_coef: float,
                                                tolerance: float) -> None:
    torch.set_num_threads(1)
    single = tmp_path / "single"
    train_sae(from_flags(TrainSAEConfig, {"recording": tiny_recording, "out": single, "aux_coef": aux_coef,
                                          **SETTINGS}))
    proc = _torchrun(tiny_recording, tmp_path / "ddp", arch_option=f"aux_coef={aux_coef}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    difference = _max_difference(single, tmp_path / "ddp")
    # Far from the initialisation (the runs did train), close to each other.
    untrained_gap = (load_sae(single).W_dec - load_sae(tmp_path / "ddp").W_dec.roll(1, 0)).abs().max().item()
    assert difference < tolerance < untrained_gap, (difference, untrained_gap)
    steps = [json.loads(line)["step"] for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(4, 25, 4))  # process 0 alone writes the log
    assert not list((tmp_path / "ddp" / "checkpoint").glob("state.*"))


def test_a_batch_that_does_not_split_is_a_one_line_error(tiny_recording: Path, tmp_path: Path) -> None:
    proc = _torchrun(tiny_recording, tmp_path / "ddp", batch_size=255, samples=255 * 4)
    assert proc.returncode != 0 and "must be a multiple of the 2 processes" in proc.stderr
    assert not re.search(r'File ".*/rlsae/', proc.stderr)  # torchrun reports the exit codes; rlsae no traceback


def test_two_processes_aim_jumprelu_thresholds_as_one(tiny_recording: Path, tmp_path: Path) -> None:
    """--target-l0 shifts the thresholds from the whole batch's pre-activations, gathered from both processes."""
    torch.set_num_threads(1)
    aimed = {"architecture": "jumprelu", "target_l0": 8}
    single = tmp_path / "single"
    train_sae(from_flags(TrainSAEConfig, {"recording": tiny_recording, "out": single, **SETTINGS, **aimed}))
    proc = _torchrun(tiny_recording, tmp_path / "ddp", **aimed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = load_sae(single), load_sae(tmp_path / "ddp")
    assert (one.threshold - two.threshold).abs().max().item() < 1e-4
