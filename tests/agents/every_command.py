"""An agent through every command from the CLI - record, train-sae, evaluate, interpret, steer and browse - as
the tests of each agent format and of `train-agent --algorithm ppo` run it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlsae.analysis.results import load_result
from rlsae.cli import main
from rlsae.record import Recording


def run(*argv: str) -> None:
    assert main([*argv, "--no-progress"] if argv[0] != "evaluate-agent" else list(argv)) == 0, argv


def through_every_command(name: str, tmp_path: Path, act: str) -> dict[str, object]:
    """record, train-sae, evaluate, interpret, steer and browse with the agent ``name``: the evaluation."""
    rec, sae, interp = tmp_path / "rec", tmp_path / "sae", tmp_path / "interpret"
    run("record", "--agent", name, "--out", str(rec), "--steps", "600", "--num-envs", "2", "--epsilon", "0.3",
        "--act", act)
    run("train-sae", "--recording", str(rec), "--out", str(sae), "--d-sae", "128", "--k", "8", "--samples", "8192")
    run("evaluate", "--sae", str(sae), "--episodes", "1", "--num-envs", "1", "--act", act)
    run("interpret", "--sae", str(sae), "--out", str(interp), "--n-top", "4", "--n-per-quantile", "1")
    feature = int(np.argmax(load_result(interp).density))
    run("steer", "--sae", str(sae), "--feature", str(feature), "--interpret", str(interp), "--out",
        str(tmp_path / "steer"), "--episodes", "1", "--num-envs", "1", "--max-steps", "100", "--gif-steps", "3",
        "--act", act)
    run("browse", "--interpret", str(interp), "--steering", str(tmp_path / "steer"), "--out",
        str(tmp_path / "browser"), "--workers", "1")
    assert (tmp_path / "browser" / "index.html").is_file()
    return json.loads((sae / "evaluation.json").read_text())


def check_recorded_outputs(recording: Path, network: nn.Module, steps: tuple[int, int]) -> Recording:
    """The recording's stored outputs (Q-values or logits) at ``steps`` are ``network``'s on the re-created frame
    stacks: the agent was read as it plays."""
    rec = Recording.open(recording)
    idx = np.array(steps)
    with torch.no_grad():
        outputs = network(torch.from_numpy(rec.observations(idx))).numpy()
    np.testing.assert_allclose(rec.q_values[idx], outputs, rtol=1e-5, atol=1e-5)
    return rec


def check_policy_evaluation(evaluation: dict[str, object]) -> None:
    """A policy's evaluation: its KL and agreement, and none of the Q-value numbers."""
    assert evaluation["policy_kl"] >= 0 and 0 <= evaluation["action_agreement"] <= 1  # type: ignore[operator]
    assert evaluation.get("regret") is None and evaluation.get("q_rel_error") is None
