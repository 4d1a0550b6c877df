"""Does storing the agent in float16 change how it plays? Greedy agreement and paired full-game scores.

    git show 7646c6d:src/rlsae/agents/default/model.safetensors > /tmp/fp32.safetensors
    python benchmarks/half_precision_agent.py /tmp/fp32.safetensors --episodes 30

The float32 weights play ``--episodes`` games (epsilon 0.05, as evaluate-agent) while the same weights
rounded to float16 (then computed in float32, as ``load_agent`` does) choose an action on every state they
see: the share of equal greedy actions is the agreement. Then the rounded network plays the same games
(same seeds: same no-op starts and random-action draws until the first differing action).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from _report import append_section
from rlsae.agents.evaluate import play_games
from rlsae.agents.qnet import QNetwork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="the agent's float32 model.safetensors")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    state = load_file(str(args.weights))
    n_actions, layer_norm = state["head.weight"].shape[0], "fc_norm.weight" in state
    full = QNetwork(n_actions, layer_norm).eval()
    full.load_state_dict(state)
    half = copy.deepcopy(full)
    half.load_state_dict({k: v.half() for k, v in state.items()})
    same, seen, gaps = 0, 0, []

    @torch.no_grad()
    def act_full(obs: np.ndarray) -> np.ndarray:
        nonlocal same, seen
        x = torch.from_numpy(obs)
        q, q_half = full(x), half(x)
        action = q.argmax(1)
        same += int((q_half.argmax(1) == action).sum())
        seen += len(action)
        gaps.append((q - q_half).abs().max(1).values.numpy())
        return action.numpy()

    @torch.no_grad()
    def act_half(obs: np.ndarray) -> np.ndarray:
        return half(torch.from_numpy(obs)).argmax(1).numpy()

    kw = dict(episodes=args.episodes, seed=args.seed, progress=False)
    scores_full = np.asarray(play_games(act_full, **kw))
    scores_half = np.asarray(play_games(act_half, **kw))
    sem = lambda s: s.std(ddof=1) / np.sqrt(len(s))  # noqa: E731
    gap = np.concatenate(gaps)
    append_section(
        "The shipped agent in float16", ["weights", "games", "mean score", "+- s.e.", "greedy agreement",
                                         "max abs Q change (median / max over states)"],
        [["float32", str(len(scores_full)), f"{scores_full.mean():,.1f}", f"{sem(scores_full):.0f}", "-", "-"],
         ["float16", str(len(scores_half)), f"{scores_half.mean():,.1f}", f"{sem(scores_half):.0f}",
          f"{same / seen:.2%} of {seen:,} states", f"{np.median(gap):.2g} / {gap.max():.2g}"]],
        notes="Agreement: on the states the float32 agent visited, the float16-rounded network's greedy action "
              "equals the float32 one's. The games use the same seeds; the scores differ only once the two "
              "networks choose differently.")


if __name__ == "__main__":
    main()
