"""RL fidelity: how well the agent plays when a layer is replaced by an SAE's reconstruction.

The RL analogue of "CE loss recovered": full-game scores of the clean agent, the spliced agent, and two
ablations (the layer zeroed, or held at its mean activation), all on the same seeds, so that
    recovered = (spliced - ablated) / (clean - ablated)
says how much of the layer's contribution to playing well the SAE keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rlsae.agents.evaluate import choose, play_games, summarize
from rlsae.common.hooks import HookFn, hooked
from rlsae.envs.atari import DEFAULT_GAME

Policy = Callable[[np.ndarray], np.ndarray]


def hooked_policy(model: nn.Module, hooks: dict[str, HookFn], device: str = "cpu", act: str = "greedy",
                  seed: int = 1) -> Policy:
    """The policy of ``model`` (greedy or sampled, ``choose``) run with ``hooks`` applied to its layers."""
    rng = np.random.default_rng([seed, 1])

    @torch.no_grad()
    def policy(obs: np.ndarray) -> np.ndarray:
        with hooked(model, hooks):
            return choose(model(torch.from_numpy(obs).to(device)), act, rng)
    return policy


def splice(sae: nn.Module) -> HookFn:
    """Replace the layer's output by the SAE's reconstruction of it."""
    return lambda act: sae.decode(sae.encode(act))


def constant(value: torch.Tensor) -> HookFn:
    """Replace the layer's output by a fixed vector (zero or mean ablation)."""
    return lambda act: value.to(act).expand_as(act)


def recovered(spliced: float, clean: float, ablated: float) -> float:
    gap = clean - ablated
    return float((spliced - ablated) / gap) if abs(gap) > 1e-9 else float("nan")


def game_fidelity(model: nn.Module, layer: str, sae: nn.Module, mean_activation: torch.Tensor, *,
                  episodes: int = 30, game: str = DEFAULT_GAME, num_envs: int = 16, epsilon: float = 0.05,
                  seed: int = 1, device: str = "cpu", progress: bool = True, act: str = "greedy") -> dict[str, float]:
    """Mean full-game score of the clean, spliced, zero- and mean-ablated agents, and recovered fractions;
    ``act`` "sample" draws a policy's actions from its logits (the same draws' seed in every condition)."""
    conditions: dict[str, dict[str, HookFn]] = {
        "clean": {},
        "spliced": {layer: splice(sae)},
        "zero_ablation": {layer: constant(torch.zeros_like(mean_activation))},
        "mean_ablation": {layer: constant(mean_activation)},
    }
    result: dict[str, float] = {}
    for name, hooks in conditions.items():
        scores = play_games(hooked_policy(model, hooks, device, act, seed), episodes, game=game, num_envs=num_envs,
                            epsilon=epsilon, seed=seed, progress=progress,
                            label=f"playing {name.replace('_', ' ')}")
        summary = summarize(scores)
        result[f"score_{name}"] = summary["mean_score"]
        result[f"score_{name}_std"] = summary["std_score"]
    result["episodes"] = episodes
    result["score_ratio"] = result["score_spliced"] / max(result["score_clean"], 1e-9)
    for ablation in ("zero_ablation", "mean_ablation"):
        result[f"recovered_vs_{ablation}"] = recovered(result["score_spliced"], result["score_clean"],
                                                       result[f"score_{ablation}"])
    return result
