"""The shipped agent as a CleanRL checkpoint: is ``--agent cleanrl-dqn:FILE`` the same agent, and does the
shipped SAE keep it playing?

    python benchmarks/cleanrl_layout.py --steps 20000 --episodes 8

The shipped weights are written under pqn_atari's names (``rlsae.agents.formats.as_cleanrl``) and saved as
CleanRL saves them. Both agents record ``--steps`` steps with the same seed: the activations and actions
must be identical. Then ``rlsae evaluate`` runs the shipped SAE (2048 latents, k=32) on the CleanRL
recording, with the CleanRL checkpoint rebuilt from it: greedy agreement on held-out states and the
spliced score against the clean one over ``--episodes`` games per condition.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from _report import append_section
from rlsae.agents.checkpoint import load_agent
from rlsae.agents.formats import as_cleanrl
from rlsae.cli import main as rlsae
from rlsae.record import Recording
from rlsae.sae.evaluation import Evaluation
from rlsae.sae.io import shipped_sae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--num-envs", type=int, default=16)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cleanrl-layout-"))
    model, _ = load_agent(None)
    torch.save(as_cleanrl(model), root / "shipped.cleanrl_model")
    agent = f"cleanrl-dqn:{root / 'shipped.cleanrl_model'}"
    common = ["--steps", str(args.steps), "--num-envs", str(args.num_envs), "--no-progress"]
    assert rlsae(["record", "--out", str(root / "rlsae"), *common]) == 0
    assert rlsae(["record", "--agent", agent, "--out", str(root / "cleanrl"), *common]) == 0
    ours, theirs = Recording.open(root / "rlsae"), Recording.open(root / "cleanrl")
    n = len(ours.actions)
    gap = max(float(np.abs(ours.activations[a:a + 8192] - theirs.activations[a:a + 8192]).max())
              for a in range(0, n, 8192))
    same_actions = bool(np.array_equal(ours.actions[:n], theirs.actions[:n]))
    sae = root / "sae"
    shutil.copytree(shipped_sae(), sae)
    assert rlsae(["evaluate", "--sae", str(sae), "--recording", str(root / "cleanrl"), "--episodes",
                  str(args.episodes), "--num-envs", str(args.num_envs), "--no-progress"]) == 0
    result = Evaluation.load(sae / "evaluation.json")
    append_section(
        "The shipped agent as a CleanRL pqn_atari checkpoint (issue 23)",
        ["agent", "steps recorded", "max abs activation difference", "same actions", "SAE", "held-out states",
         "FVU", "greedy agreement (all / large-gap)", "spliced / clean score", "games per condition"],
        [[f"`{agent.split(':')[0]}:shipped.cleanrl_model` (layer {theirs.manifest['layer']})", f"{n:,}",
          f"{gap:.3g}", "yes" if same_actions else "no", "shipped, 2048/k=32", f"{result.states:,}",
          f"{result.fvu:.3f}", f"{result.action_agreement:.1%} / {result.action_agreement_large_gap:.1%}",
          f"{result.score_spliced:,.0f} / {result.score_clean:,.0f} ({result.score_ratio:.0%})",
          str(result.episodes)]],
        "Both recordings use the same seed; the shipped SAE was trained on the shipped agent's own demo recording "
        "(80k states, 2M samples), not on this one.")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
